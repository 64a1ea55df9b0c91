package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Intervals of auth.md §3.4.
const (
	keyCacheTTL     = 3600 * time.Second
	refetchInterval = 10 * time.Second
	jwtFetchTimeout = 10 * time.Second
	// maxDocBytes bounds what a misbehaving IdP endpoint can make us read.
	maxDocBytes = 1 << 20
	// minRSABits refuses keys too weak to trust for identity.
	minRSABits = 2048
)

// jwk is a usable verification key from the issuer's key set.
type jwk struct {
	kid string
	alg string // the key's own "alg", "" when unrestricted
	rsa *rsa.PublicKey
	ec  *ecdsa.PublicKey
}

// fits reports whether the key may verify alg: the key type must match, so
// an EC key can never be used as an RSA key or the other way round.
func (k jwk) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	return (alg == algRS256 && k.rsa != nil) || (alg == algES256 && k.ec != nil)
}

// keySource caches the issuer's key set. Fetches are shared: callers that
// arrive while one runs wait for its result instead of starting another.
type keySource struct {
	cfg    OIDCConfig
	client *http.Client
	now    func() time.Time
	log    *slog.Logger

	mu          sync.Mutex
	keys        []jwk
	fetchedAt   time.Time
	lastAttempt time.Time
	lastLog     time.Time
	jwksURI     string // from discovery
	discAt      time.Time
	inflight    *flight[[]jwk]
}

func newKeySource(cfg OIDCConfig, o options) *keySource {
	return &keySource{cfg: cfg, client: o.client, now: o.now, log: o.log}
}

// get returns the key set, fetching it when the cache is empty or older
// than an hour. refresh asks for a refetch because of an unknown kid; it is
// honoured at most once every 10 s so bogus kids cannot hammer the IdP.
func (s *keySource) get(ctx context.Context, refresh bool) ([]jwk, error) {
	s.mu.Lock()
	if f := s.inflight; f != nil {
		s.mu.Unlock()
		return f.wait(ctx)
	}
	now := s.now()
	fresh := s.keys != nil && now.Sub(s.fetchedAt) < keyCacheTTL
	if fresh && (!refresh || now.Sub(s.lastAttempt) < refetchInterval) {
		keys := s.keys
		s.mu.Unlock()
		return keys, nil
	}
	f := newFlight[[]jwk]()
	s.inflight, s.lastAttempt = f, now
	s.mu.Unlock()

	keys, err := s.fetch(context.WithoutCancel(ctx))
	s.mu.Lock()
	if err == nil {
		s.keys, s.fetchedAt = keys, s.now()
	}
	s.inflight = nil
	logIt := err != nil && now.Sub(s.lastLog) >= refetchInterval
	if logIt {
		s.lastLog = now
	}
	s.mu.Unlock()
	if logIt { // at most every 10 s: during an IdP outage every request fails
		s.log.Warn("auth: cannot fetch the OIDC key set; signed bearer tokens are refused", "error", err)
	}
	f.finish(keys, err)
	return keys, err
}

func (s *keySource) fetch(ctx context.Context) ([]jwk, error) {
	uri, err := s.keySetURI(ctx)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := fetchJSON(ctx, s.client, uri, jwtFetchTimeout, &doc); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	keys := make([]jwk, 0, len(doc.Keys))
	for _, raw := range doc.Keys {
		if k, err := parseJWK(raw); err == nil {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// keySetURI is auth.oidc.jwks_uri, else the jwks_uri of the issuer's
// discovery document, which is cached like the keys.
func (s *keySource) keySetURI(ctx context.Context) (string, error) {
	if s.cfg.JWKSURI != "" {
		return s.cfg.JWKSURI, nil
	}
	s.mu.Lock()
	uri, at := s.jwksURI, s.discAt
	s.mu.Unlock()
	if uri != "" && s.now().Sub(at) < keyCacheTTL {
		return uri, nil
	}
	var doc map[string]json.RawMessage
	if err := fetchJSON(ctx, s.client, wellKnown(s.cfg.Issuer), jwtFetchTimeout, &doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if err := json.Unmarshal(doc["jwks_uri"], &uri); err != nil || uri == "" {
		return "", errors.New("discovery: no jwks_uri")
	}
	s.mu.Lock()
	s.jwksURI, s.discAt = uri, s.now()
	s.mu.Unlock()
	return uri, nil
}

// wellKnown is the OIDC discovery URL of issuer.
func wellKnown(issuer string) string {
	return strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
}

// rawJWK holds the members of a JWK that matter for verification.
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWK accepts RSA (≥ 2048 bits) and P-256 signature keys. Anything
// else, symmetric keys above all, is skipped so it can never verify.
func parseJWK(raw json.RawMessage) (jwk, error) {
	var r rawJWK
	if err := json.Unmarshal(raw, &r); err != nil {
		return jwk{}, err
	}
	if r.Use != "" && r.Use != "sig" {
		return jwk{}, errors.New("not a signature key")
	}
	k := jwk{kid: r.Kid, alg: r.Alg}
	var err error
	switch r.Kty {
	case "RSA":
		k.rsa, err = rsaKey(r.N, r.E)
	case "EC":
		k.ec, err = ecKey(r.Crv, r.X, r.Y)
	default:
		err = fmt.Errorf("key type %q not supported", r.Kty)
	}
	return k, err
}

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err1 := b64(n)
	eb, err2 := b64(e)
	if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("bad RSA key encoding")
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
	if key.N.BitLen() < minRSABits || key.E < 3 || key.E%2 == 0 {
		return nil, errors.New("weak RSA key")
	}
	return key, nil
}

func ecKey(crv, x, y string) (*ecdsa.PublicKey, error) {
	xb, err1 := b64(x)
	yb, err2 := b64(y)
	if crv != "P-256" || err1 != nil || err2 != nil || len(xb) > 32 || len(yb) > 32 {
		return nil, errors.New("bad EC key")
	}
	point := make([]byte, 65)
	point[0] = 4
	copy(point[33-len(xb):33], xb)
	copy(point[65-len(yb):], yb)
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
}

// fetchJSON GETs url into v within timeout. Only a 200 with a JSON body of
// at most maxDocBytes counts.
func fetchJSON(ctx context.Context, c *http.Client, url string, timeout time.Duration, v any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes+1))
	if err != nil {
		return err
	}
	if len(b) > maxDocBytes {
		return fmt.Errorf("GET %s: response larger than %d bytes", url, maxDocBytes)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: not JSON of the expected shape", url)
	}
	return nil
}

// flight is one fetch in progress whose result several callers share.
type flight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func newFlight[T any]() *flight[T] { return &flight[T]{done: make(chan struct{})} }

func (f *flight[T]) finish(v T, err error) {
	f.val, f.err = v, err
	close(f.done)
}

func (f *flight[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
