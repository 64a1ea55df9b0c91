package config

import (
	"fmt"

	"github.com/coffer-dev/coffer/internal/config/envvar"
)

// HTTP bounds what slow, idle or numerous clients can hold (Coffer
// addition; docs/configuration.md "coffer.http behind a load balancer").
// Each key is declared once, in httpKeys; the yaml tags here only let the
// file decoder find the fields.
type HTTP struct {
	// ReadHeaderTimeoutSeconds closes connections whose request headers
	// do not arrive in time (slowloris).
	ReadHeaderTimeoutSeconds int `yaml:"read_header_timeout_seconds"`
	// ReadTimeoutSeconds bounds reading a whole request, body included.
	ReadTimeoutSeconds int `yaml:"read_timeout_seconds"`
	// WriteTimeoutSeconds bounds the time from the end of a request's
	// headers to the end of its response; key rotation restarts it for its
	// answer, since it legitimately runs longer.
	WriteTimeoutSeconds int `yaml:"write_timeout_seconds"`
	// IdleTimeoutSeconds closes a keep-alive connection that carries no
	// request for this long.
	IdleTimeoutSeconds int `yaml:"idle_timeout_seconds"`
	// MaxHeaderBytes bounds a request's line and headers; larger ones get
	// 431.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxInFlight bounds concurrently handled requests; more get 503.
	MaxInFlight int `yaml:"max_in_flight"`
}

// intKey declares one integer setting in one place: its file key (which
// must match the field's yaml tags, as TestIntKeysMatchTheFile checks), its
// environment variable, its default and its smallest valid value.
type intKey struct {
	key   string
	env   string
	def   int
	min   int
	field func(*Config) *int
}

// httpKeys are the coffer.http keys. The defaults suit a service behind a
// load balancer: idle connections outlive the balancer's own idle timeout
// (60 s on AWS ALB and nginx), so the balancer, not Coffer, closes them and
// never sends a request on a connection Coffer is closing; a response may
// take longer than a whole request body may take to arrive.
var httpKeys = []intKey{
	{"coffer.http.read_header_timeout_seconds", "COFFER_HTTP_READ_HEADER_TIMEOUT_SECONDS", 10, 1,
		func(c *Config) *int { return &c.Coffer.HTTP.ReadHeaderTimeoutSeconds }},
	{"coffer.http.read_timeout_seconds", "COFFER_HTTP_READ_TIMEOUT_SECONDS", 30, 1,
		func(c *Config) *int { return &c.Coffer.HTTP.ReadTimeoutSeconds }},
	{"coffer.http.write_timeout_seconds", "COFFER_HTTP_WRITE_TIMEOUT_SECONDS", 60, 1,
		func(c *Config) *int { return &c.Coffer.HTTP.WriteTimeoutSeconds }},
	{"coffer.http.idle_timeout_seconds", "COFFER_HTTP_IDLE_TIMEOUT_SECONDS", 120, 1,
		func(c *Config) *int { return &c.Coffer.HTTP.IdleTimeoutSeconds }},
	// 64 KiB leaves room for an OIDC bearer token with many group claims;
	// below 4 KiB a single ordinary token would not fit.
	{"coffer.http.max_header_bytes", "COFFER_HTTP_MAX_HEADER_BYTES", 64 << 10, 4 << 10,
		func(c *Config) *int { return &c.Coffer.HTTP.MaxHeaderBytes }},
	{"coffer.http.max_in_flight", "COFFER_HTTP_MAX_IN_FLIGHT", 1024, 1,
		func(c *Config) *int { return &c.Coffer.HTTP.MaxInFlight }},
}

// setIntDefaults gives every key its default.
func setIntDefaults(c *Config, keys []intKey) {
	for _, k := range keys {
		*k.field(c) = k.def
	}
}

// intEnvVars binds each key's environment variable.
func intEnvVars(keys []intKey) []envvar.Var[Config] {
	vars := make([]envvar.Var[Config], len(keys))
	for i, k := range keys {
		vars[i] = envvar.Var[Config]{Name: k.env, Set: envvar.Int(k.field)}
	}
	return vars
}

// validateInts names the first key below its smallest valid value.
func validateInts(c *Config, keys []intKey) error {
	for _, k := range keys {
		if v := *k.field(c); v < k.min {
			return fmt.Errorf("%s must be at least %d, got %d", k.key, k.min, v)
		}
	}
	return nil
}

// warnings names coffer.http settings that start but misbehave: with a
// write timeout shorter than the read timeout, a request whose body arrives
// slowly but in time is read and then gets no answer.
func (h HTTP) warnings() []string {
	if h.WriteTimeoutSeconds < h.ReadTimeoutSeconds {
		return []string{fmt.Sprintf("coffer.http.write_timeout_seconds (%d) is shorter than coffer.http.read_timeout_seconds (%d): "+
			"a request whose body takes longer than %d s to arrive is read but gets no answer",
			h.WriteTimeoutSeconds, h.ReadTimeoutSeconds, h.WriteTimeoutSeconds)}
	}
	return nil
}
