package loadtest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// prepareWrk decides whether wrk runs and writes its access script. wrk runs
// right after the Go generator's ceiling and access phases rather than at the
// end of the run: Coffer's state (database and WAL size) changes as the run
// writes, so only neighbouring measurements are comparable.
func (r *runner) prepareWrk(context.Context) error {
	if !r.cfg.Wrk {
		return nil
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		r.rep.WrkNote = "wrk is not installed (Debian: apt-get install -y wrk); comparison skipped."
		return nil
	}
	var err error
	r.wrkScript, err = writeAccessScript(r.dir, r.wl, r.seed)
	return err
}

// wrkPhase drives target ("ceiling" or "access") with wrk, if prepared.
func (r *runner) wrkPhase(ctx context.Context, target string, conc int) error {
	if r.wrkScript == "" {
		return nil
	}
	base, script := r.ceilBase, ""
	if target == "access" {
		base, script = r.rep.Target.URL, r.wrkScript
	}
	res, err := runWrk(ctx, base, script, r.cfg.WrkThreads, conc, r.cfg.Duration)
	if err != nil {
		return err
	}
	res.Target, res.Round = target, r.round
	r.rep.Wrk = append(r.rep.Wrk, *res)
	fmt.Fprintf(r.log, "wrk %-12s c=%-4d %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms\n", target, conc, res.RPS, res.P50ms, res.P99ms)
	return nil
}

// noteWrk compares the generators on the ceiling once all phases ran.
func (r *runner) noteWrk() {
	var notes []string
	for _, w := range r.rep.Wrk {
		if w.Target == "ceiling" && w.RPS > 0 {
			notes = append(notes, fmt.Sprintf("at c=%d%s the Go generator reached %.0f%% of wrk's ceiling", w.Concurrency, roundSuffix(w.Round, r.cfg.Rounds), 100*r.rep.CeilingRPS(w.Concurrency, w.Round)/w.RPS))
		}
	}
	if len(notes) > 0 {
		r.rep.WrkNote = "Generator efficiency: " + strings.Join(notes, "; ") + ". wrk's ceiling is itself limited by sharing the CPUs with the ceiling server."
	}
}
