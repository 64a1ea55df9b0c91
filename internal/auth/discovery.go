package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// discoveryFetchTimeout bounds GET /apis/auth/discovery (docs/auth.md
// "Running behind an OIDC provider"): the endpoint is public and the SDK
// calls it before logging in, so a slow IdP must not hang it for long.
const discoveryFetchTimeout = 5 * time.Second

// DiscoveryDocument is the body of GET /apis/auth/discovery (docs/auth.md "Running behind an OIDC provider").
// Field order is the key order on the wire; nil pointers are JSON nulls.
type DiscoveryDocument struct {
	AuthEnabled bool           `json:"auth_enabled"`
	OIDC        *DiscoveryOIDC `json:"oidc"`
}

// DiscoveryOIDC tells clients how to log in to the IdP.
type DiscoveryOIDC struct {
	Issuer                      string  `json:"issuer"`
	AuthorizationEndpoint       *string `json:"authorization_endpoint"`
	TokenEndpoint               *string `json:"token_endpoint"`
	DeviceAuthorizationEndpoint *string `json:"device_authorization_endpoint"`
	UserinfoEndpoint            *string `json:"userinfo_endpoint"`
	ClientID                    string  `json:"client_id"`
	DefaultScopes               string  `json:"default_scopes"`
	ScopePrefix                 *string `json:"scope_prefix"`
}

// idpEndpoints are the IdP values GET /apis/auth/discovery passes on.
type idpEndpoints struct {
	authorization, token, device, userinfo *string
}

// Discovery serves GET /apis/auth/discovery. It works whether or not auth
// is enabled and is safe for concurrent use.
type Discovery struct {
	cfg      Config
	client   *http.Client
	now      func() time.Time
	log      *slog.Logger
	observer Observer

	mu       sync.Mutex
	good     *idpEndpoints // last successful fetch
	goodAt   time.Time
	lastLog  time.Time
	inflight *flight[*idpEndpoints]
}

// NewDiscovery returns the discovery endpoint's source for cfg.
func NewDiscovery(cfg Config, opts ...Option) *Discovery {
	o := buildOptions(opts)
	return &Discovery{cfg: cfg, client: o.client, now: o.now, log: o.log, observer: o.observer}
}

// Document builds the response body. An unreachable IdP never fails it:
// the last good copy is used, or the configured values alone.
func (d *Discovery) Document(ctx context.Context) DiscoveryDocument {
	o := d.cfg.OIDC
	doc := DiscoveryDocument{AuthEnabled: d.cfg.Enabled}
	if !o.Enabled || o.Issuer == "" {
		return doc
	}
	idp := d.endpoints(ctx)
	if idp == nil {
		idp = &idpEndpoints{}
	}
	doc.OIDC = &DiscoveryOIDC{
		Issuer:                      o.Issuer,
		AuthorizationEndpoint:       override(o.AuthorizationEndpoint, idp.authorization),
		TokenEndpoint:               override(o.TokenEndpoint, idp.token),
		DeviceAuthorizationEndpoint: override(o.DeviceAuthorizationEndpoint, idp.device),
		UserinfoEndpoint:            idp.userinfo,
		ClientID:                    o.ClientID,
		DefaultScopes:               o.DefaultScopes,
		ScopePrefix:                 override(o.ScopePrefix, nil),
	}
	return doc
}

func override(configured string, fromIdP *string) *string {
	if configured != "" {
		return &configured
	}
	return fromIdP
}

// endpoints returns the IdP document's values, cached for
// discovery_cache_ttl seconds (0: fetched every time), or the last good
// copy (possibly nil) when the fetch fails.
func (d *Discovery) endpoints(ctx context.Context) *idpEndpoints {
	ttl := time.Duration(d.cfg.OIDC.DiscoveryCacheTTL) * time.Second
	d.mu.Lock()
	if d.good != nil && ttl > 0 && d.now().Sub(d.goodAt) < ttl {
		good := d.good
		d.mu.Unlock()
		return good
	}
	f := d.inflight
	if f != nil {
		d.mu.Unlock()
		return d.await(ctx, f)
	}
	f = newFlight[*idpEndpoints]()
	d.inflight = f
	d.mu.Unlock()

	fetched, err := d.fetch(context.WithoutCancel(ctx))
	d.mu.Lock()
	if err == nil {
		d.good, d.goodAt = fetched, d.now()
	}
	good := d.good
	d.inflight = nil
	logIt := err != nil && d.now().Sub(d.lastLog) >= refetchInterval
	if logIt {
		d.lastLog = d.now()
	}
	d.mu.Unlock()
	if logIt { // rate-limited: with a TTL of 0 every request fetches
		d.log.Warn("auth: cannot fetch the IdP discovery document; using the last good copy", "error", err)
	}
	f.finish(good, nil)
	return good
}

// await waits for another caller's fetch, falling back to the last good
// copy if this request is cancelled first.
func (d *Discovery) await(ctx context.Context, f *flight[*idpEndpoints]) *idpEndpoints {
	if v, err := f.wait(ctx); err == nil {
		return v
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.good
}

func (d *Discovery) fetch(ctx context.Context) (*idpEndpoints, error) {
	var doc map[string]json.RawMessage
	err := fetchJSON(ctx, d.client, wellKnown(d.cfg.OIDC.Issuer), discoveryFetchTimeout, &doc)
	if err == nil {
		// A document naming another issuer is not ours: passing its
		// endpoints on would send users to log in somewhere else.
		err = checkDiscoveryIssuer(doc, d.cfg.OIDC)
	}
	d.observer.fetched(FetchDiscovery, err)
	if err != nil {
		return nil, err
	}
	str := func(key string) *string {
		var s string
		if json.Unmarshal(doc[key], &s) != nil {
			return nil
		}
		return &s
	}
	return &idpEndpoints{
		authorization: str("authorization_endpoint"),
		token:         str("token_endpoint"),
		device:        str("device_authorization_endpoint"),
		userinfo:      str("userinfo_endpoint"),
	}, nil
}
