// Package transittest is a TEST DOUBLE of an external system: an in-process
// HTTP server that imitates the encrypt and decrypt endpoints of the
// HashiCorp Vault / OpenBao Transit secrets engine, closely enough to test
// Coffer's vault provider on machines where neither Vault nor OpenBao can be
// installed. It is not Vault: it implements only
//
//	POST /v1/{mount}/encrypt/{key}  {"plaintext":"<base64>"}  -> data.ciphertext
//	POST /v1/{mount}/decrypt/{key}  {"ciphertext":"vault:vN:…"} -> data.plaintext
//
// with real AES-256-GCM (the aes256-gcm96 key type: a 12-byte random nonce
// prepended to ciphertext and tag), versioned keys, token checking and the
// error shapes Vault uses ({"errors":[…]}), plus the token lifecycle a
// client needs:
//
//	GET  /v1/auth/token/lookup-self   -> data.ttl, data.renewable, data.expire_time
//	POST /v1/auth/token/renew-self    -> auth.client_token, auth.lease_duration, auth.renewable
//	POST /v1/auth/{mount}/login       -> AppRole {"role_id","secret_id"} or Kubernetes {"role","jwt"}
//
// Tokens have a TTL, a maximum TTL and a renewable flag; an expired token is
// refused with 403 as Vault does. Tests can rotate keys, inject failures
// (status codes, the next n failures, reset connections, delays, a stopped
// listener, corrupt replies) and count requests, logins, renewals and
// connections.
//
// Differences from Vault that matter to a reader of the tests: encrypting
// with an unknown key is a 400 here (Vault may create the key when the token
// is allowed to), there are no policies beyond the tokens it issued,
// namespaces are only compared with one configured value, renew-self ignores
// a requested increment (it renews by the token's TTL), and a login method
// has exactly one role.
package transittest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults of Coffer's vault provider, so a bare New serves what a provider
// with default settings calls.
const (
	DefaultMount   = "transit"
	DefaultKeyName = "nemo-platform-key"
)

// Server is a running Transit double. Its URL stays the same across Stop and
// Restart, so a client built once sees the same "Vault" go away and come
// back. All methods are safe for concurrent use.
type Server struct {
	// URL is the base address, e.g. http://127.0.0.1:34567 (no trailing slash).
	URL string

	tb   testing.TB
	tls  bool
	addr string

	mu          sync.Mutex
	hs          *httptest.Server
	token       string            // the root token: never expires
	tokens      map[string]*token // issued tokens, by value
	logins      map[string]login  // enabled login methods, by mount
	loginCount  int
	renewCount  int
	failNext    []int // statuses for the next Transit requests
	resetNext   int   // Transit requests whose connection is dropped
	namespace   string
	keys        map[string]*key // by mount + "/" + name
	mounts      map[string]bool
	failStatus  int
	delay       time.Duration
	corrupt     bool
	requests    int
	connections int
	namespaces  []string
}

// key holds every version of one Transit key; versions[i] is version i+1.
type key struct{ versions [][]byte }

// TokenPolicy is the lifetime of tokens the double issues.
type TokenPolicy struct {
	TTL       time.Duration // lifetime after issue or renewal
	MaxTTL    time.Duration // no renewal extends past issue + MaxTTL (0: TTL)
	Renewable bool
}

// token is an issued token's lifetime.
type token struct {
	TokenPolicy
	issued, expires time.Time
}

// login is an enabled AppRole or Kubernetes auth mount.
type login struct {
	kind   string // "approle" or "kubernetes"
	id     string // role_id, or the Kubernetes role name
	secret string // secret_id, or the service-account JWT
	policy TokenPolicy
}

// New starts a plain-HTTP double with the default key (transit /
// nemo-platform-key, version 1) and a random token. It is stopped when the
// test ends.
func New(tb testing.TB) *Server { return start(tb, false) }

