package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// maxTokenBytes bounds the work an unauthenticated client can cause; real
// tokens, even with hundreds of groups, are far smaller.
const maxTokenBytes = 64 << 10

// Identify is step 2 of docs/auth.md "For integrators" for a request
// without a header identity: a bearer token is verified (failures are
// *Errors of KindInvalidToken), anything else is anonymous. Anonymous
// scopes come from X-NMP-Scopes, read only when trustedPeer is true. With
// auth disabled tokens are never examined. It takes the request's headers,
// not the request: reading credentials is input parsing, and the decision
// that follows knows no protocol.
func (e *Engine) Identify(ctx context.Context, h http.Header, trustedPeer bool) (Principal, error) {
	if !e.cfg.Enabled {
		return Principal{}, nil
	}
	if token, ok := bearerToken(h.Get("Authorization")); ok {
		return e.jwt.verify(ctx, token)
	}
	var p Principal
	if trustedPeer {
		p.Scopes = ScopesFromHeader(h)
	}
	return p, nil
}

// VerifyToken authenticates a bearer token (docs/auth.md "Running behind an OIDC provider") regardless of
// auth.enabled, for callers that extract the token themselves.
func (e *Engine) VerifyToken(ctx context.Context, token string) (Principal, error) {
	return e.jwt.verify(ctx, token)
}

func bearerToken(v string) (string, bool) {
	const prefix = "bearer "
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", false
	}
	return v[len(prefix):], true
}

// verifier checks bearer JWTs. Signed tokens are parsed and verified by
// go-jose with an explicit allow-list (RS256, ES256), so "none" and HMAC
// can never verify; unsigned development tokens are recognised by hand
// before go-jose sees them. Claims, key selection, size caps and refetch
// limits are Coffer's own.
type verifier struct {
	cfg  Config
	keys *keySource
	now  func() time.Time
	skew time.Duration
}

// allowedAlgs is the only place signature algorithms are admitted.
var allowedAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

func newVerifier(cfg Config, o options) *verifier {
	v := &verifier{cfg: cfg, now: o.now, skew: time.Duration(cfg.OIDC.ClockSkew) * time.Second}
	if cfg.OIDC.Enabled {
		v.keys = newKeySource(cfg.OIDC, o)
	}
	return v
}

func (v *verifier) verify(ctx context.Context, token string) (Principal, error) {
	if !v.cfg.OIDC.Enabled && !v.cfg.AllowUnsignedJWT {
		return Principal{}, &Error{Kind: KindInvalidToken, Detail: MsgBearerNotConfigured}
	}
	alg, err := headerAlg(token)
	if err != nil {
		return Principal{}, invalidToken(err)
	}
	if strings.EqualFold(alg, "none") {
		return v.unsigned(token) // its signature part is ignored, so it may be anything
	}
	if !compactJWS(token) {
		return Principal{}, invalidToken(errors.New("not a compact JWS in canonical base64url"))
	}
	if !v.cfg.OIDC.Enabled {
		return Principal{}, invalidToken(errors.New("signed token while auth.oidc.enabled is false"))
	}
	c, err := v.signed(ctx, token)
	if err != nil {
		return Principal{}, invalidToken(err)
	}
	p, err := v.principal(c)
	if err != nil {
		return Principal{}, invalidToken(err)
	}
	return p, nil
}

// unsigned accepts alg=none tokens for local development only; their
// signature segment is ignored and iss/aud are not checked.
func (v *verifier) unsigned(token string) (Principal, error) {
	if !v.cfg.AllowUnsignedJWT {
		return Principal{}, &Error{Kind: KindInvalidToken, Detail: MsgUnsignedRefused}
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Principal{}, invalidToken(errors.New("not a compact JWS"))
	}
	raw, err := b64(parts[1])
	if err != nil {
		return Principal{}, invalidToken(errors.New("payload is not base64url"))
	}
	c, err := decodeClaims(raw)
	if err == nil {
		err = v.checkTimes(c)
	}
	var p Principal
	if err == nil {
		p, err = v.principal(c)
	}
	if err != nil {
		return Principal{}, invalidToken(err)
	}
	return p, nil
}

