//go:build unix

package httpapi_test

// Benchmarks of the read paths (GET …/access and GET …/secrets/{name}) on
// the production wiring (internal/server: SQLite in a temp dir, the
// development key, the text logger writing to a file), so that per-request
// costs can be compared before and after a change:
//
//	go test -run '^$' -bench 'Handler|Listener' -benchmem ./internal/httpapi/
//
// BenchmarkHandler calls ServeHTTP directly (no network): CPU and allocations
// of Coffer's own work per request. BenchmarkListener drives a real loopback
// listener from 16 keep-alive connections, as `coffer bench` does; it
// reports req/s and includes the client's cost, which shares the CPUs.
//
// Both also report cpu-ns/op, the process's CPU time (user + system) per
// request, which other work on a shared machine disturbs far less than the
// wall-clock ns/op.
//
// The benchSecrets records fit SQLite's read cache and nothing commits
// during a run, so after the first pass every read is a cache hit: these
// figures are the hit path. What a miss costs in the store is
// BenchmarkGetSecret in internal/store/sqlite.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/server"
)

const (
	benchWS      = "bench"
	benchSecrets = 1000
	benchCaller  = "service:bench" // the caller when auth is on, as platform services call
)

// benchServer starts a Coffer with benchSecrets secrets in workspace bench
// and returns it with its base URL. Its log goes through a LogBuffer to a
// file, as `coffer serve` logs and `coffer bench` sends its stderr to one.
func benchServer(b *testing.B, env map[string]string) (*server.Server, string) {
	b.Helper()
	logFile, err := os.Create(filepath.Join(b.TempDir(), "server.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logFile.Close() })
	logs := server.NewLogBuffer(logFile) // as `coffer serve` wires it
	b.Cleanup(func() { logs.Close() })
	srv, url := startServerEnv(b, logs, env)
	ctx := context.Background()
	if _, err := srv.Service.CreateWorkspace(ctx, benchWS, nil, nil, ""); err != nil {
		b.Fatal(err)
	}
	for i := range benchSecrets {
		_, err := srv.Service.CreateSecret(ctx, benchWS, secrets.NewSecret{
			Name: benchName(i), Value: fmt.Sprintf("tok_%028d", i)}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	return srv, url
}

// startServer runs Coffer as `coffer serve` would with an empty environment
// (SQLite and the development key in a temp dir), logging to logOut, on a
// loopback port.
func startServer(tb testing.TB, logOut io.Writer) (*server.Server, string) {
	tb.Helper()
	return startServerEnv(tb, logOut, map[string]string{})
}

// startServerEnv is startServer with env as the environment.
func startServerEnv(tb testing.TB, logOut io.Writer, env map[string]string) (*server.Server, string) {
	tb.Helper()
	dir := tb.TempDir()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Load(config.Flags{DataDir: dir, Listen: "127.0.0.1:0"}, lookup)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	srv, err := server.New(ctx, cfg, server.NewLogger(cfg.Coffer.Log, logOut), lookup)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := srv.Listen()
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-done
	})
	return srv, "http://" + ln.Addr().String()
}

func benchName(i int) string { return fmt.Sprintf("s%07d", i) }

// benchPaths are the request paths of one operation over all secrets.
func benchPaths(op string) []string {
	paths := make([]string, benchSecrets)
	for i := range paths {
		paths[i] = "/apis/secrets/v2/workspaces/" + benchWS + "/secrets/" + benchName(i)
		if op == "access" {
			paths[i] += "/access"
		}
	}
	return paths
}

// cpuTime is the CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkHandler also runs with auth enabled ("auth/…"): the caller is
// then a service identified by the trusted principal header, whose roles
// are read before every request.
//
// "noaudit/…" runs with coffer.audit.reads off, so that the difference to
// the plain run is the cost of recording each access in the audit trail
// (docs/performance.md, "Audit trail").
func BenchmarkHandler(b *testing.B) {
	for _, auth := range []bool{false, true} {
		env, prefix := map[string]string{}, ""
		if auth {
			env["NMP_AUTH_ENABLED"], prefix = "true", "auth/"
		}
		srv, _ := benchServer(b, env)
		benchHandler(b, srv.Handler(), prefix, auth)
	}
	srv, _ := benchServer(b, map[string]string{"COFFER_AUDIT_READS": "off"})
	benchHandler(b, srv.Handler(), "noaudit/", false)
}

func benchHandler(b *testing.B, h http.Handler, prefix string, auth bool) {
	for _, op := range []string{"access", "get"} {
		paths := benchPaths(op)
		b.Run(prefix+op, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			start := cpuTime(b)
			for b.Loop() {
				// net/http gives every request a cancellable context.
				ctx, cancel := context.WithCancel(context.Background())
				r := httptest.NewRequestWithContext(ctx, http.MethodGet, paths[i%len(paths)], nil)
				r.RemoteAddr = "127.0.0.1:40000"
				if auth {
					r.Header.Set("X-NMP-Principal-Id", benchCaller)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				cancel()
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", paths[i%len(paths)], w.Code, w.Body)
				}
				i++
			}
			reportCPU(b, start)
		})
	}
}

func BenchmarkListener(b *testing.B) {
	_, url := benchServer(b, map[string]string{})
	const conns = 16
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	for _, op := range []string{"access", "get"} {
		paths := benchPaths(op)
		b.Run(op, func(b *testing.B) {
			b.SetParallelism((conns + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			start := cpuTime(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := client.Get(url + paths[rand.IntN(len(paths))])
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			reportCPU(b, start)
		})
	}
}