// NewTLS is New over HTTPS with httptest's self-signed certificate; hand
// CACertPEM to the client to trust it.
func NewTLS(tb testing.TB) *Server { return start(tb, true) }

func start(tb testing.TB, useTLS bool) *Server {
	tb.Helper()
	s := &Server{tb: tb, tls: useTLS, token: "hvs.test-" + rand.Text(), keys: map[string]*key{}, mounts: map[string]bool{},
		tokens: map[string]*token{}, logins: map[string]login{}}
	s.AddKey(DefaultMount, DefaultKeyName)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("transittest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	s.URL = s.hs.URL
	tb.Cleanup(s.Stop)
	return s
}

// serve starts an httptest.Server on l. The connection hook counts new
// connections so tests can tell whether a client reuses them.
func (s *Server) serve(l net.Listener) {
	hs := httptest.NewUnstartedServer(s)
	hs.Listener.Close()
	hs.Listener = l
	// Tests provoke TLS and connection errors on purpose; the server's
	// log lines about them would only be noise.
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.connections++
			s.mu.Unlock()
		}
	}
	if s.tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	s.mu.Lock()
	s.hs = hs
	s.mu.Unlock()
}

// Stop closes the listener and every open connection: until Restart,
// clients get "connection refused". Stopping twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	hs := s.hs
	s.hs = nil
	s.mu.Unlock()
	if hs != nil {
		hs.CloseClientConnections()
		hs.Close()
	}
}

// Restart listens again on the same address with the same keys and token.
// The port was ours a moment ago, but another process may grab it, so a
// few retries absorb a short race before the test is failed.
func (s *Server) Restart() {
	s.tb.Helper()
	var err error
	for range 50 {
		var l net.Listener
		if l, err = net.Listen("tcp", s.addr); err == nil {
			s.serve(l)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.tb.Fatalf("transittest: restart on %s: %v", s.addr, err)
}

// CACertPEM is the server certificate in PEM form, for a client's ca_cert.
// It is nil for a plain-HTTP server.
func (s *Server) CACertPEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tls || s.hs == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.hs.Certificate().Raw})
}

// Token is the only token the server accepts.
func (s *Server) Token() string { s.mu.Lock(); defer s.mu.Unlock(); return s.token }

// SetToken replaces the root token, e.g. to simulate a revoked one.
func (s *Server) SetToken(t string) { s.mu.Lock(); s.token = t; s.mu.Unlock() }

// IssueToken creates a token with policy p, as `vault token create -ttl
// -explicit-max-ttl [-renewable=false]` would.
func (s *Server) IssueToken(p TokenPolicy) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(p)
}

func (s *Server) issueLocked(p TokenPolicy) string {
	if p.MaxTTL == 0 {
		p.MaxTTL = p.TTL
	}
	t := "hvs.issued-" + rand.Text()
	now := time.Now()
	s.tokens[t] = &token{TokenPolicy: p, issued: now, expires: now.Add(p.TTL)}
	return t
}

// RevokeToken makes an issued token invalid at once.
func (s *Server) RevokeToken(t string) { s.mu.Lock(); delete(s.tokens, t); s.mu.Unlock() }

// EnableAppRole enables AppRole at mount with one role, whose logins issue
// tokens with policy p.
func (s *Server) EnableAppRole(mount, roleID, secretID string, p TokenPolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins[mount] = login{kind: "approle", id: roleID, secret: secretID, policy: p}
}

// EnableKubernetes enables Kubernetes auth at mount: a login with role and
// exactly this service-account jwt issues tokens with policy p.
func (s *Server) EnableKubernetes(mount, role, jwt string, p TokenPolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins[mount] = login{kind: "kubernetes", id: role, secret: jwt, policy: p}
}

// Logins counts successful logins; Renewals counts successful renew-self
// calls.
func (s *Server) Logins() int   { s.mu.Lock(); defer s.mu.Unlock(); return s.loginCount }
func (s *Server) Renewals() int { s.mu.Lock(); defer s.mu.Unlock(); return s.renewCount }

