package console_test

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
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// fakeIdP is an OpenID provider running in the test. It is a fake because no
// real identity provider can run on this machine; it implements what the
// console's sign-in uses, strictly: discovery, /authorize (approves at once
// and redirects back with code and state), /token (the authorization-code
// grant, refusing a code_verifier that does not match the S256 challenge)
// and /jwks, with RS256 tokens Coffer verifies as it would a real IdP's.
type fakeIdP struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey

	// sub, email: who signs in; ttl: access token lifetime.
	sub, email string
	ttl        atomic.Int64 // seconds
	// tamper makes /authorize send the browser back with a forged state.
	tamper atomic.Bool

	mu        sync.Mutex
	codes     map[string]grant
	tokenHits int
	refused   []string // why /token refused a request
}

// grant is what /authorize remembers of a request until the code is used.
type grant struct {
	clientID, redirectURI, challenge, nonce string
}

func newFakeIdP(t *testing.T, sub, email string) *fakeIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &fakeIdP{t: t, key: key, sub: sub, email: email, codes: map[string]grant{}}
	idp.ttl.Store(600)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", idp.discovery)
	mux.HandleFunc("GET /authorize", idp.authorize)
	mux.HandleFunc("POST /token", idp.token)
	mux.HandleFunc("GET /jwks", idp.jwks)
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

func (idp *fakeIdP) discovery(w http.ResponseWriter, _ *http.Request) {
	u := idp.srv.URL
	json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize",
		"token_endpoint": u + "/token", "jwks_uri": u + "/jwks", "response_types_supported": []string{"code"},
		"code_challenge_methods_supported": []string{"S256"}})
}

func (idp *fakeIdP) jwks(w http.ResponseWriter, _ *http.Request) {
	enc := base64.RawURLEncoding.EncodeToString
	json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k1", "use": "sig",
		"alg": "RS256", "n": enc(idp.key.N.Bytes()), "e": enc(big.NewInt(int64(idp.key.E)).Bytes())}}})
}

// authorize approves every well-formed request at once: the user "signs in".
func (idp *fakeIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, want := range map[string]string{"response_type": "code", "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			http.Error(w, k+" must be "+want, http.StatusBadRequest)
			return
		}
	}
	for _, k := range []string{"client_id", "redirect_uri", "state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			http.Error(w, k+" missing", http.StatusBadRequest)
			return
		}
	}
	if !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		http.Error(w, "scope lacks openid", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	idp.mu.Lock()
	idp.codes[code] = grant{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
	idp.mu.Unlock()
	state := q.Get("state")
	if idp.tamper.Load() {
		state = "forged-" + state[:8]
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", state)
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token is the authorization-code grant for a public client with PKCE.
func (idp *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	// Real IdPs allow the registered web origins of a browser client.
	w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	w.Header().Set("Content-Type", "application/json")
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.tokenHits++
	refuse := func(why string) {
		idp.refused = append(idp.refused, why)
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": why})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		refuse("not an authorization_code grant")
		return
	}
	g, ok := idp.codes[r.PostForm.Get("code")]
	delete(idp.codes, r.PostForm.Get("code")) // a code is used once
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !ok:
		refuse("unknown or used code")
	case r.PostForm.Get("client_id") != g.clientID || r.PostForm.Get("redirect_uri") != g.redirectURI:
		refuse("client_id or redirect_uri differ from the authorization request")
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		refuse("code_verifier does not match the S256 code_challenge")
	default:
		now := time.Now().Unix()
		ttl := idp.ttl.Load()
		access := idp.sign(map[string]any{"iss": idp.srv.URL, "aud": "coffer", "sub": idp.sub, "email": idp.email,
			"iat": now, "exp": now + ttl, "scope": "openid email"})
		id := idp.sign(map[string]any{"iss": idp.srv.URL, "aud": g.clientID, "sub": idp.sub, "email": idp.email,
			"iat": now, "exp": now + ttl, "nonce": g.nonce})
		json.NewEncoder(w).Encode(map[string]any{"access_token": access, "id_token": id, "token_type": "Bearer", "expires_in": ttl})
	}
}

// sign makes an RS256 JWT with the IdP's key.
func (idp *fakeIdP) sign(claims map[string]any) string {
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	input := enc(h) + "." + enc(c)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, idp.key, crypto.SHA256, digest[:])
	if err != nil {
		idp.t.Error(err)
	}
	return input + "." + enc(sig)
}

// hits returns how many token requests arrived and why any were refused.
func (idp *fakeIdP) hits() (int, []string) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	return idp.tokenHits, append([]string(nil), idp.refused...)
}

// oidcEnv configures Coffer with auth and OIDC against the IdP at issuer.
func oidcEnv(issuer string) map[string]string {
	return map[string]string{"NMP_AUTH_ENABLED": "true", "NMP_AUTH_ADMIN_EMAIL": "boss@corp.com",
		"NMP_AUTH_OIDC_ENABLED": "true", "NMP_AUTH_OIDC_ISSUER": issuer, "NMP_AUTH_OIDC_AUDIENCE": "coffer",
		"NMP_AUTH_OIDC_CLIENT_ID": "coffer-cli", "COFFER_CONSOLE_CLIENT_ID": "coffer-console",
		"NMP_AUTH_OIDC_CLOCK_SKEW": "0"}
}