// signed verifies the signature first, then the claims.
func (v *verifier) signed(ctx context.Context, token string) (claims, error) {
	sig, err := jose.ParseSignedCompact(token, allowedAlgs)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	h := sig.Signatures[0].Protected
	// crit (and b64, which only means something with crit) would change
	// what is signed; no IdP sends them in an access token.
	for _, name := range []jose.HeaderKey{"crit", "b64"} {
		if _, ok := h.ExtraHeaders[name]; ok {
			return nil, fmt.Errorf("%s header not supported", name)
		}
	}
	key, err := v.key(ctx, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	payload, err := sig.Verify(key.key)
	if err != nil {
		return nil, errors.New("bad signature")
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := v.checkTimes(c); err != nil {
		return nil, err
	}
	return c, v.checkIssuerAudience(c)
}

// key picks the verification key. An unknown kid may mean the issuer
// rotated its keys, hence a (rate-limited) refetch.
func (v *verifier) key(ctx context.Context, kid, alg string) (jwk, error) {
	keys, err := v.keys.get(ctx, kid)
	if err != nil {
		return jwk{}, err
	}
	return selectKey(keys, kid, alg)
}

func hasKid(keys []jwk, kid string) bool {
	return slices.ContainsFunc(keys, func(k jwk) bool { return k.kid == kid })
}

// selectKey applies docs/auth.md: by kid, or the only key when the token
// has none; the key type must match alg so an EC key is never used as RSA.
func selectKey(keys []jwk, kid, alg string) (jwk, error) {
	if kid == "" {
		if len(keys) != 1 {
			return jwk{}, fmt.Errorf("token has no kid and the key set holds %d usable keys", len(keys))
		}
		keys = keys[:1]
	}
	for _, k := range keys {
		if (kid == "" || k.kid == kid) && k.fits(alg) {
			return k, nil
		}
	}
	return jwk{}, fmt.Errorf("no %s key with kid %q", alg, kid)
}

// checkTimes enforces exp, iat and nbf with clock_skew of tolerance, so a
// token from an IdP whose clock is a little ahead is not refused.
func (v *verifier) checkTimes(c claims) error {
	now := float64(v.now().UnixNano()) / 1e9
	skew := v.skew.Seconds()
	exp, ok, err := c.number("exp")
	switch {
	case err != nil:
		return err
	case !ok:
		return errors.New("exp missing")
	case exp+skew <= now:
		return errors.New("token expired")
	}
	iat, ok, err := c.number("iat")
	switch {
	case err != nil:
		return err
	case !ok:
		return errors.New("iat missing")
	case iat > now+skew:
		return errors.New("iat in the future")
	}
	nbf, ok, err := c.number("nbf")
	if err != nil {
		return err
	}
	if ok && nbf > now+skew {
		return errors.New("token not yet valid (nbf)")
	}
	return nil
}

func (v *verifier) checkIssuerAudience(c claims) error {
	iss, _ := c.str("iss")
	o := v.cfg.OIDC
	if !o.acceptsIssuer(iss) {
		return fmt.Errorf("issuer %q not accepted", iss)
	}
	// An audience, when configured, is always checked; only its absence
	// needs skip_audience_check (Config.Validate).
	if o.Audience != "" && !slices.Contains(c.list("aud"), o.Audience) {
		return errors.New("audience not accepted")
	}
	return nil
}

// acceptsIssuer reports whether iss is the configured issuer or one of the
// additional ones, compared exactly.
func (o OIDCConfig) acceptsIssuer(iss string) bool {
	return iss != "" && (iss == o.Issuer || slices.Contains(o.AdditionalIssuers, iss))
}

// principal maps claims to a Principal (docs/auth.md "Running behind an OIDC provider"). JWT values are not
// held to the identity-header character rules.
func (v *verifier) principal(c claims) (Principal, error) {
	if _, ok := c.str("sub"); !ok {
		return Principal{}, errors.New("sub missing or not a string")
	}
	o := v.cfg.OIDC
	subject := orDefault(o.SubjectClaim, defaultSubjectClaim)
	if !c.present(subject) {
		subject = "sub"
	}
	id, _ := c.str(subject)
	if id == "" {
		return Principal{}, fmt.Errorf("claim %q is not a non-empty string", subject)
	}
	p := Principal{ID: id}
	p.Email, _ = c.str(orDefault(o.EmailClaim, defaultEmailClaim))
	p.Groups = c.groups(orDefault(o.GroupsClaim, defaultGroupsClaim))
	p.Scopes = stripPrefix(c.scopes(), o.ScopePrefix)
	return p, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func stripPrefix(scopes []string, prefix string) []string {
	if prefix == "" {
		return scopes
	}
	out := scopes[:0]
	for _, s := range scopes {
		if s = strings.TrimPrefix(s, prefix); s != "" {
			out = append(out, s)
		}
	}
	return out
}

const (
	algRS256 = "RS256"
	algES256 = "ES256"
)

// headerAlg reads the alg of a compact JWS by hand, only to recognise an
// unsigned development token before go-jose (which never admits "none")
// parses anything. A token whose header cannot be read is refused.
func headerAlg(token string) (string, error) {
	if token == "" || len(token) > maxTokenBytes {
		return "", errors.New("empty or oversized token")
	}
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", errors.New("not a compact JWS")
	}
	raw, err := b64(head)
	if err != nil {
		return "", errors.New("header is not base64url")
	}
	var h map[string]json.RawMessage
	if err := decodeObject(raw, &h); err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	var alg string
	if err := json.Unmarshal(h["alg"], &alg); err != nil || alg == "" {
		return "", errors.New("header alg missing or not a string")
	}
	return alg, nil
}

// b64 decodes base64url with or without padding.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// compactJWS reports whether token is a compact JWS in its one canonical
// spelling: three parts joined by dots, each only base64url characters (and
// optional padding) whose unused trailing bits are zero. Go's base64
// decoders, ours and go-jose's, skip line breaks and ignore those bits, and
// go-jose checks the signature over the payload as it re-encodes it, so
// without this check one signed token would verify in many spellings
// (found by FuzzVerifyToken).
func compactJWS(token string) bool {
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '=':
		default:
			return false
		}
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimRight(p, "=")); err != nil {
			return false
		}
	}
	return true
}

