package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fuzzKey is a fixed P-256 key, so that tokens in the committed corpus
// (testdata/fuzz/FuzzVerifyToken) stay validly signed across runs.
var fuzzKey = func() *ecdsa.PrivateKey {
	d := sha256.Sum256([]byte("coffer FuzzVerifyToken test key, not a secret"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		panic(err)
	}
	return k
}()

const fuzzIssuer = "https://idp.fuzz.example"

// fuzzEngine verifies against a key set already in the cache (fuzzKey as
// "fz", and the RSA test key as "rsa1") at a clock that never moves, so it
// never fetches: an unknown kid's refetch stays rate-limited.
func fuzzEngine(tb testing.TB, unsigned bool) *Engine {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Enabled, cfg.AllowUnsignedJWT = true, unsigned
	cfg.OIDC.Enabled, cfg.OIDC.Issuer, cfg.OIDC.Audience = true, fuzzIssuer, "coffer"
	cfg.OIDC.JWKSURI = "http://127.0.0.1:9/unreachable"
	now := time.Unix(1_800_000_000, 0)
	e, err := NewEngine(cfg, seeded(), WithClock(func() time.Time { return now }))
	if err != nil {
		tb.Fatal(err)
	}
	ks := e.jwt.keys
	ks.keys = []jwk{
		{kid: "fz", key: &fuzzKey.PublicKey},
		{kid: "rsa1", alg: algRS256, key: &testKeys().rsa1.PublicKey},
	}
	ks.fetchedAt, ks.lastAttempt = now, now
	return e
}

func fuzzClaims(edits map[string]any) map[string]any {
	c := map[string]any{"sub": "user-1", "iss": fuzzIssuer, "aud": "coffer", "exp": 1_800_000_300, "iat": 1_799_999_990,
		"email": "u@example.org", "groups": []string{"g"}, "scope": "secrets:read"}
	for k, v := range edits {
		c[k] = v
	}
	return c
}

// FuzzVerifyToken feeds arbitrary bearer tokens through parsing and
// verification. Whatever the input: no panic, every refusal is an
// invalid-token *Error (a 401 in docs/auth.md), and a token is accepted only if its signature verifies,
// checked independently with crypto/ecdsa or crypto/rsa, or if it is an
// unsigned token while allow_unsigned_jwt is on.
func FuzzVerifyToken(f *testing.F) {
	rs := map[string]any{"alg": "RS256", "kid": "rsa1"}
	es := map[string]any{"alg": "ES256", "kid": "fz"}
	for _, seed := range []string{
		signToken(f, es, fuzzClaims(nil), fuzzKey),
		signToken(f, rs, fuzzClaims(nil), testKeys().rsa1),
		signToken(f, map[string]any{"alg": "ES256"}, fuzzClaims(nil), fuzzKey),
		signToken(f, map[string]any{"alg": "none"}, fuzzClaims(nil), nil),
		signToken(f, map[string]any{"alg": "HS256", "kid": "fz"}, fuzzClaims(nil), []byte("secret")),
		signToken(f, es, fuzzClaims(map[string]any{"aud": []any{"x", "coffer"}, "nbf": 1.8e9}), fuzzKey),
		signToken(f, es, fuzzClaims(map[string]any{"exp": "1800000300"}), fuzzKey),
		signToken(f, map[string]any{"alg": "ES256", "kid": "fz", "crit": []string{"exp"}}, fuzzClaims(nil), fuzzKey),
		"", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0..", "eyJhbGciOiJSUzI1NiJ9.e30.",
	} {
		f.Add(seed, false)
	}
	signed, unsignedOK := fuzzEngine(f, false), fuzzEngine(f, true)
	f.Fuzz(func(t *testing.T, token string, allowUnsigned bool) {
		e := signed
		if allowUnsigned {
			e = unsignedOK
		}
		p, err := e.Identify(context.Background(), http.Header{"Authorization": {"Bearer " + token}}, false)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) || ae.Kind != KindInvalidToken ||
				(ae.Detail != MsgInvalidToken && ae.Detail != MsgUnsignedRefused) {
				t.Fatalf("refusal is not an invalid-token error of docs/auth.md: %v", err)
			}
			return
		}
		if p.ID == "" {
			t.Fatal("accepted without a principal")
		}
		alg, herr := headerAlg(token)
		if herr != nil {
			t.Fatalf("accepted a token whose header does not parse: %v", herr)
		}
		if strings.EqualFold(alg, "none") {
			if !allowUnsigned {
				t.Fatal("unsigned token accepted with allow_unsigned_jwt off")
			}
			return
		}
		if !signatureVerifies(token, alg) {
			t.Fatalf("accepted a token whose signature does not verify (alg %q)", alg)
		}
	})
}

// signatureVerifies checks a compact JWS with the standard library alone
// against the fuzz engine's keys.
func signatureVerifies(token, alg string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := b64(parts[2])
	if err != nil {
		return false
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch alg {
	case algES256:
		if len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(&fuzzKey.PublicKey, digest[:], r, s)
	case algRS256:
		return rsa.VerifyPKCS1v15(&testKeys().rsa1.PublicKey, crypto.SHA256, digest[:], sig) == nil
	}
	return false
}

// TestFuzzEngine keeps FuzzVerifyToken meaningful: its engine accepts
// validly signed tokens of both algorithms, so the fuzzer explores the
// accepting path too, and refuses a tampered one.
func TestFuzzEngine(t *testing.T) {
	e := fuzzEngine(t, false)
	for _, tok := range []string{
		signToken(t, map[string]any{"alg": "ES256", "kid": "fz"}, fuzzClaims(nil), fuzzKey),
		signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, fuzzClaims(nil), testKeys().rsa1),
	} {
		if _, err := e.VerifyToken(context.Background(), tok); err != nil {
			t.Errorf("valid token refused: %v", err)
		}
		if alg, _ := headerAlg(tok); !signatureVerifies(tok, alg) {
			t.Error("independent check refuses a valid token")
		}
	}
	bad := signToken(t, map[string]any{"alg": "ES256", "kid": "fz"}, fuzzClaims(map[string]any{"sub": "admin"}), testKeys().ec1)
	if _, err := e.VerifyToken(context.Background(), bad); err == nil {
		t.Error("token signed by another key accepted")
	}
}
