package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// jwtEnv is an engine with OIDC pointed at a loopback issuer and a clock.
type jwtEnv struct {
	iss   *testIssuer
	clock *clock
	e     *Engine
}

func newJWTEnv(t *testing.T, mutate func(*Config)) *jwtEnv {
	t.Helper()
	iss := newTestIssuer(t)
	k := testKeys()
	iss.setKeys(rsaJWK("rsa1", k.rsa1), ecJWK("ec1", k.ec1))
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.OIDC.Enabled = true
	cfg.OIDC.Issuer = iss.srv.URL
	cfg.OIDC.Audience = "coffer"
	if mutate != nil {
		mutate(&cfg)
	}
	c := newClock()
	e, err := NewEngine(cfg, seeded(), WithClock(c.now), WithHTTPClient(iss.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return &jwtEnv{iss: iss, clock: c, e: e}
}

// claims returns valid claims for the env's issuer at the env's time.
func (j *jwtEnv) claims(edits map[string]any) map[string]any {
	now := j.clock.now().Unix()
	c := map[string]any{"sub": "user-1", "iss": j.iss.srv.URL, "aud": "coffer", "exp": now + 300, "iat": now - 10,
		"email": "u1@example.org", "groups": []string{"team-a"}}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (j *jwtEnv) verify(token string) (Principal, error) {
	h := http.Header{"Authorization": {"Bearer " + token}}
	return j.e.Identify(context.Background(), h, false)
}

func wantDetail(t *testing.T, err error, detail string) {
	t.Helper()
	var ae *Error
	switch {
	case detail == "" && err != nil:
		t.Errorf("unexpected error %v", err)
	case detail != "" && (!errors.As(err, &ae) || ae.Kind != KindInvalidToken || ae.Detail != detail):
		t.Errorf("got %v, want invalid token %q", err, detail)
	}
}

func TestSignedTokens(t *testing.T) {
	k := testKeys()
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.rsa1.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	rs := map[string]any{"alg": "RS256", "kid": "rsa1", "typ": "JWT"}
	es := map[string]any{"alg": "ES256", "kid": "ec1"}
	const inv = MsgInvalidToken
	tests := []struct {
		name   string
		cfg    func(*Config)
		header map[string]any
		claims map[string]any
		key    any
		want   string
	}{
		{"RS256", nil, rs, nil, k.rsa1, ""},
		{"ES256", nil, es, nil, k.ec1, ""},
		{"expired within the skew", nil, rs, map[string]any{"exp": 1_800_000_000 - 59}, k.rsa1, ""},
		{"expired beyond the skew", nil, rs, map[string]any{"exp": 1_800_000_000 - 60}, k.rsa1, inv},
		{"expired long ago", nil, rs, map[string]any{"exp": 1_700_000_000}, k.rsa1, inv},
		{"expired now without skew", func(c *Config) { c.OIDC.ClockSkew = 0 }, rs, map[string]any{"exp": 1_800_000_000}, k.rsa1, inv},
		{"iat beyond the skew", nil, rs, map[string]any{"iat": 1_800_000_061}, k.rsa1, inv},
		{"iat within the skew", nil, rs, map[string]any{"iat": 1_800_000_060}, k.rsa1, ""},
		{"iat ahead without skew", func(c *Config) { c.OIDC.ClockSkew = 0 }, rs, map[string]any{"iat": 1_800_000_001}, k.rsa1, inv},
		{"iat now", nil, rs, map[string]any{"iat": 1_800_000_000}, k.rsa1, ""},
		{"nbf beyond the skew", nil, rs, map[string]any{"nbf": 1_800_000_061}, k.rsa1, inv},
		{"nbf within the skew", nil, rs, map[string]any{"nbf": 1_800_000_060}, k.rsa1, ""},
		{"larger skew", func(c *Config) { c.OIDC.ClockSkew = 300 }, rs, map[string]any{"nbf": 1_800_000_290, "exp": 1_800_000_000 - 290}, k.rsa1, ""},
		{"nbf passed", nil, rs, map[string]any{"nbf": 1_799_999_999}, k.rsa1, ""},
		{"fractional exp", nil, rs, map[string]any{"exp": 1_800_000_000.5}, k.rsa1, ""},
		{"exp as string", nil, rs, map[string]any{"exp": "1800000300"}, k.rsa1, inv},
		{"iat as string", nil, rs, map[string]any{"iat": "1799999990"}, k.rsa1, inv},
		{"nbf as bool", nil, rs, map[string]any{"nbf": true}, k.rsa1, inv},
		{"exp missing", nil, rs, map[string]any{"exp": nil}, k.rsa1, inv},
		{"iat missing", nil, rs, map[string]any{"iat": nil}, k.rsa1, inv},
		{"sub missing", nil, rs, map[string]any{"sub": nil}, k.rsa1, inv},
		{"sub not a string", nil, rs, map[string]any{"sub": 42}, k.rsa1, inv},
		{"sub empty", nil, rs, map[string]any{"sub": ""}, k.rsa1, inv},
		{"wrong issuer", nil, rs, map[string]any{"iss": "https://evil.example"}, k.rsa1, inv},
		{"issuer missing", nil, rs, map[string]any{"iss": nil}, k.rsa1, inv},
		{"additional issuer", func(c *Config) { c.OIDC.AdditionalIssuers = StringList{"https://other.example"} },
			rs, map[string]any{"iss": "https://other.example"}, k.rsa1, ""},
		{"audience check skipped", func(c *Config) { c.OIDC.Audience, c.OIDC.SkipAudienceCheck = "", true }, rs, map[string]any{"aud": "anything"}, k.rsa1, ""},
		{"audience checked even when skip is set", func(c *Config) { c.OIDC.SkipAudienceCheck = true }, rs, map[string]any{"aud": "anything"}, k.rsa1, inv},
		{"audience string", func(c *Config) { c.OIDC.Audience = "coffer" }, rs, map[string]any{"aud": "coffer"}, k.rsa1, ""},
		{"audience list", func(c *Config) { c.OIDC.Audience = "coffer" }, rs, map[string]any{"aud": []any{"x", 3, "coffer"}}, k.rsa1, ""},
		{"wrong audience", func(c *Config) { c.OIDC.Audience = "coffer" }, rs, map[string]any{"aud": "other"}, k.rsa1, inv},
		{"wrong audience list", func(c *Config) { c.OIDC.Audience = "coffer" }, rs, map[string]any{"aud": []string{"a", "b"}}, k.rsa1, inv},
		{"audience missing", func(c *Config) { c.OIDC.Audience = "coffer" }, rs, map[string]any{"aud": nil}, k.rsa1, inv},
		{"HS256 with the RSA public key", nil, map[string]any{"alg": "HS256", "kid": "rsa1"}, nil, pubPEM, inv},
		{"HS256 without kid", nil, map[string]any{"alg": "HS256"}, nil, pubPEM, inv},
		{"HS256 with the RSA modulus", nil, map[string]any{"alg": "HS256", "kid": "rsa1"}, nil, k.rsa1.N.Bytes(), inv},
		{"crit b64", nil, map[string]any{"alg": "RS256", "kid": "rsa1", "b64": false, "crit": []string{"b64"}}, nil, k.rsa1, inv},
		{"b64 without crit", nil, map[string]any{"alg": "RS256", "kid": "rsa1", "b64": true}, nil, k.rsa1, inv},
		{"RS256 header with an EC key", nil, map[string]any{"alg": "RS256", "kid": "ec1"}, nil, k.ec1, inv},
		{"ES256 header with an RSA key", nil, map[string]any{"alg": "ES256", "kid": "rsa1"}, nil, k.rsa1, inv},
		{"signed by another key", nil, rs, nil, k.rsa2, inv},
		{"PS256 not accepted", nil, map[string]any{"alg": "PS256", "kid": "rsa1"}, nil, k.rsa1, inv},
		{"lowercase alg", nil, map[string]any{"alg": "rs256", "kid": "rsa1"}, nil, k.rsa1, inv},
		{"crit header", nil, map[string]any{"alg": "RS256", "kid": "rsa1", "crit": []string{"exp"}}, nil, k.rsa1, inv},
		{"kid not a string", nil, map[string]any{"alg": "RS256", "kid": 1}, nil, k.rsa1, inv},
		{"no kid, two keys", nil, map[string]any{"alg": "RS256"}, nil, k.rsa1, inv},
		{"none refused", nil, map[string]any{"alg": "none"}, nil, nil, MsgUnsignedRefused},
		{"NoNe refused", nil, map[string]any{"alg": "NoNe"}, nil, k.rsa1, MsgUnsignedRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJWTEnv(t, tt.cfg)
			p, err := j.verify(signToken(t, tt.header, j.claims(tt.claims), tt.key))
			wantDetail(t, err, tt.want)
			if tt.want == "" && p.ID != "user-1" {
				t.Errorf("principal %+v", p)
			}
		})
	}
}

func TestTokenWithoutKid(t *testing.T) {
	j := newJWTEnv(t, nil)
	k := testKeys()
	j.iss.setKeys(rsaJWK("only", k.rsa1))
	if _, err := j.verify(signToken(t, map[string]any{"alg": "RS256"}, j.claims(nil), k.rsa1)); err != nil {
		t.Errorf("one key: %v", err)
	}
	// Unusable keys do not count: a symmetric key cannot make the set ambiguous.
	j2 := newJWTEnv(t, nil)
	j2.iss.setKeys(map[string]any{"kty": "oct", "k": "c2VjcmV0"}, ecJWK("", k.ec1))
	if _, err := j2.verify(signToken(t, map[string]any{"alg": "ES256"}, j2.claims(nil), k.ec1)); err != nil {
		t.Errorf("one usable key: %v", err)
	}
}

func TestMalformedTokens(t *testing.T) {
	j := newJWTEnv(t, nil)
	k := testKeys()
	good := signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, j.claims(nil), k.rsa1)
	parts := strings.Split(good, ".")
	tampered := signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, j.claims(map[string]any{"sub": "admin"}), k.rsa1)
	for name, token := range map[string]string{
		"empty":               "",
		"one part":            "abc",
		"two parts":           parts[0] + "." + parts[1],
		"four parts":          good + ".x",
		"header not base64":   rawSegments("!!!", parts[1], parts[2]),
		"header not JSON":     rawSegments(enc([]byte("nope")), parts[1], parts[2]),
		"header is an array":  rawSegments(enc([]byte(`["alg"]`)), parts[1], parts[2]),
		"payload swapped":     rawSegments(parts[0], strings.Split(tampered, ".")[1], parts[2]),
		"signature not b64":   rawSegments(parts[0], parts[1], "@@"),
		"signature empty":     rawSegments(parts[0], parts[1], ""),
		"oversized":           good + strings.Repeat("A", maxTokenBytes),
		"leading space":       " " + good,
		"payload not JSON":    rawSegments(parts[0], enc([]byte("{")), parts[2]),
		"header alg is a num": rawSegments(enc([]byte(`{"alg":1}`)), parts[1], parts[2]),
	} {
		if _, err := j.verify(token); outcome(err) != "invalid token" || err.(*Error).Detail != MsgInvalidToken {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if _, err := j.verify(good); err != nil {
		t.Errorf("control token: %v", err)
	}
}

func TestBearerNotConfigured(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Enabled = true
	e, _ := NewEngine(cfg, seeded())
	_, err := e.Identify(context.Background(), http.Header{"Authorization": {"bEaReR x.y.z"}}, false)
	wantDetail(t, err, MsgBearerNotConfigured)
	// Other schemes are not bearer tokens: the caller is anonymous.
	for _, v := range []string{"Basic dXNlcjpwdw==", "Bearer", "Bearerx.y.z"} {
		p, err := e.Identify(context.Background(), http.Header{"Authorization": {v}}, false)
		if err != nil || p.ID != "" {
			t.Errorf("%q: %+v %v", v, p, err)
		}
	}
}

func TestAnonymousScopes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Enabled = true
	e, _ := NewEngine(cfg, seeded())
	h := http.Header{}
	h.Add(HeaderScopes, "ignored:first")
	h.Add(HeaderScopes, " secrets:read  openid ")
	if p, _ := e.Identify(context.Background(), h, true); strings.Join(p.Scopes, " ") != "secrets:read openid" {
		t.Errorf("trusted scopes %q", p.Scopes)
	}
	if p, _ := e.Identify(context.Background(), h, false); p.Scopes != nil {
		t.Errorf("untrusted scopes read: %q", p.Scopes)
	}
}

func TestUnsignedTokens(t *testing.T) {
	none := map[string]any{"alg": "none"}
	tests := []struct {
		name   string
		oidc   bool
		header map[string]any
		claims map[string]any
		want   string
	}{
		{"accepted", false, none, nil, ""},
		{"any case", false, map[string]any{"alg": "NONE"}, nil, ""},
		{"iss and aud unchecked", false, none, map[string]any{"iss": "https://any.example", "aud": "x"}, ""},
		{"also with OIDC on", true, none, map[string]any{"iss": "https://any.example"}, ""},
		{"expired", false, none, map[string]any{"exp": 1_799_999_900}, MsgInvalidToken},
		{"iat in the future", false, none, map[string]any{"iat": 1_800_000_100}, MsgInvalidToken},
		{"nbf in the future", false, none, map[string]any{"nbf": 1_800_000_100}, MsgInvalidToken},
		{"sub missing", false, none, map[string]any{"sub": nil}, MsgInvalidToken},
		{"iat missing", false, none, map[string]any{"iat": nil}, MsgInvalidToken},
		{"exp missing", false, none, map[string]any{"exp": nil}, MsgInvalidToken},
		{"signed token without OIDC", false, map[string]any{"alg": "RS256", "kid": "rsa1"}, nil, MsgInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJWTEnv(t, func(c *Config) { c.AllowUnsignedJWT = true; c.OIDC.Enabled = tt.oidc })
			var key any
			if tt.header["alg"] == "RS256" {
				key = testKeys().rsa1
			}
			token := signToken(t, tt.header, j.claims(tt.claims), key)
			if key == nil {
				token += "ignored-signature"
			}
			p, err := j.verify(token)
			wantDetail(t, err, tt.want)
			if tt.want == "" && (p.ID != "user-1" || p.Email != "u1@example.org") {
				t.Errorf("principal %+v", p)
			}
		})
	}
	if _, jwks := newJWTEnv(t, func(c *Config) { c.AllowUnsignedJWT = true }).iss.hits(); jwks != 0 {
		t.Error("unsigned path fetched keys")
	}
}