// decodeObject decodes a JSON object keeping keys exactly: encoding/json
// matches struct fields case-insensitively, which would let "ALG" or "Exp"
// stand in for the real claim.
func decodeObject(b []byte, into *map[string]json.RawMessage) error {
	if err := json.Unmarshal(b, into); err != nil || *into == nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// claims are a JWT payload with exact key matching.
type claims map[string]json.RawMessage

func decodeClaims(raw []byte) (claims, error) {
	var m map[string]json.RawMessage
	if err := decodeObject(raw, &m); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return claims(m), nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// present treats null as absent, as a claims dictionary lookup would.
func (c claims) present(name string) bool {
	raw, ok := c[name]
	return ok && !isNull(raw)
}

func (c claims) str(name string) (string, bool) {
	var s string
	if !c.present(name) || json.Unmarshal(c[name], &s) != nil {
		return "", false
	}
	return s, true
}

// number reads a time claim, which must be a JSON number: a numeric string
// is malformed, not a time.
func (c claims) number(name string) (float64, bool, error) {
	if !c.present(name) {
		return 0, false, nil
	}
	raw := bytes.TrimSpace(c[name])
	var f float64
	if (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) || json.Unmarshal(raw, &f) != nil {
		return 0, false, fmt.Errorf("%s is not a JSON number", name)
	}
	return f, true, nil
}

// list reads a string or a list of strings, dropping empty and non-string
// items.
func (c claims) list(name string) []string {
	if s, ok := c.str(name); ok {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	var items []json.RawMessage
	if !c.present(name) || json.Unmarshal(c[name], &items) != nil {
		return nil
	}
	var out []string
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// splitList reads a claim that is either a separated string or a list.
func (c claims) splitList(name string, split func(string) []string) []string {
	if s, ok := c.str(name); ok {
		return split(s)
	}
	return c.list(name)
}

// groups reads the first present of the configured claim and
// cognito:groups (AWS Cognito's fixed name).
func (c claims) groups(claim string) []string {
	if !c.present(claim) {
		claim = cognitoGroupsClaim
	}
	return c.splitList(claim, splitCommas)
}

// scopes reads scope, or scp (Azure AD, Okta) when scope is absent or empty.
func (c claims) scopes() []string {
	if s := c.splitList("scope", strings.Fields); len(s) > 0 {
		return s
	}
	return c.splitList("scp", strings.Fields)
}

func splitCommas(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}
