package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const fakeBaoToken = "s.fake-root-token"

// fakeOpenBaoKV is a FAKE of OpenBao's KV v2 data API (read and write of
// /v1/<mount>/data/<path>, and sys/health), standing in for a real OpenBao:
// OpenBao cannot be built inside CI's budget. It refuses a missing or wrong
// X-Vault-Token as OpenBao does, and counts what reached it, so the test sees
// the paths and headers the generators send. The figures in
// docs/performance.md come from runs against real servers.
type fakeOpenBaoKV struct {
	mu        sync.Mutex
	data      map[string]string
	reads     int
	writes    int
	denied    int
	badPaths  []string
	mountPath *regexp.Regexp
}

func newFakeOpenBaoKV(t *testing.T) (*fakeOpenBaoKV, string) {
	f := &fakeOpenBaoKV{data: map[string]string{}, mountPath: regexp.MustCompile(`^/v1/secret/data/coffer-bench-[0-9a-f]{8}/s[0-9]{7}$`)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeOpenBaoKV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/sys/health" {
		io.WriteString(w, `{"initialized":true,"sealed":false,"version":"2.6.2-fake"}`)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("X-Vault-Token") != fakeBaoToken {
		f.denied++
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"errors":["permission denied"]}`)
		return
	}
	if !f.mountPath.MatchString(r.URL.Path) {
		f.badPaths = append(f.badPaths, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	switch r.Method {
	case "GET":
		f.reads++
		v, ok := f.data[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"data":{"data":{"value":%q},"metadata":{"version":1}}}`, v)
	case "POST":
		f.writes++
		var b struct {
			Data struct{ Value string } `json:"data"`
		}
		if json.NewDecoder(r.Body).Decode(&b) != nil || b.Data.Value == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.data[r.URL.Path] = b.Data.Value
		io.WriteString(w, `{"data":{"version":2}}`)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// TestCompareWithOpenBao runs the comparison with each generator: both
// sides get rows, the side-by-side table pairs them, every request reached
// the KV v2 data path of the run with the token, and the token is never printed.
func TestCompareWithOpenBao(t *testing.T) {
	gens := []string{GeneratorGo}
	if _, err := exec.LookPath("wrk"); err == nil && !testing.Short() {
		gens = append(gens, GeneratorWrk)
	}
	for _, gen := range gens {
		t.Run(gen, func(t *testing.T) {
			bao, addr := newFakeOpenBaoKV(t)
			cfg := quickTestConfig(startFakes(t, &fakeCoffer{secrets: map[string]string{}}))
			cfg.Generator, cfg.Concurrency, cfg.Ops = gen, []int{2}, []string{"access", "get", "create", "update"}
			cfg.Vault = VaultConfig{Addr: addr, Token: fakeBaoToken, Mount: "secret"}
			if gen == GeneratorWrk {
				cfg.Warmup, cfg.Duration = 0, time.Second
			}
			rep, err := Run(context.Background(), cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			read, ok1 := find(rep.Results, "vault-read", 2)
			write, ok2 := find(rep.Results, "vault-write", 2)
			if !ok1 || !ok2 || read.Requests == 0 || write.Requests == 0 || rep.Errors() != 0 {
				t.Fatalf("vault rows: %+v %+v (errors %d)", read, write, rep.Errors())
			}
			bao.mu.Lock()
			defer bao.mu.Unlock()
			if bao.denied != 0 || len(bao.badPaths) != 0 || len(bao.data) != cfg.Preload {
				t.Errorf("fake saw %d denied, bad paths %v, %d secrets (want %d)", bao.denied, bao.badPaths, len(bao.data), cfg.Preload)
			}
			if uint64(bao.reads) < read.Requests || uint64(bao.writes) < uint64(cfg.Preload)+write.Requests {
				t.Errorf("fake counted %d reads, %d writes; generator %d and %d (+%d preload)", bao.reads, bao.writes, read.Requests, write.Requests, cfg.Preload)
			}
			var md bytes.Buffer
			if err := rep.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			out := md.String()
			for _, want := range []string{"## Side by side with OpenBao/Vault", "| 2 | access |", "| vault-read |", "| 2 | update |", "| vault-write |",
				"compared with: OpenBao/Vault 2.6.2-fake at " + addr} {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, fakeBaoToken) {
				t.Error("the report prints the token")
			}
		})
	}
}

// TestCompareWithOpenBaoWrongToken: a token the server refuses stops the run
// before any measurement, with a message saying what to check.
func TestCompareWithOpenBaoWrongToken(t *testing.T) {
	_, addr := newFakeOpenBaoKV(t)
	cfg := quickTestConfig(startFakes(t, &fakeCoffer{secrets: map[string]string{}}))
	cfg.Vault = VaultConfig{Addr: addr, Token: "wrong", Mount: "secret"}
	_, err := Run(context.Background(), cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "KV v2 mount") || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("want a KV v2 hint with the status and without the token, got %v", err)
	}
}