func TestClaimMapping(t *testing.T) {
	tests := []struct {
		name   string
		cfg    func(*Config)
		claims map[string]any
		want   Principal
		fail   bool
	}{
		{"defaults", nil, nil, Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"team-a"}}, false},
		{"subject claim", func(c *Config) { c.OIDC.SubjectClaim = "oid" }, map[string]any{"oid": "o-1"},
			Principal{ID: "o-1", Email: "u1@example.org", Groups: []string{"team-a"}}, false},
		{"subject claim absent falls back to sub", func(c *Config) { c.OIDC.SubjectClaim = "oid" }, nil,
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"team-a"}}, false},
		{"subject claim present but empty", func(c *Config) { c.OIDC.SubjectClaim = "oid" }, map[string]any{"oid": ""}, Principal{}, true},
		{"subject claim not a string", func(c *Config) { c.OIDC.SubjectClaim = "oid" }, map[string]any{"oid": 7}, Principal{}, true},
		{"email claim", func(c *Config) { c.OIDC.EmailClaim = "upn" }, map[string]any{"upn": "not an email"},
			Principal{ID: "user-1", Email: "not an email", Groups: []string{"team-a"}}, false},
		{"email not a string", nil, map[string]any{"email": []string{"a@b"}}, Principal{ID: "user-1", Groups: []string{"team-a"}}, false},
		{"groups string", nil, map[string]any{"groups": " a, b ,,c"}, Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"a", "b", "c"}}, false},
		{"groups list", nil, map[string]any{"groups": []any{"a b", 1, "", "c"}}, Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"a b", "c"}}, false},
		{"groups claim configured", func(c *Config) { c.OIDC.GroupsClaim = "roles" }, map[string]any{"roles": []string{"r"}},
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"r"}}, false},
		{"cognito groups", nil, map[string]any{"groups": nil, "cognito:groups": []string{"admins"}},
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"admins"}}, false},
		{"groups win over cognito", nil, map[string]any{"cognito:groups": []string{"admins"}},
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"team-a"}}, false},
		{"scope string", nil, map[string]any{"scope": "openid  secrets:read"},
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"team-a"}, Scopes: []string{"openid", "secrets:read"}}, false},
		{"scope list", nil, map[string]any{"scope": []string{"secrets:read"}},
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"team-a"}, Scopes: []string{"secrets:read"}}, false},
		{"empty scope falls back to scp", nil, map[string]any{"scope": "", "scp": []string{"entities:read"}},
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"team-a"}, Scopes: []string{"entities:read"}}, false},
		{"scp string", nil, map[string]any{"scp": "a:b c:d"},
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"team-a"}, Scopes: []string{"a:b", "c:d"}}, false},
		{"scope wins over scp", nil, map[string]any{"scope": "a:b", "scp": "c:d"},
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"team-a"}, Scopes: []string{"a:b"}}, false},
		{"scope prefix", func(c *Config) { c.OIDC.ScopePrefix = "api://coffer/" }, map[string]any{"scp": "api://coffer/secrets:read openid api://coffer/"},
			Principal{ID: "user-1", Email: "u1@example.org", Groups: []string{"team-a"}, Scopes: []string{"secrets:read", "openid"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJWTEnv(t, tt.cfg)
			p, err := j.verify(signToken(t, map[string]any{"alg": "ES256", "kid": "ec1"}, j.claims(tt.claims), testKeys().ec1))
			if tt.fail {
				wantDetail(t, err, MsgInvalidToken)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != tt.want.ID || p.Email != tt.want.Email || !slices.Equal(p.Groups, tt.want.Groups) || !slices.Equal(p.Scopes, tt.want.Scopes) {
				t.Errorf("got %+v, want %+v", p, tt.want)
			}
		})
	}
}

