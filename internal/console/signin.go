package console

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Names of the console's generated responses under AssetPrefix.
const (
	// ConfigName is the console's settings for sign-in (docs/console.md,
	// "Signing in"): GET /console/config.json.
	ConfigName = "config.json"
	// CallbackPath is where the identity provider sends the browser back
	// after sign-in: the console's page, which finishes the sign-in. It is
	// the redirect URI to register with the IdP (with the console's origin).
	CallbackPath = AssetPrefix + callbackName
	callbackName = "callback"
)

// Config is what the console needs from the configuration to sign users
// in with OIDC (authorization code with PKCE in the browser).
type Config struct {
	// ClientID is the IdP client the console signs in with: a public
	// client (no secret) allowed the authorization-code flow with PKCE and
	// CallbackPath as a redirect URI. Empty: no sign-in in the console.
	ClientID string
	// Issuer is auth.oidc.issuer; its origin is where the browser fetches
	// tokens unless TokenEndpoint is set.
	Issuer string
	// TokenEndpoint is auth.oidc.token_endpoint, when configured.
	TokenEndpoint string
}

// Console serves the console's files with a policy computed once from its
// Config. It is safe for concurrent use.
type Console struct {
	csp    string
	config file
}

// settings is the body of GET /console/config.json. Endpoints and scopes
// come from GET /apis/auth/discovery, whose shape is fixed; this carries
// only what the console adds.
type settings struct {
	// ClientID is null when the console has no sign-in.
	ClientID *string `json:"client_id"`
	// RedirectPath is CallbackPath.
	RedirectPath string `json:"redirect_path"`
	// ConnectOrigins are the origins besides its own the page may fetch
	// from (the token endpoint's), as in the CSP's connect-src: the console
	// refuses to start a sign-in whose token endpoint is elsewhere, with a
	// message, instead of failing on a CSP violation.
	ConnectOrigins []string `json:"connect_origins"`
}

var defaultConsole = mustNew(Config{})

// Default returns the console without sign-in.
func Default() *Console { return defaultConsole }

func mustNew(cfg Config) *Console {
	c, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return c
}

// New returns the console for cfg. With a client id, connect-src admits the
// origin of the token endpoint (configured, else the issuer's), and an
// endpoint that is not an http(s) URL is an error naming the setting.
func New(cfg Config) (*Console, error) {
	s := settings{RedirectPath: CallbackPath, ConnectOrigins: []string{}}
	csp := CSP
	if cfg.ClientID != "" {
		key, raw := "auth.oidc.issuer", cfg.Issuer
		if cfg.TokenEndpoint != "" {
			key, raw = "auth.oidc.token_endpoint", cfg.TokenEndpoint
		}
		o, err := Origin(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (the console fetches tokens from its origin)", key, err)
		}
		id := cfg.ClientID
		s.ClientID, s.ConnectOrigins = &id, []string{o}
		csp = strings.Replace(CSP, "connect-src 'self'", "connect-src 'self' "+o, 1)
	}
	body, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return &Console{csp: csp, config: newFile(body, "application/json")}, nil
}

// CSP returns the Content-Security-Policy of this console's responses.
func (c *Console) CSP() string { return c.csp }

// Origin returns scheme://host[:port] of an http(s) URL, lower-cased, for a
// CSP source list: no path, no wildcard, nothing that could end the
// directive.
func Origin(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("not an http(s) URL")
	}
	host := strings.ToLower(u.Host)
	for _, r := range host {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r)
		if !ok {
			return "", fmt.Errorf("host %q is not a plain host name or address", host)
		}
	}
	return strings.ToLower(u.Scheme) + "://" + host, nil
}
