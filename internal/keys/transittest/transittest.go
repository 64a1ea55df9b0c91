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
// error shapes Vault uses ({"errors":[…]}). Tests can rotate keys, inject
// failures (status codes, delays, a stopped listener, corrupt replies) and
// count requests and connections.
//
// Differences from Vault that matter to a reader of the tests: encrypting
// with an unknown key is a 400 here (Vault may create the key when the token
// is allowed to), there are no policies beyond one token, and namespaces are
// only compared with one configured value.
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
	token       string
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

// New starts a plain-HTTP double with the default key (transit /
// nemo-platform-key, version 1) and a random token. It is stopped when the
// test ends.
func New(tb testing.TB) *Server { return start(tb, false) }

// NewTLS is New over HTTPS with httptest's self-signed certificate; hand
// CACertPEM to the client to trust it.
func NewTLS(tb testing.TB) *Server { return start(tb, true) }

func start(tb testing.TB, useTLS bool) *Server {
	tb.Helper()
	s := &Server{tb: tb, tls: useTLS, token: "hvs.test-" + rand.Text(), keys: map[string]*key{}, mounts: map[string]bool{}}
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

// SetToken replaces the accepted token, e.g. to simulate a revoked one.
func (s *Server) SetToken(t string) { s.mu.Lock(); s.token = t; s.mu.Unlock() }

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
	switch {
	case st.failStatus != 0:
		writeErrors(w, st.failStatus, "injected failure; request was: "+string(body))
	case r.Method != http.MethodPost && r.Method != http.MethodPut:
		writeErrors(w, http.StatusMethodNotAllowed, "unsupported operation")
	case r.Header.Get("X-Vault-Token") != st.token || st.token == "":
		writeErrors(w, http.StatusForbidden, "permission denied")
	case st.namespace != "" && r.Header.Get("X-Vault-Namespace") != st.namespace:
		writeErrors(w, http.StatusForbidden, "permission denied")
	default:
		s.route(w, r.URL.Path, body, st.corrupt)
	}
}

// settings is a snapshot taken under the lock, so a request is answered
// with one consistent set of injected behaviours.
type settings struct {
	token, namespace string
	failStatus       int
	delay            time.Duration
	corrupt          bool
}

func (s *Server) admit(r *http.Request) settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.namespaces = append(s.namespaces, r.Header.Get("X-Vault-Namespace"))
	return settings{s.token, s.namespace, s.failStatus, s.delay, s.corrupt}
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
