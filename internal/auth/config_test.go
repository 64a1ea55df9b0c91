package auth

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestConfigYAML(t *testing.T) {
	const file = `
enabled: yes
allow_unsigned_jwt: false
admin_email: root@example.org
policy_decision_point_base_url: http://pdp:8181
embedded_pdp_enabled: true
port: 8181
oidc:
  enabled: true
  issuer: https://idp.example/realms/x
  additional_issuers: https://a.example, https://b.example
  audience: coffer
  discovery_cache_ttl: 0
`
	c := DefaultConfig()
	if err := yaml.Unmarshal([]byte(file), &c); err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || c.AdminEmail != "root@example.org" || !c.OIDC.Enabled || c.OIDC.Audience != "coffer" {
		t.Errorf("decoded %+v", c)
	}
	if !slices.Equal(c.OIDC.AdditionalIssuers, []string{"https://a.example", "https://b.example"}) {
		t.Errorf("additional issuers %q", c.OIDC.AdditionalIssuers)
	}
	if c.DefaultWorkspace != "default" || c.OIDC.SubjectClaim != "sub" || c.OIDC.DefaultScopes != DefaultOIDCScopes || c.OIDC.DiscoveryCacheTTL != 0 {
		t.Errorf("defaults lost: %+v", c)
	}
	var l struct {
		L StringList `yaml:"l"`
	}
	if err := yaml.Unmarshal([]byte("l: [x, y]"), &l); err != nil || !slices.Equal(l.L, []string{"x", "y"}) {
		t.Errorf("list form: %q %v", l.L, err)
	}
	if err := yaml.Unmarshal([]byte("l: null"), &l); err != nil || l.L != nil {
		t.Errorf("null: %q %v", l.L, err)
	}
}

