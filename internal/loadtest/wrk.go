package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WrkResult is one wrk run, reported next to the Go generator's figures: wrk
// is a C event loop that spends far less CPU per request, so where it reaches
// more on the same target the Go generator, not the server, was the limit.
type WrkResult struct {
	Target       string  `json:"target"` // "ceiling" or "access"
	Concurrency  int     `json:"concurrency"`
	Round        int     `json:"round"`
	Threads      int     `json:"threads"`
	RPS          float64 `json:"requests_per_sec"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
	Non2xx       int64   `json:"non_2xx"`
	SocketErrors string  `json:"socket_errors,omitempty"`
}

// runWrk drives base (with the access script when script is set) for d.
func runWrk(ctx context.Context, base, script string, threads, conc int, d time.Duration) (*WrkResult, error) {
	secs := int(math.Ceil(d.Seconds()))
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conc), "-d", fmt.Sprintf("%ds", max(secs, 1)), "--latency"}
	if script != "" {
		args = append(args, "-s", script)
	}
	out, err := exec.CommandContext(ctx, "wrk", append(args, base+"/")...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk: %v: %s", err, out)
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return nil, err
	}
	r.Concurrency, r.Threads = conc, threads
	return r, nil
}

// writeAccessScript puts the access script of the wrk generator in dir and
// returns its path.
func writeAccessScript(dir string, w *workload, seed uint64) (string, error) {
	path := filepath.Join(dir, "access.lua")
	body := wrkScript(wrkScriptParams{op: "access", tag: "check", seed: seed, wl: w})
	return path, os.WriteFile(path, []byte(body), 0o600)
}

// parseWrk reads the figures out of wrk's human-readable output; wrk has no
// machine-readable mode without a Lua done() hook.
func parseWrk(out string) (*WrkResult, error) {
	r := &WrkResult{}
	sc := bufio.NewScanner(strings.NewReader(out))
	seenRPS := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return nil, fmt.Errorf("wrk Requests/sec %q: %w", f[1], err)
			}
			r.RPS, seenRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return nil, fmt.Errorf("wrk latency %q: %w", f[1], err)
			}
			ms := float64(d) / float64(time.Millisecond)
			if f[0] == "50%" {
				r.P50ms = ms
			} else {
				r.P99ms = ms
			}
		case len(f) == 5 && strings.Join(f[:4], " ") == "Non-2xx or 3xx responses:":
			r.Non2xx, _ = strconv.ParseInt(f[4], 10, 64)
		case len(f) > 2 && f[0] == "Socket" && f[1] == "errors:":
			r.SocketErrors = strings.Join(f[2:], " ")
		}
	}
	if !seenRPS {
		return nil, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	return r, nil
}
