package auth

import (
	"errors"
	"fmt"
	"github.com/coffer-dev/coffer/internal/config/envvar"
	"strings"
)

// Defaults of docs/configuration.md "auth".
const (
	DefaultWorkspace         = "default"
	DefaultOIDCScopes        = "openid profile email offline_access"
	DefaultDiscoveryCacheTTL = 300
	// DefaultJWKSCacheTTL is how long a fetched key set is used before it
	// is refreshed (seconds).
	DefaultJWKSCacheTTL = 3600
	// DefaultJWKSMaxStale is how long past its TTL the last good key set
	// keeps verifying tokens while the IdP cannot be reached (seconds).
	DefaultJWKSMaxStale = 86400
	// DefaultClockSkew is the allowance on exp, nbf and iat (seconds).
	DefaultClockSkew    = 60
	defaultSubjectClaim = "sub"
	defaultEmailClaim   = "email"
	defaultGroupsClaim  = "groups"
	// cognitoGroupsClaim is AWS Cognito's fixed groups claim, read when the
	// configured one is absent so Cognito works without configuration.
	cognitoGroupsClaim = "cognito:groups"
)

// Config is the auth: section of the configuration file (docs/configuration.md "auth"). Key
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
	// JWKSCacheTTL (seconds) is how long a key set is used before it is
	// refetched; it is refreshed in the background during its last third.
	JWKSCacheTTL int `yaml:"jwks_cache_ttl"`
	// JWKSMaxStale (seconds) is how long past JWKSCacheTTL the last good
	// key set keeps verifying when refreshing it fails.
	JWKSMaxStale int `yaml:"jwks_max_stale"`
	// ClockSkew (seconds) is tolerated on exp, nbf and iat.
	ClockSkew int `yaml:"clock_skew"`
	// SkipAudienceCheck accepts tokens whatever their aud when Audience is
	// empty; it must be set explicitly, since a missing audience is
	// otherwise a startup error. A configured Audience is always checked.
	SkipAudienceCheck bool `yaml:"skip_audience_check"`
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
			JWKSCacheTTL:      DefaultJWKSCacheTTL,
			JWKSMaxStale:      DefaultJWKSMaxStale,
			ClockSkew:         DefaultClockSkew,
		},
	}
}

// Validate returns the startup error for an unusable configuration.
func (c Config) Validate() error {
	switch {
	case c.OIDC.Enabled && strings.TrimSpace(c.OIDC.Issuer) == "":
		return errors.New("auth.oidc.issuer must be set when auth.oidc.enabled is true")
	case c.OIDC.Enabled && strings.TrimSpace(c.OIDC.Audience) == "" && !c.OIDC.SkipAudienceCheck:
		// Without an audience any token the IdP issues to any client
		// (another application's) would be accepted here.
		return errors.New("auth.oidc.audience must be set when auth.oidc.enabled is true " +
			"(the value your IdP puts in the aud claim of tokens for Coffer); " +
			"set auth.oidc.skip_audience_check: true to accept tokens for any audience")
	case c.OIDC.DiscoveryCacheTTL < 0:
		return fmt.Errorf("auth.oidc.discovery_cache_ttl must not be negative, got %d", c.OIDC.DiscoveryCacheTTL)
	case c.OIDC.JWKSCacheTTL < 1:
		return fmt.Errorf("auth.oidc.jwks_cache_ttl must be at least 1 second, got %d", c.OIDC.JWKSCacheTTL)
	case c.OIDC.JWKSMaxStale < 0:
		return fmt.Errorf("auth.oidc.jwks_max_stale must not be negative, got %d", c.OIDC.JWKSMaxStale)
	case c.OIDC.ClockSkew < 0:
		return fmt.Errorf("auth.oidc.clock_skew must not be negative, got %d", c.OIDC.ClockSkew)
	case c.DefaultWorkspace == "":
		return errors.New("auth.default_workspace must not be empty")
	}
	return nil
}

// StringList is a list setting given as a YAML list or one comma-separated
// string.
type StringList = envvar.StringList

var authEnv = []envvar.Var[Config]{
	{Name: "NMP_AUTH_ENABLED", Set: envvar.Bool(func(c *Config) *bool { return &c.Enabled })},
	{Name: "NMP_AUTH_ALLOW_UNSIGNED_JWT", Set: envvar.Bool(func(c *Config) *bool { return &c.AllowUnsignedJWT })},
	{Name: "NMP_AUTH_ADMIN_EMAIL", Set: envvar.String(func(c *Config) *string { return &c.AdminEmail })},
	{Name: "NMP_AUTH_DEFAULT_WORKSPACE", Set: envvar.String(func(c *Config) *string { return &c.DefaultWorkspace })},
}

