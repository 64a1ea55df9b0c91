package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// settle waits until no key-set fetch is running, so that a background
// refresh started by the previous verification has finished.
func settle(t *testing.T, e *Engine) {
	t.Helper()
	s := e.jwt.keys
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		idle := s.inflight == nil
		s.mu.Unlock()
		if idle {
			return
		}
	}
	t.Fatal("key-set fetch still running after 10 s")
}

// syncLog is a log buffer safe to write from background fetches.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// outageEnv is a jwtEnv whose engine logs to a buffer and counts
// observer events.
type outageEnv struct {
	*jwtEnv
	log            *syncLog
	stale          atomic.Int64
	fetchMu        sync.Mutex
	fetches, fails map[string]int
}

func newOutageEnv(t *testing.T, mutate func(*Config)) *outageEnv {
	t.Helper()
	j := newJWTEnv(t, mutate)
	o := &outageEnv{jwtEnv: j, log: &syncLog{}, fetches: map[string]int{}, fails: map[string]int{}}
	cfg := j.e.cfg
	e, err := NewEngine(cfg, seeded(), WithClock(j.clock.now), WithHTTPClient(j.iss.srv.Client()),
		WithLogger(slog.New(slog.NewTextHandler(o.log, nil))),
		WithObserver(Observer{
			Fetch: func(kind string, err error) {
				o.fetchMu.Lock()
				defer o.fetchMu.Unlock()
				o.fetches[kind]++
				if err != nil {
					o.fails[kind]++
				}
			},
			StaleKeys: func() { o.stale.Add(1) },
		}))
	if err != nil {
		t.Fatal(err)
	}
	j.e = e
	return o
}

func (o *outageEnv) token(t *testing.T) string {
	return signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, o.claims(nil), testKeys().rsa1)
}

func (o *outageEnv) counts() (fetches, fails map[string]int) {
	o.fetchMu.Lock()
	defer o.fetchMu.Unlock()
	return copyCounts(o.fetches), copyCounts(o.fails)
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// An IdP that goes down after the first fetch: tokens keep verifying with
// the last good key set through jwks_max_stale past its TTL, with a warning
// and the stale hook, and are refused after that.
func TestIdPDownAfterFirstFetch(t *testing.T) {
	o := newOutageEnv(t, func(c *Config) { c.OIDC.JWKSCacheTTL = 3600; c.OIDC.JWKSMaxStale = 7200 })
	verify := func(step, want string) {
		t.Helper()
		_, err := o.verify(o.token(t))
		wantDetail(t, err, want)
		if t.Failed() {
			t.Fatalf("at %s", step)
		}
		settle(t, o.e)
	}
	verify("first use", "")
	o.iss.setDown(true)

	o.clock.advance(3599 * time.Second) // in the refresh window: a background refresh fails
	verify("just before the TTL", "")
	if _, jw := o.iss.hits(); jw != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (first use, one background refresh)", jw)
	}
	if _, fails := o.counts(); fails[FetchJWKS] != 1 || fails[FetchDiscovery] != 0 {
		t.Errorf("failed fetches %v, want one of the key set", fails)
	}
	if !strings.Contains(o.log.String(), "cannot refresh the OIDC key set; the current one is valid until its TTL ends") {
		t.Errorf("log: %s", o.log.String())
	}
	if o.stale.Load() != 0 {
		t.Errorf("stale uses before the TTL: %d", o.stale.Load())
	}

	o.clock.advance(time.Hour) // an hour past the TTL
	verify("an hour past the TTL", "")
	if o.stale.Load() != 1 {
		t.Errorf("stale uses %d, want 1", o.stale.Load())
	}
	if !strings.Contains(o.log.String(), "tokens are verified with the last good key set (auth.oidc.jwks_max_stale)") {
		t.Errorf("log: %s", o.log.String())
	}
	o.clock.advance(time.Hour) // one second left (3599 + 3600 + 3600 = 10799)
	verify("just inside jwks_max_stale", "")

	o.clock.advance(time.Second)
	verify("at ttl + jwks_max_stale", MsgInvalidToken)
	o.clock.advance(time.Hour)
	verify("long after", MsgInvalidToken)

	o.iss.setDown(false)
	o.clock.advance(refetchInterval)
	verify("IdP back", "")
	if !strings.Contains(o.log.String(), "signed bearer tokens are refused") {
		t.Errorf("log: %s", o.log.String())
	}
}

