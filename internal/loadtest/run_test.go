package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCoffer implements just enough of the secrets API for the generator:
// the runner's logic is tested here, the real server in the e2e test. Like
// Coffer it counts requests by route on /metrics, so the per-row server
// counts are exercised too.
type fakeCoffer struct {
	mu       sync.Mutex
	secrets  map[string]string
	failOp   string         // method answered with 500, to exercise error counting
	routes   map[string]int // "METHOD route code_class", as coffer_http_requests_total
	filtered int            // list requests with a valid name-prefix filter
	inFlight atomic.Int64   // as coffer_http_requests_in_flight
}

var likePrefix = regexp.MustCompile(`^s[0-9]{5}%$`)

func (f *fakeCoffer) handler() http.Handler {
	const s = "/apis/secrets/v2/workspaces/{ws}/secrets"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"status":"ready"}`) })
	mux.HandleFunc("POST /apis/entities/v2/workspaces", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(201) })
	mux.HandleFunc("POST "+s, f.create)
	mux.HandleFunc("GET "+s, f.list)
	mux.HandleFunc("GET "+s+"/{name}", f.lookup(false))
	mux.HandleFunc("GET "+s+"/{name}/access", f.lookup(true))
	mux.HandleFunc("PATCH "+s+"/{name}", f.update)
	mux.HandleFunc("GET /metrics", f.metrics)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		mux.ServeHTTP(rec, r) // sets r.Pattern
		_, route, _ := strings.Cut(r.Pattern, " ")
		route = strings.Replace(route, "{ws}", "{workspace}", 1)
		f.mu.Lock()
		if f.routes == nil {
			f.routes = map[string]int{}
		}
		f.routes[fmt.Sprintf("%s %s %dxx", r.Method, route, rec.code/100)]++
		f.mu.Unlock()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// list wants a page of 10 and, when filtered, a name prefix as list-filter sends it.
func (f *fakeCoffer) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	like, filtered := q["filter[name][$like]"]
	if q.Get("page_size") != "10" || (filtered && (len(like) != 1 || !likePrefix.MatchString(like[0]))) {
		w.WriteHeader(422)
		return
	}
	if filtered {
		f.mu.Lock()
		f.filtered++
		f.mu.Unlock()
	}
}

func (f *fakeCoffer) metrics(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(w, "coffer_http_requests_in_flight %d\n", f.inFlight.Load())
	for k, n := range f.routes {
		p := strings.Fields(k)
		fmt.Fprintf(w, "coffer_http_requests_total{route=%q,method=%q,code_class=%q} %d\n", p[1], p[0], p[2], n)
	}
}

func (f *fakeCoffer) create(w http.ResponseWriter, r *http.Request) {
	var b struct{ Name, Value string }
	if json.NewDecoder(r.Body).Decode(&b) != nil || b.Name == "" || len(b.Value) != 32 {
		w.WriteHeader(422)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.secrets[b.Name]; dup {
		w.WriteHeader(409)
		return
	}
	f.secrets[b.Name] = b.Value
	w.WriteHeader(201)
}

func (f *fakeCoffer) lookup(access bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		v, ok := f.secrets[r.PathValue("name")]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(404)
			return
		}
		if access {
			fmt.Fprintf(w, `{"name":%q,"workspace":%q,"value":%q}`, r.PathValue("name"), r.PathValue("ws"), v)
		}
	}
}

func (f *fakeCoffer) update(w http.ResponseWriter, r *http.Request) {
	var b struct{ Value string }
	if f.failOp == "PATCH" || json.NewDecoder(r.Body).Decode(&b) != nil || len(b.Value) != 32 {
		w.WriteHeader(500)
		return
	}
	f.lookup(false)(w, r)
}

func quickTestConfig(url, ceiling string) Config {
	cfg := QuickConfig()
	cfg.URL, cfg.CeilingURL = url, ceiling
	// 400 ms per phase: with 150 ms a phase on a saturated machine sometimes
	// completed no request at all (a spurious "implausible row").
	cfg.Preload, cfg.Duration, cfg.Warmup, cfg.Concurrency = 50, 400*time.Millisecond, 20*time.Millisecond, []int{1, 3}
	cfg.CommandLine = "coffer bench --test"
	return cfg
}

func startFakes(t *testing.T, f *fakeCoffer) (string, string) {
	target := httptest.NewServer(f.handler())
	ceiling := httptest.NewServer(CeilingHandler(CeilingBody(90)))
	t.Cleanup(target.Close)
	t.Cleanup(ceiling.Close)
	return target.URL, ceiling.URL
}

func TestRunAgainstFake(t *testing.T) {
	f := &fakeCoffer{secrets: map[string]string{}}
	rep, err := Run(context.Background(), quickTestConfig(startFakes(t, f)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Ceiling) != 4 || len(rep.Results) != 2*len(AllOps) {
		t.Fatalf("rows: %d ceiling, %d results", len(rep.Ceiling), len(rep.Results))
	}
	for _, row := range rep.Results {
		if row.Requests == 0 || row.RPS <= 0 || row.RatioToCeiling <= 0 || row.P50ms <= 0 || row.P999ms < row.P50ms {
			t.Errorf("implausible row %+v", row)
		}
		checkServerCounts(t, row)
	}
	if n := rep.Errors(); n != 0 {
		t.Fatalf("%d errors: %+v", n, rep.Results)
	}
	if f.secrets[preloadName(49)] == "" || f.secrets["c00000001"] == "" || f.secrets[preloadName(50)] != "" {
		t.Fatal("preload or create did not reach the server")
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, op := range append([]string{CeilingOp, CeilingAfterOp}, AllOps...) {
		if !strings.Contains(md.String(), "| "+op+" | 3 |") {
			t.Errorf("markdown lacks a %s row:\n%s", op, md.String())
		}
	}
	if !strings.HasPrefix(md.String(), "# coffer bench\n\n- command: `coffer bench --test`\n- date: ") {
		t.Errorf("header:\n%s", md.String())
	}
}

// TestRunRounds: with two rounds every block runs twice, ratios are taken
// per round, and the report has each round's table and the medians.
func TestRunRounds(t *testing.T) {
	cfg := quickTestConfig(startFakes(t, &fakeCoffer{secrets: map[string]string{}}))
	cfg.Rounds, cfg.Ops, cfg.Concurrency = 2, []string{"get", "create"}, []int{2}
	rep, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Ceiling) != 4 || len(rep.Results) != 4 || rep.Results[2].Round != 2 || rep.Results[2].RatioToCeiling <= 0 {
		t.Fatalf("rows: %+v %+v", rep.Ceiling, rep.Results)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Round 1 of 2", "### Round 2 of 2", "## Median of 2 rounds", "| create | 2 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}

func TestRunCountsHTTPErrors(t *testing.T) {
	f := &fakeCoffer{secrets: map[string]string{}, failOp: "PATCH"}
	cfg := quickTestConfig(startFakes(t, f))
	cfg.Ops, cfg.Concurrency = []string{"get", "update"}, []int{2}
	rep, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	get, upd := rep.Results[0], rep.Results[1]
	if get.HTTPErrors != 0 || upd.HTTPErrors == 0 || upd.HTTPErrors != upd.Requests || upd.FirstError != "HTTP status 500" {
		t.Fatalf("get %+v\nupdate %+v", get, upd)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
}

func TestDriveTransportErrors(t *testing.T) {
	target := httptest.NewServer(http.NotFoundHandler())
	w := &workload{bases: []*url.URL{mustURL(t, target.URL)}, workspace: "w", preload: 1}
	target.Close()
	p := drive(context.Background(), &http.Client{Transport: newTransport(1)}, w.access, 1, 0, 50*time.Millisecond, 1)
	if p.TransportErrors == 0 || p.Requests != 0 || p.FirstError == "" {
		t.Fatalf("a closed server must give transport errors: %+v", p)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	f := &fakeCoffer{secrets: map[string]string{}}
	cfg := quickTestConfig(startFakes(t, f))
	cfg.Duration = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Run(ctx, cfg, io.Discard); err == nil {
		t.Fatal("a cancelled run must fail")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("cancellation did not stop the phases")
	}
}

func TestConfigParsing(t *testing.T) {
	if c, err := ParseConcurrency("16, 64"); err != nil || len(c) != 2 || c[1] != 64 {
		t.Fatalf("%v %v", c, err)
	}
	for _, bad := range []string{"", "0", "x", "4,,8", "4,4"} {
		if _, err := ParseConcurrency(bad); err == nil {
			t.Errorf("concurrency %q accepted", bad)
		}
	}
	if ops, err := ParseOps("mix,access"); err != nil || strings.Join(ops, ",") != "access,mix" {
		t.Fatalf("%v %v", ops, err)
	}
	if _, err := ParseOps("access,delete"); err == nil {
		t.Error("unknown op accepted")
	}
}

func TestCeilingBodySize(t *testing.T) {
	for _, n := range []int{0, 60, 90, 1000} {
		b := CeilingBody(n)
		if !json.Valid(b) || (n >= 60 && len(b) != n) {
			t.Errorf("CeilingBody(%d) = %d bytes: %s", n, len(b), b)
		}
	}
}

// TestConfigValidation: settings that would make a meaningless or
// impossible run are refused before anything starts.
func TestConfigValidation(t *testing.T) {
	pg := []string{"COFFER_DATABASE_DSN=postgres://db/x"}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(c *Config) {}, true},
		{"two replicas on PostgreSQL", func(c *Config) { c.Replicas, c.ServerEnv = 2, pg }, true},
		{"two replicas on SQLite", func(c *Config) { c.Replicas = 2 }, false},
		{"two replicas with --url", func(c *Config) { c.Replicas, c.ServerEnv, c.URL = 2, pg, "http://x" }, false},
		{"two replicas with wrk", func(c *Config) { c.Replicas, c.ServerEnv, c.Wrk = 2, pg, true }, false},
		{"zero replicas", func(c *Config) { c.Replicas = 0 }, false},
		{"hot set within the preload", func(c *Config) { c.Hot = 100 }, true},
		{"hot set = preload", func(c *Config) { c.Hot = c.Preload }, true},
		{"hot set beyond the preload", func(c *Config) { c.Hot = c.Preload + 1 }, false},
		{"ten versions per preloaded secret", func(c *Config) { c.PreloadVersions = 10 }, true},
		{"no version per preloaded secret", func(c *Config) { c.PreloadVersions = 0 }, false},
		{"negative hot set", func(c *Config) { c.Hot = -1 }, false},
		{"hot set with wrk", func(c *Config) { c.Hot, c.Wrk = 100, true }, true},
		{"wrk generator", func(c *Config) { c.Generator = GeneratorWrk }, true},
		{"wrk generator and the wrk check", func(c *Config) { c.Generator, c.Wrk = GeneratorWrk, true }, false},
		{"unknown generator", func(c *Config) { c.Generator = "ab" }, false},
		{"more wrk threads than connections", func(c *Config) { c.Generator, c.WrkThreads = GeneratorWrk, 17 }, false},
		{"no wrk threads", func(c *Config) { c.WrkThreads = 0 }, false},
		{"OpenBao comparison", func(c *Config) { c.Vault = VaultConfig{Addr: "http://127.0.0.1:8200", Token: "t", Mount: "secret"} }, true},
		{"OpenBao comparison without a token", func(c *Config) { c.Vault = VaultConfig{Addr: "http://127.0.0.1:8200", Mount: "secret"} }, false},
		{"OpenBao comparison with a bad address", func(c *Config) { c.Vault = VaultConfig{Addr: "127.0.0.1:8200", Token: "t", Mount: "secret"} }, false},
		{"OpenBao comparison with a bad mount", func(c *Config) { c.Vault = VaultConfig{Addr: "http://h:1", Token: "t", Mount: "/secret/"} }, false},
	} {
		c := DefaultConfig()
		c.Exe = "coffer"
		tc.edit(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v", tc.name, err)
		}
	}
}

// TestHotNames: with --hot, 90 % of the names come from the hot set and the
// rest from all preloaded secrets; without it, names are uniform.
func TestHotNames(t *testing.T) {
	for _, tc := range []struct {
		hot         int
		wantHotFrac float64 // share of names among the first 100
	}{
		{0, 0.01},     // uniform over 10,000
		{100, 0.9001}, // 0.9 + 0.1 × 100/10,000
	} {
		w := &workload{preload: 10000, hot: tc.hot}
		rng := rand.New(rand.NewPCG(1, 2))
		const n = 100000
		inHot := 0
		for range n {
			if name := w.randomName(rng); name < preloadName(100) {
				inHot++
			}
		}
		if got := float64(inHot) / n; math.Abs(got-tc.wantHotFrac) > 0.01 {
			t.Errorf("hot %d: %.3f of names among the first 100, want %.3f", tc.hot, got, tc.wantHotFrac)
		}
	}
}

func TestRequestsSpreadOverReplicas(t *testing.T) {
	w := &workload{bases: []*url.URL{mustURL(t, "http://a:1"), mustURL(t, "http://b:2")}, workspace: "w", preload: 10}
	hosts := map[string]int{}
	for range 10 {
		hosts[w.urlFor("/p", "").Host]++
	}
	if hosts["a:1"] != 5 || hosts["b:2"] != 5 {
		t.Fatalf("requests per replica: %v, want 5 each", hosts)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