func TestConfigEnv(t *testing.T) {
	env := map[string]string{
		"NMP_AUTH_ENABLED":                            "on",
		"NMP_AUTH_ALLOW_UNSIGNED_JWT":                 "0",
		"NMP_AUTH_ADMIN_EMAIL":                        "a@b.c",
		"NMP_AUTH_DEFAULT_WORKSPACE":                  "team",
		"NMP_AUTH_OIDC_ENABLED":                       "YES",
		"NMP_AUTH_OIDC__ISSUER":                       "https://alias.example",
		"NMP_AUTH_OIDC_ADDITIONAL_ISSUERS":            `["https://x.example","https://y.example"]`,
		"NMP_AUTH_OIDC__CLIENT_ID":                    "alias-client",
		"NMP_AUTH_OIDC_CLIENT_ID":                     "plain-client",
		"NMP_AUTH_OIDC_SCOPE_PREFIX":                  "api://c/",
		"NMP_AUTH_OIDC_DISCOVERY_CACHE_TTL":           " 60 ",
		"NMP_AUTH_OIDC__GROUPS_CLAIM":                 "roles",
		"NMP_AUTH_OIDC_DEVICE_AUTHORIZATION_ENDPOINT": "https://d.example",
	}
	c := DefaultConfig()
	if err := c.ApplyEnv(lookupIn(env)); err != nil {
		t.Fatal(err)
	}
	o := c.OIDC
	if !c.Enabled || c.AllowUnsignedJWT || c.AdminEmail != "a@b.c" || c.DefaultWorkspace != "team" || !o.Enabled ||
		o.Issuer != "https://alias.example" || o.ClientID != "plain-client" || o.ScopePrefix != "api://c/" ||
		o.DiscoveryCacheTTL != 60 || o.GroupsClaim != "roles" || o.DeviceAuthorizationEndpoint != "https://d.example" ||
		!slices.Equal(o.AdditionalIssuers, []string{"https://x.example", "https://y.example"}) {
		t.Errorf("got %+v", c)
	}
	c = DefaultConfig()
	c.ApplyEnv(lookupIn(map[string]string{"NMP_AUTH_OIDC_ADDITIONAL_ISSUERS": "a, b,"}))
	if !slices.Equal(c.OIDC.AdditionalIssuers, []string{"a", "b"}) {
		t.Errorf("comma list %q", c.OIDC.AdditionalIssuers)
	}
	for name, want := range map[string]string{
		"NMP_AUTH_ENABLED":                  "environment variable NMP_AUTH_ENABLED: not a boolean (true/false, 1/0, yes/no, on/off)",
		"NMP_AUTH_OIDC__ENABLED":            "environment variable NMP_AUTH_OIDC__ENABLED: not a boolean (true/false, 1/0, yes/no, on/off)",
		"NMP_AUTH_OIDC_DISCOVERY_CACHE_TTL": "environment variable NMP_AUTH_OIDC_DISCOVERY_CACHE_TTL: not an integer",
	} {
		c := DefaultConfig()
		if err := c.ApplyEnv(lookupIn(map[string]string{name: "maybe"})); err == nil || err.Error() != want {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	c.OIDC.Enabled = true
	if err := c.Validate(); err == nil || err.Error() != "auth.oidc.issuer must be set when auth.oidc.enabled is true" {
		t.Errorf("got %v", err)
	}
	if _, err := NewEngine(c, seeded()); err == nil {
		t.Error("NewEngine accepted an invalid configuration")
	}
	c.OIDC.Issuer = "https://idp.example"
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "auth.oidc.audience must be set when auth.oidc.enabled is true") ||
		!strings.Contains(err.Error(), "auth.oidc.skip_audience_check") {
		t.Errorf("audience unset: got %v", err)
	}
	skip := c
	skip.OIDC.SkipAudienceCheck = true
	if err := skip.Validate(); err != nil {
		t.Errorf("skip_audience_check: %v", err)
	}
	if got := StartupWarnings(skip, LoopbackNetworks); len(got) != 1 || !strings.Contains(got[0], "auth.oidc.skip_audience_check is true") {
		t.Errorf("skip_audience_check warnings: %q", got)
	}
	c.OIDC.Audience = "coffer"
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	for key, mutate := range map[string]func(*OIDCConfig){
		"auth.oidc.discovery_cache_ttl": func(o *OIDCConfig) { o.DiscoveryCacheTTL = -1 },
		"auth.oidc.jwks_cache_ttl":      func(o *OIDCConfig) { o.JWKSCacheTTL = 0 },
		"auth.oidc.jwks_max_stale":      func(o *OIDCConfig) { o.JWKSMaxStale = -1 },
		"auth.oidc.clock_skew":          func(o *OIDCConfig) { o.ClockSkew = -1 },
	} {
		bad := c
		mutate(&bad.OIDC)
		if err := bad.Validate(); err == nil || !strings.HasPrefix(err.Error(), key+" ") {
			t.Errorf("%s: got %v", key, err)
		}
	}
}

func TestOIDCTimingConfig(t *testing.T) {
	c := DefaultConfig()
	if o := c.OIDC; o.JWKSCacheTTL != 3600 || o.JWKSMaxStale != 86400 || o.ClockSkew != 60 || o.SkipAudienceCheck {
		t.Errorf("defaults %+v", o)
	}
	if err := yaml.Unmarshal([]byte("oidc: {jwks_cache_ttl: 600, jwks_max_stale: 7200, clock_skew: 5, skip_audience_check: true}"), &c); err != nil {
		t.Fatal(err)
	}
	if o := c.OIDC; o.JWKSCacheTTL != 600 || o.JWKSMaxStale != 7200 || o.ClockSkew != 5 || !o.SkipAudienceCheck {
		t.Errorf("YAML %+v", o)
	}
	c = DefaultConfig()
	err := c.ApplyEnv(lookupIn(map[string]string{"NMP_AUTH_OIDC_JWKS_CACHE_TTL": "60", "NMP_AUTH_OIDC__JWKS_MAX_STALE": "0",
		"NMP_AUTH_OIDC_CLOCK_SKEW": "0", "NMP_AUTH_OIDC_SKIP_AUDIENCE_CHECK": "yes"}))
	if o := c.OIDC; err != nil || o.JWKSCacheTTL != 60 || o.JWKSMaxStale != 0 || o.ClockSkew != 0 || !o.SkipAudienceCheck {
		t.Errorf("environment %+v %v", o, err)
	}
}

func TestIgnoredKeysAndWarnings(t *testing.T) {
	for key, want := range map[string]bool{"policy_decision_point_base_url": true, "embedded_pdp_enabled": true,
		"port": true, "bundle_cache_seconds": true, "enabled": false, "oidc": false} {
		if IsIgnoredKey(key) != want {
			t.Errorf("IsIgnoredKey(%q)", key)
		}
	}
	c := DefaultConfig()
	c.Enabled, c.AllowUnsignedJWT = true, true
	wide, _ := ParseNetworks([]string{"10.0.0.0/8"})
	got := StartupWarnings(c, wide)
	want := []string{
		"X-NMP-Principal-* headers are trusted from 10.0.0.0/8; any client in these networks can act as any principal, including service principals. Restrict coffer.auth.trusted_header_networks to your service network.",
		"auth.allow_unsigned_jwt is enabled. Unsigned JWTs (alg=none) are accepted; use only for local/testing.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
	c.AllowUnsignedJWT = false
	if got := StartupWarnings(c, LoopbackNetworks); len(got) != 0 {
		t.Errorf("loopback warned: %q", got)
	}
}