// The key set is refreshed before it expires, in the background, while
// requests keep using the current one.
func TestKeySetRefreshedBeforeExpiry(t *testing.T) {
	o := newOutageEnv(t, nil)
	if _, err := o.verify(o.token(t)); err != nil {
		t.Fatal(err)
	}
	o.clock.advance(2300 * time.Second) // before two thirds of 3600 s
	if _, err := o.verify(o.token(t)); err != nil {
		t.Fatal(err)
	}
	settle(t, o.e)
	if _, jw := o.iss.hits(); jw != 1 {
		t.Errorf("%d JWKS fetches before the refresh window", jw)
	}
	o.clock.advance(100 * time.Second) // 2400 s: in the last third
	if _, err := o.verify(o.token(t)); err != nil {
		t.Fatal(err)
	}
	settle(t, o.e)
	if _, jw := o.iss.hits(); jw != 2 {
		t.Errorf("%d JWKS fetches, want a background refresh", jw)
	}
	// The refreshed set is fresh for another TTL: nothing is stale.
	o.clock.advance(3000 * time.Second)
	if _, err := o.verify(o.token(t)); err != nil {
		t.Fatal(err)
	}
	settle(t, o.e)
	if o.stale.Load() != 0 {
		t.Errorf("%d stale uses", o.stale.Load())
	}
	if fetches, fails := o.counts(); fetches[FetchJWKS] != 3 || len(fails) != 0 {
		t.Errorf("fetches %v, failures %v", fetches, fails)
	}
}

// After an idle period longer than the TTL the first token waits for a
// fresh key set rather than being checked against an expired one.
func TestExpiredKeySetRefetchedSynchronously(t *testing.T) {
	o := newOutageEnv(t, nil)
	k := testKeys()
	if _, err := o.verify(o.token(t)); err != nil {
		t.Fatal(err)
	}
	o.iss.setKeys(rsaJWK("rsa2", k.rsa2)) // rsa1 withdrawn by the IdP
	o.clock.advance(2 * time.Hour)
	_, err := o.verify(o.token(t))
	wantDetail(t, err, MsgInvalidToken)
	if o.stale.Load() != 0 {
		t.Errorf("expired key set used: %d", o.stale.Load())
	}
}

// An unknown kid during an outage is refetched at most every 10 s and the
// stale key set keeps serving the known kids.
func TestUnknownKidDuringOutage(t *testing.T) {
	o := newOutageEnv(t, nil)
	if _, err := o.verify(o.token(t)); err != nil {
		t.Fatal(err)
	}
	o.iss.setDown(true)
	o.clock.advance(2 * time.Hour)
	bogus := signToken(t, map[string]any{"alg": "RS256", "kid": "new"}, o.claims(nil), testKeys().rsa2)
	for range 5 {
		_, err := o.verify(bogus)
		wantDetail(t, err, MsgInvalidToken)
		settle(t, o.e)
	}
	if d, _ := o.iss.hits(); d != 2 {
		t.Errorf("%d discovery fetches for 5 unknown kids within 10 s, want 2 (first use, one refetch)", d)
	}
	if _, err := o.verify(o.token(t)); err != nil {
		t.Errorf("known kid: %v", err)
	}
}

// The discovery document must name the configured issuer: otherwise its
// jwks_uri could hand over another issuer's keys.
func TestDiscoveryIssuerMismatch(t *testing.T) {
	for _, tt := range []struct {
		name   string
		issuer any
		extra  StringList
		want   string
	}{
		{"other issuer", "https://evil.example", nil, MsgInvalidToken},
		{"trailing slash differs", "TRAILING", nil, MsgInvalidToken},
		{"not a string", 42, nil, MsgInvalidToken},
		{"missing", nil, nil, MsgInvalidToken},
		{"an additional issuer", "https://other.example", StringList{"https://other.example"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := newJWTEnv(t, func(c *Config) { c.OIDC.AdditionalIssuers = tt.extra })
			iss := tt.issuer
			if iss == "TRAILING" {
				iss = j.iss.srv.URL + "/"
			}
			j.iss.discovery = map[string]any{"issuer": iss}
			if iss == nil {
				j.iss.discovery = map[string]any{"issuer": json.RawMessage("null")}
			}
			_, err := j.verify(signToken(t, map[string]any{"alg": "RS256", "kid": "rsa1"}, j.claims(nil), testKeys().rsa1))
			wantDetail(t, err, tt.want)
			if _, jw := j.iss.hits(); tt.want != "" && jw != 0 {
				t.Errorf("JWKS fetched from a discovery document of another issuer")
			}
		})
	}
	t.Run("discovery endpoint", func(t *testing.T) {
		iss, _, d := newDiscoveryEnv(t, nil)
		iss.discovery = map[string]any{"issuer": "https://evil.example"}
		var doc DiscoveryDocument
		if err := json.Unmarshal([]byte(discoveryJSON(t, d)), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.OIDC.TokenEndpoint != nil || doc.OIDC.AuthorizationEndpoint != nil || doc.OIDC.Issuer != iss.srv.URL {
			t.Errorf("endpoints of another issuer passed on: %+v", doc.OIDC)
		}
	})
}

// A key set fetched once serves concurrent verifications during an outage
// without a fetch per request.
func TestOutageConcurrentVerifications(t *testing.T) {
	o := newOutageEnv(t, nil)
	if _, err := o.verify(o.token(t)); err != nil {
		t.Fatal(err)
	}
	o.iss.setDown(true)
	o.clock.advance(2 * time.Hour)
	tok := o.token(t)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := o.e.VerifyToken(context.Background(), tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	settle(t, o.e)
	if d, _ := o.iss.hits(); d > 3 {
		t.Errorf("%d discovery fetches for 32 verifications", d)
	}
}
