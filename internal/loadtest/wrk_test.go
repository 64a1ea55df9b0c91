package loadtest

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const wrkSample = `Running 1s test @ http://127.0.0.1:41234/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   310.25us  120.11us   5.01ms   90.00%
    Req/Sec    25.10k     1.20k   27.00k    70.00%
  Latency Distribution
     50%  290.00us
     75%  350.00us
     90%  420.00us
     99%    1.05ms
  50000 requests in 1.00s, 9.54MB read
  Socket errors: connect 0, read 1, write 0, timeout 0
  Non-2xx or 3xx responses: 7
Requests/sec:  49950.12
Transfer/sec:      9.53MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	if r.RPS != 49950.12 || r.P50ms != 0.29 || r.P99ms != 1.05 || r.Non2xx != 7 {
		t.Fatalf("parsed %+v", r)
	}
	if r.SocketErrors != "connect 0, read 1, write 0, timeout 0" {
		t.Fatalf("socket errors %q", r.SocketErrors)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Fatal("output without figures must be an error")
	}
}

func TestRunWithWrk(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil || testing.Short() {
		t.Skip("needs wrk (apt-get install -y wrk) and a few seconds")
	}
	cfg := quickTestConfig(startFakes(t, &fakeCoffer{secrets: map[string]string{}}))
	cfg.Wrk, cfg.Concurrency, cfg.Ops = true, []int{2}, []string{"access", "get"}
	rep, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Wrk) != 2 || rep.Wrk[0].Target != "ceiling" || rep.Wrk[1].Target != "access" {
		t.Fatalf("wrk rows %+v", rep.Wrk)
	}
	if rep.Wrk[1].RPS <= 0 || rep.Wrk[1].Non2xx != 0 || !strings.Contains(rep.WrkNote, "at c=2") {
		t.Fatalf("wrk against the fake: %+v, note %q", rep.Wrk[1], rep.WrkNote)
	}
}