func TestBearerScopeSyntax(t *testing.T) {
	j := newJWTEnv(t, func(c *Config) { c.OIDC.ScopePrefix = "coffer/" })
	p, err := j.verify(signToken(t, map[string]any{"alg": "ES256", "kid": "ec1"}, j.claims(map[string]any{"scope": "coffer/secrets.read"}), testKeys().ec1))
	if err != nil {
		t.Fatal(err)
	}
	err = j.e.Decide(context.Background(), routeCalls("ml")["L"].request(p))
	if outcome(err) != "bad request" || !strings.HasPrefix(err.(*Error).Detail, "Invalid scope 'secrets.read'") {
		t.Errorf("got %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	j := newJWTEnv(t, nil)
	k := testKeys()
	j.iss.setKeys(rsaJWK("k1", k.rsa1))
	tok := func(kid string, key *rsa.PrivateKey) string {
		return signToken(t, map[string]any{"alg": "RS256", "kid": kid}, j.claims(nil), key)
	}
	check := func(step, token, want string, wantJWKS int) {
		t.Helper()
		_, err := j.verify(token)
		wantDetail(t, err, want)
		if _, got := j.iss.hits(); got != wantJWKS {
			t.Errorf("%s: %d JWKS fetches, want %d", step, got, wantJWKS)
		}
	}
	check("first use", tok("k1", k.rsa1), "", 1)
	check("cached", tok("k1", k.rsa1), "", 1)

	j.iss.setKeys(rsaJWK("k2", k.rsa2))
	check("new kid within 10 s: no refetch", tok("k2", k.rsa2), MsgInvalidToken, 1)
	j.clock.advance(10 * time.Second)
	check("new kid after 10 s: one refetch", tok("k2", k.rsa2), "", 2)
	check("bogus kid right after: rate-limited", tok("bogus", k.rsa2), MsgInvalidToken, 2)
	check("old kid removed: rate-limited", tok("k1", k.rsa1), MsgInvalidToken, 2)
	j.clock.advance(11 * time.Second)
	check("bogus kid later: one refetch", tok("bogus", k.rsa2), MsgInvalidToken, 3)
	check("known kid needs no fetch", tok("k2", k.rsa2), "", 3)

	disc, _ := j.iss.hits()
	j.clock.advance(DefaultJWKSCacheTTL * time.Second)
	check("cache expired after an hour", tok("k2", k.rsa2), "", 4)
	if d, _ := j.iss.hits(); d != disc+1 {
		t.Errorf("discovery fetched %d times after expiry, want once", d-disc)
	}
}

func TestConcurrentRefetchIsShared(t *testing.T) {
	j := newJWTEnv(t, nil)
	k := testKeys()
	token := signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, j.claims(nil), k.rsa1)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := j.verify(token); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d, jw := j.iss.hits(); d != 1 || jw != 1 {
		t.Errorf("%d discovery and %d JWKS fetches for 20 concurrent first uses", d, jw)
	}
}

func TestKeySources(t *testing.T) {
	k := testKeys()
	t.Run("jwks_uri skips discovery", func(t *testing.T) {
		j := newJWTEnv(t, nil)
		iss := j.iss
		cfg := DefaultConfig()
		cfg.Enabled, cfg.OIDC.Enabled, cfg.OIDC.Issuer, cfg.OIDC.JWKSURI = true, true, "urn:issuer", iss.srv.URL+"/jwks"
		cfg.OIDC.Audience = "coffer"
		e, _ := NewEngine(cfg, seeded(), WithClock(j.clock.now))
		claims := j.claims(map[string]any{"iss": "urn:issuer"})
		if _, err := e.VerifyToken(context.Background(), signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, claims, k.rsa1)); err != nil {
			t.Fatal(err)
		}
		if d, jw := iss.hits(); d != 0 || jw != 1 {
			t.Errorf("discovery %d, jwks %d", d, jw)
		}
	})
	t.Run("issuer unreachable", func(t *testing.T) {
		j := newJWTEnv(t, nil)
		j.iss.setDown(true)
		_, err := j.verify(signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, j.claims(nil), k.rsa1))
		wantDetail(t, err, MsgInvalidToken)
		j.iss.setDown(false)
		_, err = j.verify(signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, j.claims(nil), k.rsa1))
		wantDetail(t, err, MsgInvalidToken) // a failed fetch is retried after refetchInterval
		j.clock.advance(refetchInterval)
		_, err = j.verify(signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, j.claims(nil), k.rsa1))
		wantDetail(t, err, "")
	})
	t.Run("issuer with trailing slash", func(t *testing.T) {
		j := newJWTEnv(t, nil)
		cfg := DefaultConfig()
		cfg.Enabled, cfg.OIDC.Enabled, cfg.OIDC.Issuer = true, true, j.iss.srv.URL+"/"
		cfg.OIDC.Audience = "coffer"
		j.iss.discovery = map[string]any{"issuer": j.iss.srv.URL + "/"} // OIDC Discovery: the issuer exactly as configured
		e, _ := NewEngine(cfg, seeded(), WithClock(j.clock.now))
		claims := j.claims(map[string]any{"iss": j.iss.srv.URL + "/"})
		if _, err := e.VerifyToken(context.Background(), signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, claims, k.rsa1)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("weak and malformed keys are unusable", func(t *testing.T) {
		weak, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		j := newJWTEnv(t, nil)
		bad := ecJWK("p384", k.ec1)
		bad["crv"] = "P-384"
		offCurve := ecJWK("off", k.ec1)
		offCurve["y"] = offCurve["x"]
		enc := rsaJWK("enc", k.rsa1)
		enc["use"] = "enc"
		j.iss.setKeys(rsaJWK("weak", weak), bad, offCurve, enc, map[string]any{"kty": "oct", "kid": "hs", "k": "c2VjcmV0"})
		for _, c := range []struct {
			kid string
			key any
			alg string
		}{{"weak", weak, "RS256"}, {"p384", k.ec1, "ES256"}, {"off", k.ec1, "ES256"}, {"enc", k.rsa1, "RS256"}, {"hs", []byte("secret"), "HS256"}} {
			j.clock.advance(refetchInterval)
			_, err := j.verify(signToken(t, map[string]any{"alg": c.alg, "kid": c.kid}, j.claims(nil), c.key))
			if outcome(err) != "invalid token" {
				t.Errorf("%s: %v", c.kid, err)
			}
		}
	})
}
