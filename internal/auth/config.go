package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Defaults of auth.md §10.
const (
	DefaultWorkspace         = "default"
	DefaultOIDCScopes        = "openid profile email offline_access"
	DefaultDiscoveryCacheTTL = 300
	defaultSubjectClaim      = "sub"
	defaultEmailClaim        = "email"
	defaultGroupsClaim       = "groups"
	// cognitoGroupsClaim is AWS Cognito's fixed groups claim, read when the
	// configured one is absent so Cognito works without configuration.
	cognitoGroupsClaim = "cognito:groups"
)

// Config is the auth: section of the configuration file (auth.md §10). Key
// names are the reference's, so a NeMo Platform config.yaml works as is;
// its policy-engine keys are unknown here and ignored by the decoder.
type Config struct {
	Enabled          bool       `yaml:"enabled"`
	AllowUnsignedJWT bool       `yaml:"allow_unsigned_jwt"`
	AdminEmail       string     `yaml:"admin_email"`
	DefaultWorkspace string     `yaml:"default_workspace"`
	OIDC             OIDCConfig `yaml:"oidc"`
}

// OIDCConfig is auth.oidc: the IdP whose tokens are accepted. Empty strings
// mean "unset".
type OIDCConfig struct {
	Enabled                     bool       `yaml:"enabled"`
	Issuer                      string     `yaml:"issuer"`
	AdditionalIssuers           StringList `yaml:"additional_issuers"`
	ClientID                    string     `yaml:"client_id"`
	Audience                    string     `yaml:"audience"`
	JWKSURI                     string     `yaml:"jwks_uri"`
	AuthorizationEndpoint       string     `yaml:"authorization_endpoint"`
	TokenEndpoint               string     `yaml:"token_endpoint"`
	DeviceAuthorizationEndpoint string     `yaml:"device_authorization_endpoint"`
	SubjectClaim                string     `yaml:"subject_claim"`
	EmailClaim                  string     `yaml:"email_claim"`
	GroupsClaim                 string     `yaml:"groups_claim"`
	DefaultScopes               string     `yaml:"default_scopes"`
	ScopePrefix                 string     `yaml:"scope_prefix"`
	// DiscoveryCacheTTL is in seconds; 0 disables caching.
	DiscoveryCacheTTL int `yaml:"discovery_cache_ttl"`
}

// DefaultConfig returns the defaults; decode the YAML onto it so that keys
// the file omits keep them.
func DefaultConfig() Config {
	return Config{
		DefaultWorkspace: DefaultWorkspace,
		OIDC: OIDCConfig{
			SubjectClaim:      defaultSubjectClaim,
			EmailClaim:        defaultEmailClaim,
			GroupsClaim:       defaultGroupsClaim,
			DefaultScopes:     DefaultOIDCScopes,
			DiscoveryCacheTTL: DefaultDiscoveryCacheTTL,
		},
	}
}

// Validate returns the startup error for an unusable configuration.
func (c Config) Validate() error {
	switch {
	case c.OIDC.Enabled && strings.TrimSpace(c.OIDC.Issuer) == "":
		return errors.New("auth.oidc.issuer must be set when auth.oidc.enabled is true")
	case c.OIDC.DiscoveryCacheTTL < 0:
		return fmt.Errorf("auth.oidc.discovery_cache_ttl must not be negative, got %d", c.OIDC.DiscoveryCacheTTL)
	case c.DefaultWorkspace == "":
		return errors.New("auth.default_workspace must not be empty")
	}
	return nil
}

// StringList accepts a YAML list or a single comma-separated string, as the
// environment does.
type StringList []string

// UnmarshalYAML accepts both forms.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = parseList(n.Value)
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// envVar binds one environment variable to a setting.
type envVar struct {
	name string
	set  func(c *Config, v string) error
}

func text(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func boolean(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := parseBool(v)
		*p(c) = b
		return err
	}
}

var authEnv = []envVar{
	{"NMP_AUTH_ENABLED", boolean(func(c *Config) *bool { return &c.Enabled })},
	{"NMP_AUTH_ALLOW_UNSIGNED_JWT", boolean(func(c *Config) *bool { return &c.AllowUnsignedJWT })},
	{"NMP_AUTH_ADMIN_EMAIL", text(func(c *Config) *string { return &c.AdminEmail })},
	{"NMP_AUTH_DEFAULT_WORKSPACE", text(func(c *Config) *string { return &c.DefaultWorkspace })},
}