// TestConsoleSignInWithFakeIdP signs in through the console with the
// authorization-code flow and PKCE against fakeIdP (a fake: no real IdP can
// run here), lists workspaces as the signed-in user, signs out, is told
// when the session has expired, and refuses an answer with a forged state.
func TestConsoleSignInWithFakeIdP(t *testing.T) {
	idp := newFakeIdP(t, "alice", "alice@example.com")
	c := startCoffer(t, oidcEnv(idp.srv.URL))
	admin := "X-NMP-Principal-Id: admin1"
	if res, body := c.do(t, "POST", "/apis/entities/v2/workspaces", `{"name":"ml"}`, admin); res.StatusCode != 201 {
		t.Fatalf("create workspace: %d %s", res.StatusCode, body)
	}
	if res, body := c.do(t, "POST", "/apis/entities/v2/workspaces/ml/members", `{"principal":"alice@example.com","roles":["Viewer"]}`, admin); res.StatusCode != 201 {
		t.Fatalf("add alice: %d %s", res.StatusCode, body)
	}
	if res, body := c.do(t, "POST", "/apis/secrets/v2/workspaces/ml/secrets", `{"name":"hf-token","value":"`+valueV1+`"}`, admin); res.StatusCode != 201 {
		t.Fatalf("create secret: %d %s", res.StatusCode, body)
	}

	tb := newTab(t, 1280, 800)
	tb.do(chromedp.Navigate(c.URL + "/#/ws/ml"))
	tb.wait(`document.querySelector('h1')?.textContent === 'Sign in' && document.querySelector('button[data-signin]')`)
	tb.screenshot("sign-in")
	tb.click(`button[data-signin]`)
	// Back from the IdP on the address asked for, signed in as alice.
	tb.waitAcross(`document.querySelector('h1')?.textContent === 'Secrets in ml' && document.querySelector('tr[data-name="hf-token"]')`)
	if got := eval[string](tb, `location.pathname + location.search + location.hash`); got != "/#/ws/ml" {
		t.Errorf("address after sign-in %q: the code must not stay in it", got)
	}
	if got := eval[string](tb, `document.querySelector('#who').textContent`); !strings.Contains(got, "Signed in as alice@example.com") {
		t.Errorf("who: %q", got)
	}
	if got := eval[string](tb, `[...document.querySelectorAll('#ws-select option')].map((o) => o.value).join(',')`); !strings.Contains(got, "ml") {
		t.Errorf("workspaces listed for alice: %q", got)
	}
	// Where things are kept: the token in this tab's sessionStorage only;
	// nothing of the sign-in in localStorage or cookies, and the PKCE
	// verifier gone once used.
	if got := eval[string](tb, `JSON.stringify(Object.keys(sessionStorage).sort()) + ' ' + localStorage.length + ' ' + JSON.stringify(document.cookie)`); got != `["coffer.session"] 0 ""` {
		t.Errorf("storage after sign-in: %s", got)
	}
	if hits, refused := idp.hits(); hits != 1 || len(refused) != 0 {
		t.Errorf("token requests %d, refused %v", hits, refused)
	}
	if n := tb.check(valueV1); n < 3 {
		t.Errorf("only %d API responses checked", n)
	}

	// Sign out: the token is forgotten and the API is no longer called
	// with it.
	tb.click(`button[data-signout]`)
	tb.wait(`document.querySelector('h1')?.textContent === 'Signed out' && document.querySelector('button[data-signin]')`)
	if got := eval[int](tb, `sessionStorage.length`); got != 0 {
		t.Errorf("sessionStorage holds %d items after sign-out", got)
	}
	tb.do(chromedp.Reload())
	tb.wait(`document.querySelector('h1')?.textContent === 'Sign in'`)

	// A session that expires: the IdP now issues tokens for 3 seconds. The
	// page is re-shown until Coffer refuses the token, as a user clicking
	// about would.
	idp.ttl.Store(3)
	tb.click(`button[data-signin]`)
	tb.waitAcross(`document.querySelector('#who')?.textContent.includes('alice@example.com') || document.querySelector('h1')?.textContent.startsWith('Your session')`)
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[any](`document.querySelector('h1')?.textContent === 'Your session has expired — sign in again' ||
	  (window.dispatchEvent(new HashChangeEvent('hashchange')), false)`,
		chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("no session-expired page: %v\n%s", err, tb.dump())
	}
	tb.screenshot("session-expired")
	if got := eval[string](tb, `JSON.stringify(Object.keys(sessionStorage)) + ' ' + document.querySelector('#who').textContent`); got != "[] " {
		t.Errorf("after expiry: %s", got)
	}
	idp.ttl.Store(600)

	// A forged state is refused before any token request.
	before, _ := idp.hits()
	idp.tamper.Store(true)
	tb.click(`button[data-signin]`)
	tb.waitAcross(`document.querySelector('h1')?.textContent === 'Sign-in failed'`)
	if txt := tb.text(); !strings.Contains(txt, "state mismatch") {
		t.Errorf("refusal not explained: %s", txt)
	}
	if after, _ := idp.hits(); after != before {
		t.Errorf("a forged state reached the token endpoint (%d requests, %d before)", after, before)
	}
	if got := eval[string](tb, `JSON.stringify(Object.keys(sessionStorage)) + ' ' + location.search`); got != "[] " {
		t.Errorf("after a refused sign-in: %s", got)
	}
	// And the code of that answer cannot be replayed on the callback.
	tb.do(chromedp.Navigate(c.URL + "/console/callback?code=x&state=y"))
	tb.wait(`document.querySelector('h1')?.textContent === 'Sign-in failed'`)
	tb.check(valueV1)
}

// waitAcross is wait for a condition reached through page loads (to the
// IdP and back): a poll cut short by a navigation is started again on the
// new page.
func (tb *tab) waitAcross(cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := chromedp.Run(tb.ctx, chromedp.Poll[any](cond, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if time.Now().After(deadline) || !(strings.Contains(err.Error(), "context") || strings.Contains(err.Error(), "navigated")) {
			tb.t.Fatalf("waiting for %s: %v\n%s", cond, err, tb.dump())
		}
	}
}
