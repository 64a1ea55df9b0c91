package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKeys are generated once: RSA key generation is slow under -race.
var testKeys = sync.OnceValue(func() (k struct {
	rsa1, rsa2 *rsa.PrivateKey
	ec1        *ecdsa.PrivateKey
},
) {
	var err error
	if k.rsa1, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec1, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// testIssuer is an OIDC issuer on loopback: discovery document plus JWKS,
// with keys the test can rotate and counters of each fetch.
type testIssuer struct {
	srv *httptest.Server

	mu            sync.Mutex
	jwks          []map[string]any
	discovery     map[string]any
	down          bool
	discoveryHits int
	jwksHits      int
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss.serve(w, &iss.discoveryHits, func() any { return iss.discoveryDoc() })
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		iss.serve(w, &iss.jwksHits, func() any { return map[string]any{"keys": iss.jwks} })
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

func (i *testIssuer) serve(w http.ResponseWriter, hits *int, body func() any) {
	i.mu.Lock()
	defer i.mu.Unlock()
	*hits++
	if i.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	json.NewEncoder(w).Encode(body())
}

func (i *testIssuer) discoveryDoc() map[string]any {
	doc := map[string]any{
		"issuer":                 i.srv.URL,
		"jwks_uri":               i.srv.URL + "/jwks",
		"authorization_endpoint": i.srv.URL + "/authorize",
		"token_endpoint":         i.srv.URL + "/token",
		"userinfo_endpoint":      i.srv.URL + "/userinfo",
	}
	for k, v := range i.discovery {
		doc[k] = v
	}
	return doc
}

func (i *testIssuer) setKeys(keys ...map[string]any) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwks = keys
}

func (i *testIssuer) setDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = down
}

func (i *testIssuer) hits() (discovery, jwks int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.discoveryHits, i.jwksHits
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PrivateKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": enc(k.N.Bytes()), "e": enc(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]any {
	b, err := k.PublicKey.Bytes()
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": enc(b[1:33]), "y": enc(b[33:])}
}

// signToken builds a compact JWS. key is an *rsa.PrivateKey (RS256), an
// *ecdsa.PrivateKey (ES256), a []byte (HS256) or nil (no signature).
func signToken(t testing.TB, header, claims map[string]any, key any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := enc(h) + "." + enc(c)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, _ = rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	}
	return input + "." + enc(sig)
}

// clock is a settable time source shared by the engine and the tokens.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rawSegments joins already-encoded parts, for malformed tokens.
func rawSegments(parts ...string) string { return strings.Join(parts, ".") }
