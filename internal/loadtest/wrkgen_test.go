package loadtest

import (
	"context"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseWrkDone(t *testing.T) {
	out := "Running 1s test @ http://127.0.0.1:1/\n  1 threads and 16 connections\n" +
		`COFFER_WRK {"requests":20000,"duration_us":2000000,"status_errors":3,"connect":0,"read":1,"write":0,"timeout":2,"p50_us":250,"p99_us":1500,"p999_us":4000,"max_us":9000}` + "\nRequests/sec: 10000.00\n"
	r, err := parseWrkDone(out)
	if err != nil {
		t.Fatal(err)
	}
	row := r.row("get", 16)
	if row.RPS != 10000 || row.Requests != 20000 || row.P50ms != 0.25 || row.P99ms != 1.5 || row.P999ms != 4 || row.Maxms != 9 {
		t.Fatalf("figures: %+v", row)
	}
	if row.HTTPErrors != 3 || row.TransportErrors != 3 || !strings.Contains(row.FirstError, "status ≥ 400") {
		t.Fatalf("errors: %+v", row)
	}
	if _, err := parseWrkDone("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Fatal("output without the done() line must be an error")
	}
}

// TestWrkScriptLiterals: values reach the script as Lua string literals, so
// a token with quotes or backslashes cannot break out of its string.
func TestWrkScriptLiterals(t *testing.T) {
	s := wrkScript(wrkScriptParams{op: "vault-read", tag: "7", seed: 3, wl: &workload{workspace: "w", preload: 500},
		vaultPath: "/v1/secret/data/coffer-w", vaultToken: `to"k\en`})
	for _, want := range []string{`local n, hot, pages = 500, 0, 50`, `local secrets = "/apis/secrets/v2/workspaces/w/secrets"`,
		`local created = "/apis/secrets/v2/workspaces/w-new/secrets"`, `["X-Vault-Token"] = "to\"k\\en"`, `request = ops["vault-read"]`} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %s:\n%s", want, s)
		}
	}
}

// wantRoutes are the Coffer routes each op must hit, as /metrics names them.
var wantRoutes = map[string][]string{
	"access":      {"GET /apis/secrets/v2/workspaces/{workspace}/secrets/{name}/access"},
	"get":         {"GET /apis/secrets/v2/workspaces/{workspace}/secrets/{name}"},
	"list":        {"GET /apis/secrets/v2/workspaces/{workspace}/secrets"},
	"list-filter": {"GET /apis/secrets/v2/workspaces/{workspace}/secrets"},
	"create":      {"POST /apis/secrets/v2/workspaces/{workspace}/secrets"},
	"update":      {"PATCH /apis/secrets/v2/workspaces/{workspace}/secrets/{name}"},
	"mix": {"GET /apis/secrets/v2/workspaces/{workspace}/secrets/{name}/access",
		"GET /apis/secrets/v2/workspaces/{workspace}/secrets/{name}",
		"PATCH /apis/secrets/v2/workspaces/{workspace}/secrets/{name}"},
}

// checkServerCounts wants the requests the server counted during a row on
// the op's routes, each of them answered 2xx, and at least as many 2xx as
// the generator completed. wrk abandons the requests in flight when its time
// is up; the server may count those as failed, or (when it reads them off
// the socket only after the next phase's first scrape) in the next row: up
// to one per connection of each kind is tolerated, far below what a script
// sending a wrong request would produce.
func checkServerCounts(t *testing.T, row Row) {
	t.Helper()
	var ok, failed, foreign uint64
	for key, n := range row.ServerRequests {
		sp := strings.LastIndexByte(key, ' ')
		route, class := key[:sp], key[sp+1:]
		switch {
		case !slices.Contains(wantRoutes[row.Op], route):
			foreign += n
		case class == "2xx":
			ok += n
		default:
			failed += n
		}
	}
	for _, route := range wantRoutes[row.Op] {
		if row.ServerRequests[route+" 2xx"] == 0 {
			t.Errorf("%s c=%d: no 2xx on %q: %v", row.Op, row.Concurrency, route, row.ServerRequests)
		}
	}
	conc := uint64(row.Concurrency)
	if ok < row.Requests-row.HTTPErrors || failed > row.HTTPErrors+conc || foreign > conc {
		t.Errorf("%s c=%d: the server counted %v, the generator %d requests (%d failed)", row.Op, row.Concurrency, row.ServerRequests, row.Requests, row.HTTPErrors)
	}
}

// TestWrkGeneratorEveryOp drives every op with wrk's Lua scripts against the
// fake, which checks bodies and queries and counts requests by route.
func TestWrkGeneratorEveryOp(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil || testing.Short() {
		t.Skip("needs wrk (apt-get install -y wrk) and about 20 s")
	}
	f := &fakeCoffer{secrets: map[string]string{}}
	cfg := quickTestConfig(startFakes(t, f))
	cfg.Generator, cfg.Concurrency, cfg.Warmup, cfg.Duration = GeneratorWrk, []int{2}, 0, time.Second
	rep, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(AllOps) || len(rep.Ceiling) != 2 {
		t.Fatalf("rows: %d ceiling, %d results", len(rep.Ceiling), len(rep.Results))
	}
	for _, row := range append(rep.Ceiling, rep.Results...) {
		if row.Requests == 0 || row.RPS <= 0 || row.RatioToCeiling <= 0 || row.P50ms <= 0 || row.P99ms < row.P50ms ||
			row.P99RatioToCeiling <= 0 || row.GeneratorCores <= 0 || row.HTTPErrors+row.TransportErrors != 0 {
			t.Errorf("implausible row %+v", row)
		}
	}
	for _, row := range rep.Results {
		checkServerCounts(t, row)
	}
	create, _ := find(rep.Results, "create", 2)
	created := 0
	for name := range f.secrets {
		if strings.HasPrefix(name, "w") {
			created++
		}
	}
	if uint64(created) < create.Requests {
		t.Errorf("%d distinct names created for %d create requests", created, create.Requests)
	}
	lf, _ := find(rep.Results, "list-filter", 2)
	if uint64(f.filtered) < lf.Requests {
		t.Errorf("%d filtered lists reached the fake for %d list-filter requests", f.filtered, lf.Requests)
	}
	if rep.Generator != GeneratorWrk || rep.WrkThreads != 1 || !strings.HasPrefix(rep.Metrics, "on") {
		t.Errorf("header fields: generator %q threads %d metrics %q", rep.Generator, rep.WrkThreads, rep.Metrics)
	}
}
