package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/openapi/openapitest"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
)

// testKEK is a secret_key provider key used where the development key cannot
// be (PostgreSQL): base64 of 32 bytes 0x00..0x1f.
const testKEK = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// backends lists the storage backends the end-to-end suite runs on. Each
// returns environment settings for a fresh, empty database.
func backends() map[string]func(t *testing.T) map[string]string {
	return map[string]func(t *testing.T) map[string]string{
		"sqlite": func(t *testing.T) map[string]string { return map[string]string{} },
		"postgres": func(t *testing.T) map[string]string {
			return map[string]string{
				"COFFER_DATABASE_DSN":                     pgtest.NewDSN(t),
				"NMP_SECRETS_ENCRYPTION":                  `{"providers":{"secret_key":{"k1":{"value":"` + testKEK + `"}}}}`,
				"NMP_SECRETS_ENCRYPTION_CURRENT_PROVIDER": "k1",
			}
		},
	}
}

// forEachBackend runs f once per storage backend.
func forEachBackend(t *testing.T, f func(t *testing.T, env func(t *testing.T) map[string]string)) {
	for name, env := range backends() {
		t.Run(name, func(t *testing.T) { f(t, env) })
	}
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a real Coffer on a loopback listener.
type testServer struct {
	URL     string
	DataDir string
	Env     map[string]string
	Logs    *syncBuffer
	srv     *Server
	done    chan error
}

// start runs Coffer with the given environment (nothing else from the real
// environment leaks in) on a fresh port; dataDir "" means a new temp dir.
func start(t *testing.T, env map[string]string, dataDir string) *testServer {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Load(config.Flags{DataDir: dataDir, Listen: "127.0.0.1:0"}, lookup)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Coffer.Log.Level = "debug"
	logs := &syncBuffer{}
	log := NewLogger(cfg.Coffer.Log, logs)
	srv, err := New(context.Background(), cfg, log, lookup)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ts := &testServer{URL: "http://" + ln.Addr().String(), DataDir: dataDir, Env: env, Logs: logs, srv: srv, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ln) }()
	t.Cleanup(ts.stop)
	return ts
}

// stop shuts the server down (idempotent).
func (ts *testServer) stop() {
	if ts.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ts.srv.Shutdown(ctx)
	<-ts.done
	ts.srv = nil
}

type response struct {
	Status int
	Header http.Header
	Body   string
}

var client = &http.Client{Timeout: 30 * time.Second}

// do sends a request; headers are given as "Name: value" strings.
func (ts *testServer) do(t *testing.T, method, path, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	// Every response of the end-to-end suite must match the OpenAPI
	// document: its status documented for the route, headers and body.
	openapitest.CheckT(t, req, res.StatusCode, res.Header, b)
	return response{res.StatusCode, res.Header, string(b)}
}

var (
	tsRe = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"`)
	idRe = regexp.MustCompile(`"workspace-[1-9A-HJ-NP-Za-km-z]{16,24}"`)
)

// normalize replaces timestamps and workspace ids, whose format is checked
// here, so bodies can be compared byte for byte.
func normalize(body string) string {
	return idRe.ReplaceAllString(tsRe.ReplaceAllString(body, `"<ts>"`), `"<id>"`)
}

// expect checks status and exact (normalized) body.
func expect(t *testing.T, r response, status int, body string) {
	t.Helper()
	if r.Status != status || normalize(r.Body) != body {
		t.Errorf("got %d %s\nwant %d %s", r.Status, normalize(r.Body), status, body)
	}
	if r.Body != "" && r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
}

// decode parses a JSON body into v.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}