// FailNext makes the next Transit requests (encrypt, decrypt) answer these
// statuses, one each, then serves normally again: a transient failure.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, statuses...)
}

// ResetNext drops the connection of the next n Transit requests without an
// answer, as a crashing proxy or a reset would.
func (s *Server) ResetNext(n int) { s.mu.Lock(); s.resetNext += n; s.mu.Unlock() }

// RequireNamespace makes every request without exactly this
// X-Vault-Namespace fail with 403, as a token from another namespace would.
// "" accepts any namespace.
func (s *Server) RequireNamespace(ns string) { s.mu.Lock(); s.namespace = ns; s.mu.Unlock() }

// AddKey creates key name (version 1) under mount, enabling the mount if
// needed; an existing key is left as it is.
func (s *Server) AddKey(mount, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounts[mount] = true
	if _, ok := s.keys[mount+"/"+name]; !ok {
		s.keys[mount+"/"+name] = &key{versions: [][]byte{newKeyVersion()}}
	}
}

// Rotate adds a version to the default key, as `vault write -f
// transit/keys/nemo-platform-key/rotate` does: new encryptions use it, and
// older versions stay decryptable.
func (s *Server) Rotate() { s.RotateKey(DefaultMount, DefaultKeyName) }

// RotateKey is Rotate for any key created with AddKey.
func (s *Server) RotateKey(mount, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[mount+"/"+name]
	if !ok {
		s.tb.Errorf("transittest: RotateKey: no key %s/%s", mount, name)
		return
	}
	k.versions = append(k.versions, newKeyVersion())
}

// FailWith makes every request answer status (0 restores normal service).
// The error body deliberately echoes the request body, as some Vault errors
// echo request data, so tests can check that a client never passes a reply
// body on.
func (s *Server) FailWith(status int) { s.mu.Lock(); s.failStatus = status; s.mu.Unlock() }

// SetDelay holds every request for d before answering (0 restores), to
// drive client timeouts. A request whose client gives up is released.
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// CorruptDecrypt makes decrypt answer 200 with a plaintext of 5 random
// bytes: a reply that is well-formed but wrong.
func (s *Server) CorruptDecrypt(on bool) { s.mu.Lock(); s.corrupt = on; s.mu.Unlock() }

// Requests counts every request received, including refused ones.
func (s *Server) Requests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

// Connections counts TCP connections accepted since New.
func (s *Server) Connections() int { s.mu.Lock(); defer s.mu.Unlock(); return s.connections }

// Namespaces lists the X-Vault-Namespace header of every request in order
// ("" when absent).
func (s *Server) Namespaces() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.namespaces...)
}

func newKeyVersion() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	return k
}

// ServeHTTP answers in the order Vault checks: method, token, route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	st := s.admit(r)
	if !wait(r, st.delay) {
		return
	}
	if st.reset {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST rather than FIN: "connection reset by peer"
				}
				c.Close()
				return
			}
		}
	}
	isLogin := strings.HasPrefix(r.URL.Path, "/v1/auth/") && strings.HasSuffix(r.URL.Path, "/login") &&
		r.URL.Path != "/v1/auth/token/login"
	switch {
	case st.failStatus != 0:
		writeErrors(w, st.failStatus, "injected failure; request was: "+string(body))
	case r.URL.Path == "/v1/auth/token/lookup-self" && r.Method == http.MethodGet:
		s.tokenSelf(w, r, false)
	case r.Method != http.MethodPost && r.Method != http.MethodPut:
		writeErrors(w, http.StatusMethodNotAllowed, "unsupported operation")
	case isLogin:
		s.login(w, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/auth/"), "/login"), body)
	case !s.valid(r.Header.Get("X-Vault-Token")):
		writeErrors(w, http.StatusForbidden, "permission denied")
	case st.namespace != "" && r.Header.Get("X-Vault-Namespace") != st.namespace:
		writeErrors(w, http.StatusForbidden, "permission denied")
	case r.URL.Path == "/v1/auth/token/renew-self":
		s.tokenSelf(w, r, true)
	case r.URL.Path == "/v1/auth/token/lookup-self":
		s.tokenSelf(w, r, false)
	default:
		s.route(w, r.URL.Path, body, st.corrupt)
	}
}