// oidcEnv are the auth.oidc keys; each is read as NMP_AUTH_OIDC_<KEY> and
// as its alias NMP_AUTH_OIDC__<KEY>.
var oidcEnv = []envvar.Var[Config]{
	{Name: "ENABLED", Set: envvar.Bool(func(c *Config) *bool { return &c.OIDC.Enabled })},
	{Name: "ISSUER", Set: envvar.String(func(c *Config) *string { return &c.OIDC.Issuer })},
	{Name: "ADDITIONAL_ISSUERS", Set: envvar.List(func(c *Config) *StringList { return &c.OIDC.AdditionalIssuers })},
	{Name: "CLIENT_ID", Set: envvar.String(func(c *Config) *string { return &c.OIDC.ClientID })},
	{Name: "AUDIENCE", Set: envvar.String(func(c *Config) *string { return &c.OIDC.Audience })},
	{Name: "JWKS_URI", Set: envvar.String(func(c *Config) *string { return &c.OIDC.JWKSURI })},
	{Name: "AUTHORIZATION_ENDPOINT", Set: envvar.String(func(c *Config) *string { return &c.OIDC.AuthorizationEndpoint })},
	{Name: "TOKEN_ENDPOINT", Set: envvar.String(func(c *Config) *string { return &c.OIDC.TokenEndpoint })},
	{Name: "DEVICE_AUTHORIZATION_ENDPOINT", Set: envvar.String(func(c *Config) *string { return &c.OIDC.DeviceAuthorizationEndpoint })},
	{Name: "SUBJECT_CLAIM", Set: envvar.String(func(c *Config) *string { return &c.OIDC.SubjectClaim })},
	{Name: "EMAIL_CLAIM", Set: envvar.String(func(c *Config) *string { return &c.OIDC.EmailClaim })},
	{Name: "GROUPS_CLAIM", Set: envvar.String(func(c *Config) *string { return &c.OIDC.GroupsClaim })},
	{Name: "DEFAULT_SCOPES", Set: envvar.String(func(c *Config) *string { return &c.OIDC.DefaultScopes })},
	{Name: "SCOPE_PREFIX", Set: envvar.String(func(c *Config) *string { return &c.OIDC.ScopePrefix })},
	{Name: "DISCOVERY_CACHE_TTL", Set: envvar.Int(func(c *Config) *int { return &c.OIDC.DiscoveryCacheTTL })},
	{Name: "JWKS_CACHE_TTL", Set: envvar.Int(func(c *Config) *int { return &c.OIDC.JWKSCacheTTL })},
	{Name: "JWKS_MAX_STALE", Set: envvar.Int(func(c *Config) *int { return &c.OIDC.JWKSMaxStale })},
	{Name: "CLOCK_SKEW", Set: envvar.Int(func(c *Config) *int { return &c.OIDC.ClockSkew })},
	{Name: "SKIP_AUDIENCE_CHECK", Set: envvar.Bool(func(c *Config) *bool { return &c.OIDC.SkipAudienceCheck })},
}

// ApplyEnv overrides c with the environment variables of docs/configuration.md "auth".
// lookup is os.LookupEnv outside tests. A variable that is set, even to "",
// overrides the file. When both NMP_AUTH_OIDC_<KEY> and the alias
// NMP_AUTH_OIDC__<KEY> are set, the single-underscore name wins.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	vars := append([]envvar.Var[Config](nil), authEnv...)
	for _, prefix := range []string{"NMP_AUTH_OIDC__", "NMP_AUTH_OIDC_"} {
		for _, e := range oidcEnv {
			vars = append(vars, envvar.Var[Config]{Name: prefix + e.Name, Set: e.Set})
		}
	}
	return envvar.Apply(c, vars, lookup)
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

// StartupWarnings returns the WARN lines of docs/auth.md "Platform services: reading values" and "Running behind an OIDC provider" for this
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
	if c.OIDC.Enabled && c.OIDC.SkipAudienceCheck && strings.TrimSpace(c.OIDC.Audience) == "" {
		out = append(out, "auth.oidc.skip_audience_check is true: tokens the IdP issued for any application are accepted. Set auth.oidc.audience instead.")
	}
	return out
}