// oidcEnv are the auth.oidc keys; each is read as NMP_AUTH_OIDC_<KEY> and
// as its alias NMP_AUTH_OIDC__<KEY>.
var oidcEnv = []envVar{
	{"ENABLED", boolean(func(c *Config) *bool { return &c.OIDC.Enabled })},
	{"ISSUER", text(func(c *Config) *string { return &c.OIDC.Issuer })},
	{"ADDITIONAL_ISSUERS", func(c *Config, v string) error { c.OIDC.AdditionalIssuers = parseList(v); return nil }},
	{"CLIENT_ID", text(func(c *Config) *string { return &c.OIDC.ClientID })},
	{"AUDIENCE", text(func(c *Config) *string { return &c.OIDC.Audience })},
	{"JWKS_URI", text(func(c *Config) *string { return &c.OIDC.JWKSURI })},
	{"AUTHORIZATION_ENDPOINT", text(func(c *Config) *string { return &c.OIDC.AuthorizationEndpoint })},
	{"TOKEN_ENDPOINT", text(func(c *Config) *string { return &c.OIDC.TokenEndpoint })},
	{"DEVICE_AUTHORIZATION_ENDPOINT", text(func(c *Config) *string { return &c.OIDC.DeviceAuthorizationEndpoint })},
	{"SUBJECT_CLAIM", text(func(c *Config) *string { return &c.OIDC.SubjectClaim })},
	{"EMAIL_CLAIM", text(func(c *Config) *string { return &c.OIDC.EmailClaim })},
	{"GROUPS_CLAIM", text(func(c *Config) *string { return &c.OIDC.GroupsClaim })},
	{"DEFAULT_SCOPES", text(func(c *Config) *string { return &c.OIDC.DefaultScopes })},
	{"SCOPE_PREFIX", text(func(c *Config) *string { return &c.OIDC.ScopePrefix })},
	{"DISCOVERY_CACHE_TTL", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not an integer")
		}
		c.OIDC.DiscoveryCacheTTL = n
		return nil
	}},
}

// ApplyEnv overrides c with the environment variables of auth.md §10.
// lookup is os.LookupEnv outside tests. A variable that is set, even to "",
// overrides the file. When both NMP_AUTH_OIDC_<KEY> and the alias
// NMP_AUTH_OIDC__<KEY> are set, the single-underscore name wins.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	vars := append([]envVar(nil), authEnv...)
	for _, prefix := range []string{"NMP_AUTH_OIDC__", "NMP_AUTH_OIDC_"} {
		for _, e := range oidcEnv {
			vars = append(vars, envVar{prefix + e.name, e.set})
		}
	}
	for _, e := range vars {
		v, ok := lookup(e.name)
		if !ok {
			continue
		}
		if err := e.set(c, v); err != nil {
			return fmt.Errorf("environment variable %s: %v", e.name, err)
		}
	}
	return nil
}

// parseBool accepts true/false, 1/0, yes/no and on/off in any case.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, errors.New("not a boolean (true/false, 1/0, yes/no, on/off)")
}

// parseList accepts a JSON array or a comma-separated string.
func parseList(v string) []string {
	v = strings.TrimSpace(v)
	var arr []string
	if strings.HasPrefix(v, "[") && json.Unmarshal([]byte(v), &arr) == nil {
		return arr
	}
	return splitCommas(v)
}

// ignoredKeys are reference settings of the external policy engine, which
// Coffer replaces with an in-process evaluator.
var ignoredKeys = []string{"propagation_poll_interval_seconds", "policy_data_refresh_interval", "bundle_cache_seconds", "port"}

// IsIgnoredKey reports whether key, directly under auth:, is a reference
// setting Coffer accepts and ignores (the caller logs it at INFO).
func IsIgnoredKey(key string) bool {
	if strings.HasPrefix(key, "policy_decision_point_") || strings.HasPrefix(key, "embedded_pdp_") {
		return true
	}
	for _, k := range ignoredKeys {
		if k == key {
			return true
		}
	}
	return false
}

// StartupWarnings returns the WARN lines of auth.md §3.2 and §3.4 for this
// configuration and the trusted header networks, for the caller to log.
func StartupWarnings(c Config, trusted Networks) []string {
	var out []string
	if c.Enabled && !trusted.OnlyLoopback() {
		out = append(out, "X-NMP-Principal-* headers are trusted from "+trusted.String()+
			"; any client in these networks can act as any principal, including service principals. Restrict coffer.auth.trusted_header_networks to your service network.")
	}
	if c.AllowUnsignedJWT {
		out = append(out, "auth.allow_unsigned_jwt is enabled. Unsigned JWTs (alg=none) are accepted; use only for local/testing.")
	}
	return out
}
