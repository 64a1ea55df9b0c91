package auth

import (
	"log/slog"
	"net/http"
	"time"
)

// Option adjusts an Engine or a Discovery.
type Option func(*options)

type options struct {
	client   *http.Client
	now      func() time.Time
	log      *slog.Logger
	observer Observer
}

// Observer receives the events of talking to the identity provider, so the
// server can count them (metrics) without auth importing a metrics library.
// Nil fields are skipped. Hooks run on the request path and must be quick.
type Observer struct {
	// Fetch is called after every request to the IdP: kind is
	// FetchDiscovery or FetchJWKS, err nil on success.
	Fetch func(kind string, err error)
	// StaleKeys is called each time a token is checked against a key set
	// past auth.oidc.jwks_cache_ttl (the IdP could not be reached to
	// refresh it; see docs/auth.md, "When the identity provider is down").
	StaleKeys func()
}

// Kinds of IdP fetch passed to Observer.Fetch.
const (
	FetchDiscovery = "discovery"
	FetchJWKS      = "jwks"
)

func (o Observer) fetched(kind string, err error) {
	if o.Fetch != nil {
		o.Fetch(kind, err)
	}
}

// WithHTTPClient sets the client for IdP requests (discovery, JWKS); the
// timeouts of docs/auth.md still apply per request. Wrapping its Transport
// is another way to observe IdP traffic.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithClock replaces time.Now, so tests can move past token lifetimes and
// cache intervals without sleeping.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets where IdP fetch failures are logged (default slog.Default).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithObserver sets the hooks called on IdP fetches and stale key use.
func WithObserver(ob Observer) Option { return func(o *options) { o.observer = ob } }

func buildOptions(opts []Option) options {
	o := options{client: &http.Client{}, now: time.Now, log: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	return o
}