// valid reports whether t is the root token or an issued, unexpired one.
func (s *Server) valid(t string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t == "" {
		return false
	}
	if t == s.token {
		return true
	}
	tk, ok := s.tokens[t]
	return ok && time.Now().Before(tk.expires)
}

// tokenSelf answers lookup-self, or renew-self when renew is true.
func (s *Server) tokenSelf(w http.ResponseWriter, r *http.Request, renew bool) {
	t := r.Header.Get("X-Vault-Token")
	if !s.valid(t) {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	s.mu.Lock()
	now := time.Now()
	tk, issued := s.tokens[t]
	if !issued { // the root token
		s.mu.Unlock()
		if renew {
			writeErrors(w, http.StatusBadRequest, "lease is not renewable")
			return
		}
		writeData(w, map[string]any{"ttl": 0, "renewable": false, "expire_time": nil, "policies": []string{"root"}})
		return
	}
	if renew {
		if !tk.Renewable {
			s.mu.Unlock()
			writeErrors(w, http.StatusBadRequest, "lease is not renewable")
			return
		}
		tk.expires = now.Add(tk.TTL)
		if max := tk.issued.Add(tk.MaxTTL); tk.expires.After(max) {
			tk.expires = max
		}
		s.renewCount++
	}
	ttl := int(math.Round(tk.expires.Sub(now).Seconds()))
	renewable, expires := tk.Renewable, tk.expires
	s.mu.Unlock()
	if renew {
		writeAuth(w, t, ttl, renewable)
		return
	}
	writeData(w, map[string]any{"ttl": ttl, "renewable": renewable, "expire_time": expires.UTC().Format(time.RFC3339Nano)})
}

// login answers an AppRole or Kubernetes login on mount.
func (s *Server) login(w http.ResponseWriter, mount string, body []byte) {
	var req struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
		Role     string `json:"role"`
		JWT      string `json:"jwt"`
	}
	s.mu.Lock()
	l, ok := s.logins[mount]
	s.mu.Unlock()
	switch {
	case !ok:
		writeErrors(w, http.StatusNotFound, "no handler for route")
		return
	case json.Unmarshal(body, &req) != nil:
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input")
		return
	case l.kind == "approle" && (req.RoleID != l.id || req.SecretID != l.secret),
		l.kind == "kubernetes" && (req.Role != l.id || req.JWT != l.secret):
		writeErrors(w, http.StatusBadRequest, "invalid credentials") // Vault's answer for AppRole; Kubernetes says 403
		return
	}
	s.mu.Lock()
	t := s.issueLocked(l.policy)
	s.loginCount++
	s.mu.Unlock()
	writeAuth(w, t, int(l.policy.TTL.Seconds()), l.policy.Renewable)
}

// writeAuth answers a login or renewal in Vault's envelope.
func writeAuth(w http.ResponseWriter, t string, ttl int, renewable bool) {
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": rand.Text(), "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil,
		"auth": map[string]any{"client_token": t, "accessor": rand.Text(), "policies": []string{"coffer"},
			"lease_duration": ttl, "renewable": renewable},
	})
}

// settings is a snapshot taken under the lock, so a request is answered
// with one consistent set of injected behaviours.
type settings struct {
	namespace  string
	failStatus int
	delay      time.Duration
	corrupt    bool
	reset      bool
}

