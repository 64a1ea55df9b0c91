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
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Intervals of docs/auth.md.
const (
	// refetchInterval is the least time between two key-set fetches caused
	// by unknown kids or failed refreshes, so that random kids or an IdP
	// outage cannot turn Coffer into a load generator against the IdP.
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
	key any    // *rsa.PublicKey or a P-256 *ecdsa.PublicKey
}

// fits reports whether the key may verify alg: the key type must match, so
// an EC key can never be used as an RSA key or the other way round.
func (k jwk) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch k.key.(type) {
	case *rsa.PublicKey:
		return alg == algRS256
	case *ecdsa.PublicKey:
		return alg == algES256
	}
	return false
}

// keySource caches the issuer's key set (docs/auth.md, "When the identity
// provider is down"). A key set is fresh for jwks_cache_ttl and refreshed
// in the background during the last third of that time; when refreshing
// fails it stays usable for jwks_max_stale past its expiry. Fetches are
// shared: callers that need one while it runs wait for its result instead
// of starting another.
type keySource struct {
	cfg      OIDCConfig
	client   *http.Client
	now      func() time.Time
	log      *slog.Logger
	observer Observer
	ttl      time.Duration
	maxStale time.Duration

	mu          sync.Mutex
	keys        []jwk
	fetchedAt   time.Time
	lastAttempt time.Time
	lastErr     error // of the last completed fetch
	lastLog     time.Time
	jwksURI     string // from discovery
	discAt      time.Time
	inflight    *flight[[]jwk]
}

func newKeySource(cfg OIDCConfig, o options) *keySource {
	return &keySource{cfg: cfg, client: o.client, now: o.now, log: o.log, observer: o.observer,
		ttl: time.Duration(cfg.JWKSCacheTTL) * time.Second, maxStale: time.Duration(cfg.JWKSMaxStale) * time.Second}
}

