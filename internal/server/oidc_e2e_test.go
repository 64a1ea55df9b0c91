package server

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testIdP is an OIDC issuer on loopback (discovery document and JWKS with
// one RSA key) that a test can take down.
type testIdP struct {
	srv  *httptest.Server
	key  *rsa.PrivateKey
	down atomic.Bool
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &testIdP{key: key}
	enc := base64.RawURLEncoding.EncodeToString
	idp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if idp.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{"issuer": idp.srv.URL, "jwks_uri": idp.srv.URL + "/jwks"})
		case "/jwks":
			json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k1", "use": "sig",
				"n": enc(key.N.Bytes()), "e": enc(big.NewInt(int64(key.E)).Bytes())}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(idp.srv.Close)
	return idp
}

// token signs an RS256 access token for sub, valid for ten minutes.
func (idp *testIdP) token(t *testing.T, sub string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	now := time.Now().Unix()
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(map[string]any{"iss": idp.srv.URL, "aud": "coffer", "sub": sub, "iat": now, "exp": now + 600})
	input := enc(h) + "." + enc(c)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, idp.key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc(sig)
}

// TestOIDCIdPOutage: through a real listener and the NMP_AUTH_OIDC_*
// settings, bearer tokens keep working while the IdP is down within
// jwks_max_stale past jwks_cache_ttl, and are refused after that.
func TestOIDCIdPOutage(t *testing.T) {
	idp := newTestIdP(t)
	env := authEnv()
	for k, v := range map[string]string{"NMP_AUTH_OIDC_ENABLED": "true", "NMP_AUTH_OIDC_ISSUER": idp.srv.URL,
		"NMP_AUTH_OIDC_AUDIENCE": "coffer", "NMP_AUTH_OIDC_JWKS_CACHE_TTL": "1", "NMP_AUTH_OIDC_JWKS_MAX_STALE": "3"} {
		env[k] = v
	}
	ts := start(t, env, "")
	list := func() response {
		return ts.do(t, "GET", base+"/default/secrets", "", "Authorization: Bearer "+idp.token(t, "user-1"))
	}
	fetched := time.Now()
	if r := list(); r.Status != 200 {
		t.Fatalf("IdP up: %d %s", r.Status, r.Body)
	}
	idp.down.Store(true)
	time.Sleep(time.Until(fetched.Add(1500 * time.Millisecond)))
	if r := list(); r.Status != 200 {
		t.Fatalf("IdP down, key set expired but within jwks_max_stale: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(ts.Logs.String(), "tokens are verified with the last good key set") {
		t.Errorf("no warning about the stale key set:\n%s", ts.Logs.String())
	}
	time.Sleep(time.Until(fetched.Add(4500 * time.Millisecond)))
	expect(t, list(), 401, `{"detail":"Invalid or expired token"}`)
}
