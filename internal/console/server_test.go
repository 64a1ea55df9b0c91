package console_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/server"
)

// coffer is a real Coffer server on a loopback listener, as `coffer serve`
// runs it (SQLite in a temporary directory, auth disabled unless env says
// otherwise).
type coffer struct {
	URL  string
	stop func() // shuts the server down; idempotent, and run when the test ends
}

func startCoffer(t *testing.T, env map[string]string) *coffer {
	t.Helper()
	return startCofferIn(t, env, t.TempDir())
}

// startCofferIn runs Coffer on the data directory dir, so that a test can
// stop it and start it again on the same data with another configuration.
func startCofferIn(t *testing.T, env map[string]string, dir string) *coffer {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Load(config.Flags{DataDir: dir, Listen: "127.0.0.1:0"}, lookup)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	srv, err := server.New(context.Background(), cfg, server.NewLogger(cfg.Coffer.Log, io.Discard), lookup)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			<-done
		})
	}
	t.Cleanup(stop)
	return &coffer{URL: "http://" + ln.Addr().String(), stop: stop}
}

// startErr starts Coffer with env and returns the startup error (nil if it
// started, and was then stopped).
func startErr(t *testing.T, env map[string]string) error {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Load(config.Flags{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}, lookup)
	if err != nil {
		return err
	}
	srv, err := server.New(context.Background(), cfg, server.NewLogger(cfg.Coffer.Log, io.Discard), lookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	return nil
}

// do sends one request to the server and returns the response with its body.
func (c *coffer) do(t *testing.T, method, path, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}