// get returns the key set for a token with key id kid. It fetches
// synchronously when there is no usable set, when kid is unknown (the IdP
// may have rotated; at most every refetchInterval) and when the set has
// expired without a failed refresh (an idle period, not an outage). In the
// last third of the TTL, and while serving an expired set, it starts a
// background refresh instead and answers at once.
func (s *keySource) get(ctx context.Context, kid string) ([]jwk, error) {
	s.mu.Lock()
	now := s.now()
	age := now.Sub(s.fetchedAt)
	usable := s.keys != nil && age < s.ttl+s.maxStale
	// Fetches are spaced by refetchInterval, or by the TTL when it is
	// shorter (a TTL under 10 s asks for that many fetches).
	mayStart := s.inflight == nil && now.Sub(s.lastAttempt) >= min(refetchInterval, s.ttl)
	unknownKid := kid != "" && !hasKid(s.keys, kid)
	wait := !usable || (unknownKid && (mayStart || s.inflight != nil)) || (age >= s.ttl && s.lastErr == nil)
	if wait && (s.inflight != nil || mayStart) {
		f := s.inflight
		if f == nil {
			f = s.start(now)
			s.mu.Unlock()
			go s.run(f)
		} else {
			s.mu.Unlock()
		}
		keys, err := f.wait(ctx)
		if err == nil {
			return keys, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		s.mu.Lock()
		now = s.now()
		age = now.Sub(s.fetchedAt)
		usable = s.keys != nil && age < s.ttl+s.maxStale
		if !usable {
			s.mu.Unlock()
			return nil, err
		}
	} else if !usable {
		err := s.lastErr
		s.mu.Unlock()
		if err == nil {
			err = errors.New("no key set")
		}
		return nil, fmt.Errorf("key set unavailable (refetch rate-limited): %w", err)
	} else if age >= s.ttl*2/3 && mayStart {
		f := s.start(now)
		go s.run(f)
	}
	keys := s.keys
	expired := age >= s.ttl
	s.mu.Unlock()
	if expired && s.observer.StaleKeys != nil {
		s.observer.StaleKeys()
	}
	return keys, nil
}

// start registers a fetch; s.mu is held.
func (s *keySource) start(now time.Time) *flight[[]jwk] {
	f := newFlight[[]jwk]()
	s.inflight, s.lastAttempt = f, now
	return f
}

// run performs the fetch of f, detached from any request, records its
// outcome and logs a failure at most every refetchInterval.
func (s *keySource) run(f *flight[[]jwk]) {
	keys, err := s.fetch(context.Background())
	s.mu.Lock()
	now := s.now()
	if err == nil {
		s.keys, s.fetchedAt = keys, now
	}
	s.lastErr = err
	logIt := err != nil && now.Sub(s.lastLog) >= refetchInterval
	if logIt {
		s.lastLog = now
	}
	have, fetchedAt := s.keys != nil, s.fetchedAt
	s.mu.Unlock()
	if logIt {
		s.logFailure(err, now, have, fetchedAt)
	}
	// The fetch counts as running until its failure is logged, so whoever
	// sees no fetch in flight also sees the log line it produced.
	s.mu.Lock()
	s.inflight = nil
	s.mu.Unlock()
	f.finish(keys, err)
}

// logFailure says what a failed refresh means for tokens right now.
func (s *keySource) logFailure(err error, now time.Time, have bool, fetchedAt time.Time) {
	expires, refused := fetchedAt.Add(s.ttl), fetchedAt.Add(s.ttl+s.maxStale)
	switch {
	case !have || !now.Before(refused):
		s.log.Warn("auth: cannot fetch the OIDC key set; signed bearer tokens are refused", "error", err)
	case now.Before(expires):
		s.log.Warn("auth: cannot refresh the OIDC key set; the current one is valid until its TTL ends",
			"error", err, "expires", expires.UTC().Format(time.RFC3339))
	default:
		s.log.Warn("auth: cannot refresh the OIDC key set; tokens are verified with the last good key set (auth.oidc.jwks_max_stale)",
			"error", err, "fetched", fetchedAt.UTC().Format(time.RFC3339), "refused_after", refused.UTC().Format(time.RFC3339))
	}
}

func (s *keySource) fetch(ctx context.Context) ([]jwk, error) {
	uri, err := s.keySetURI(ctx)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	err = fetchJSON(ctx, s.client, uri, jwtFetchTimeout, &doc)
	s.observer.fetched(FetchJWKS, err)
	if err != nil {
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
// discovery document, which is cached like the keys. When discovery fails
// the last known jwks_uri is used: the keys may still be reachable.
func (s *keySource) keySetURI(ctx context.Context) (string, error) {
	if s.cfg.JWKSURI != "" {
		return s.cfg.JWKSURI, nil
	}
	s.mu.Lock()
	known, at := s.jwksURI, s.discAt
	s.mu.Unlock()
	if known != "" && s.now().Sub(at) < s.ttl {
		return known, nil
	}
	uri, err := discoverKeySetURI(ctx, s.client, s.cfg)
	s.observer.fetched(FetchDiscovery, err)
	if err != nil {
		if known != "" {
			return known, nil
		}
		return "", fmt.Errorf("discovery: %w", err)
	}
	s.mu.Lock()
	s.jwksURI, s.discAt = uri, s.now()
	s.mu.Unlock()
	return uri, nil
}

// discoverKeySetURI reads jwks_uri from the issuer's discovery document,
// whose issuer must be one Coffer accepts (OpenID Connect Discovery §4.3):
// otherwise another issuer's keys could verify tokens claiming ours.
func discoverKeySetURI(ctx context.Context, c *http.Client, cfg OIDCConfig) (string, error) {
	var doc map[string]json.RawMessage
	if err := fetchJSON(ctx, c, wellKnown(cfg.Issuer), jwtFetchTimeout, &doc); err != nil {
		return "", err
	}
	if err := checkDiscoveryIssuer(doc, cfg); err != nil {
		return "", err
	}
	var uri string
	if err := json.Unmarshal(doc["jwks_uri"], &uri); err != nil || uri == "" {
		return "", errors.New("no jwks_uri")
	}
	return uri, nil
}

// checkDiscoveryIssuer compares a discovery document's issuer with the
// configured ones, exactly.
func checkDiscoveryIssuer(doc map[string]json.RawMessage, cfg OIDCConfig) error {
	var iss string
	if err := json.Unmarshal(doc["issuer"], &iss); err != nil || !cfg.acceptsIssuer(iss) {
		return fmt.Errorf("discovery document issuer %s is not auth.oidc.issuer or one of additional_issuers", doc["issuer"])
	}
	return nil
}

// wellKnown is the OIDC discovery URL of issuer.
func wellKnown(issuer string) string {
	return strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
}

// parseJWK admits a key of the set only if it can verify an allowed
// algorithm: a public RSA key of at least 2048 bits or a P-256 EC key, for
// signatures. Symmetric, private, encryption and other keys are skipped.
func parseJWK(raw json.RawMessage) (jwk, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return jwk{}, err
	}
	if !k.IsPublic() {
		return jwk{}, errors.New("not a public key")
	}
	if k.Use != "" && k.Use != "sig" {
		return jwk{}, errors.New("not a signature key")
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
			return jwk{}, errors.New("weak RSA key")
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return jwk{}, errors.New("EC key not on P-256")
		}
	default:
		return jwk{}, fmt.Errorf("key type %T not supported", k.Key)
	}
	return jwk{kid: k.KeyID, alg: k.Algorithm, key: k.Key}, nil
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
