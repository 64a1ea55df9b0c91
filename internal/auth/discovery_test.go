package auth

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

func discoveryJSON(t *testing.T, d *Discovery) string {
	t.Helper()
	b, err := json.Marshal(d.Document(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDiscoveryWithoutOIDC(t *testing.T) {
	cfg := DefaultConfig()
	if got := discoveryJSON(t, NewDiscovery(cfg)); got != `{"auth_enabled":false,"oidc":null}` {
		t.Errorf("got %s", got)
	}
	cfg.Enabled = true
	cfg.OIDC.Enabled = true // without an issuer there is nothing to describe
	if got := discoveryJSON(t, NewDiscovery(cfg)); got != `{"auth_enabled":true,"oidc":null}` {
		t.Errorf("got %s", got)
	}
}

func newDiscoveryEnv(t *testing.T, mutate func(*Config)) (*testIssuer, *clock, *Discovery) {
	t.Helper()
	iss := newTestIssuer(t)
	cfg := DefaultConfig()
	cfg.OIDC.Enabled = true
	cfg.OIDC.Issuer = iss.srv.URL
	cfg.OIDC.ClientID = "coffer-cli"
	if mutate != nil {
		mutate(&cfg)
	}
	c := newClock()
	return iss, c, NewDiscovery(cfg, WithClock(c.now), WithHTTPClient(iss.srv.Client()))
}

func TestDiscoveryDocument(t *testing.T) {
	iss, _, d := newDiscoveryEnv(t, func(c *Config) {
		c.OIDC.TokenEndpoint = "https://override.example/token"
		c.OIDC.ScopePrefix = "api://coffer/"
	})
	u := iss.srv.URL
	want := `{"auth_enabled":false,"oidc":{"issuer":"` + u + `","authorization_endpoint":"` + u + `/authorize",` +
		`"token_endpoint":"https://override.example/token","device_authorization_endpoint":null,` +
		`"userinfo_endpoint":"` + u + `/userinfo","client_id":"coffer-cli",` +
		`"default_scopes":"openid profile email offline_access","scope_prefix":"api://coffer/"}}`
	if got := discoveryJSON(t, d); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDiscoveryCaching(t *testing.T) {
	iss, clk, d := newDiscoveryEnv(t, nil)
	first := discoveryJSON(t, d)
	discoveryJSON(t, d)
	if n, _ := iss.hits(); n != 1 {
		t.Errorf("%d fetches within the TTL", n)
	}
	clk.advance(300 * time.Second)
	discoveryJSON(t, d)
	if n, _ := iss.hits(); n != 2 {
		t.Errorf("%d fetches after the TTL", n)
	}

	iss.setDown(true)
	clk.advance(300 * time.Second)
	if got := discoveryJSON(t, d); got != first {
		t.Errorf("last good copy not used: %s", got)
	}
	if n, _ := iss.hits(); n != 3 {
		t.Errorf("%d fetches, want a retry after the TTL", n)
	}
}

func TestDiscoveryNoCache(t *testing.T) {
	iss, _, d := newDiscoveryEnv(t, func(c *Config) { c.OIDC.DiscoveryCacheTTL = 0 })
	for range 3 {
		discoveryJSON(t, d)
	}
	if n, _ := iss.hits(); n != 3 {
		t.Errorf("%d fetches with TTL 0", n)
	}
	iss.setDown(true)
	if got := discoveryJSON(t, d); got == "" || !json.Valid([]byte(got)) {
		t.Fatal(got)
	}
	var doc DiscoveryDocument
	json.Unmarshal([]byte(discoveryJSON(t, d)), &doc)
	if doc.OIDC.TokenEndpoint == nil {
		t.Error("TTL 0 still falls back to the last good copy")
	}
}

func TestDiscoveryNeverReachable(t *testing.T) {
	iss, _, d := newDiscoveryEnv(t, func(c *Config) { c.OIDC.AuthorizationEndpoint = "https://idp.example/auth" })
	iss.setDown(true)
	u := iss.srv.URL
	want := `{"auth_enabled":false,"oidc":{"issuer":"` + u + `","authorization_endpoint":"https://idp.example/auth",` +
		`"token_endpoint":null,"device_authorization_endpoint":null,"userinfo_endpoint":null,"client_id":"coffer-cli",` +
		`"default_scopes":"openid profile email offline_access","scope_prefix":null}}`
	if got := discoveryJSON(t, d); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDiscoveryConcurrent(t *testing.T) {
	iss, _, d := newDiscoveryEnv(t, func(c *Config) { c.OIDC.DiscoveryCacheTTL = 0 })
	done := make(chan string)
	for range 16 {
		go func() { done <- discoveryJSON(t, d) }()
	}
	first := <-done
	for range 15 {
		if got := <-done; got != first {
			t.Errorf("answers differ: %s", got)
		}
	}
	if n, _ := iss.hits(); n < 1 || n > 16 {
		t.Errorf("%d fetches", n)
	}
}