func (s *Server) admit(r *http.Request) settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.namespaces = append(s.namespaces, r.Header.Get("X-Vault-Namespace"))
	st := settings{s.namespace, s.failStatus, s.delay, s.corrupt, false}
	if !strings.HasPrefix(r.URL.Path, "/v1/auth/") {
		switch {
		case s.resetNext > 0:
			s.resetNext--
			st.reset = true
		case len(s.failNext) > 0 && st.failStatus == 0:
			st.failStatus = s.failNext[0]
			s.failNext = s.failNext[1:]
		}
	}
	return st
}

// wait sleeps d unless the client goes away first; false means it did.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// route splits /v1/{mount...}/{op}/{key}; a mount may itself contain
// slashes, which is why this is not a ServeMux pattern.
func (s *Server) route(w http.ResponseWriter, path string, body []byte, corrupt bool) {
	rest, ok := strings.CutPrefix(path, "/v1/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) < 3 {
		writeErrors(w, http.StatusNotFound, "no handler for route")
		return
	}
	n := len(parts)
	mount, op, name := strings.Join(parts[:n-2], "/"), parts[n-2], parts[n-1]
	s.mu.Lock()
	k, known := s.keys[mount+"/"+name]
	var versions [][]byte
	if known {
		versions = append(versions, k.versions...)
	}
	mounted := s.mounts[mount]
	s.mu.Unlock()
	switch {
	case !mounted || op != "encrypt" && op != "decrypt":
		writeErrors(w, http.StatusNotFound, "no handler for route")
	case !known:
		writeErrors(w, http.StatusBadRequest, "encryption key not found")
	case op == "encrypt":
		encrypt(w, versions, body)
	case corrupt:
		writeData(w, map[string]any{"plaintext": base64.StdEncoding.EncodeToString([]byte(rand.Text()[:5]))})
	default:
		decrypt(w, versions, body)
	}
}

func encrypt(w http.ResponseWriter, versions [][]byte, body []byte) {
	var req struct {
		Plaintext string `json:"plaintext"`
	}
	if json.Unmarshal(body, &req) != nil {
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input")
		return
	}
	pt, err := base64.StdEncoding.DecodeString(req.Plaintext)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "failed to base64-decode plaintext")
		return
	}
	v := len(versions)
	g := gcm(versions[v-1])
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce)
	blob := g.Seal(nonce, nonce, pt, nil)
	ct := "vault:v" + strconv.Itoa(v) + ":" + base64.StdEncoding.EncodeToString(blob)
	writeData(w, map[string]any{"ciphertext": ct, "key_version": v})
}

func decrypt(w http.ResponseWriter, versions [][]byte, body []byte) {
	var req struct {
		Ciphertext string `json:"ciphertext"`
	}
	if json.Unmarshal(body, &req) != nil {
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input")
		return
	}
	rest, ok := strings.CutPrefix(req.Ciphertext, "vault:v")
	vs, b64, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		writeErrors(w, http.StatusBadRequest, "invalid ciphertext: no prefix")
		return
	}
	v, err := strconv.Atoi(vs)
	if err != nil || v < 1 || v > len(versions) {
		writeErrors(w, http.StatusBadRequest, "invalid ciphertext: invalid key version")
		return
	}
	blob, err := base64.StdEncoding.DecodeString(b64)
	g := gcm(versions[v-1])
	if err != nil || len(blob) < g.NonceSize()+g.Overhead() {
		writeErrors(w, http.StatusBadRequest, "invalid ciphertext: could not decode")
		return
	}
	pt, err := g.Open(nil, blob[:g.NonceSize()], blob[g.NonceSize():], nil)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "cipher: message authentication failed")
		return
	}
	writeData(w, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)})
}

func gcm(k []byte) cipher.AEAD {
	b, err := aes.NewCipher(k)
	if err != nil {
		panic(err) // keys are always 32 bytes
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}

// writeData answers in Vault's response envelope.
func writeData(w http.ResponseWriter, data map[string]any) {
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": rand.Text(), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": data, "wrap_info": nil, "warnings": nil, "auth": nil,
	})
}

func writeErrors(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"errors": []string{msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
