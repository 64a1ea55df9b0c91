package loadtest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// wrk drives the ceiling and access with wrk at every concurrency, when asked
// and installed, and compares wrk's ceiling with the Go generator's.
func (r *runner) wrk(ctx context.Context) error {
	if !r.cfg.Wrk {
		return nil
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		r.rep.WrkNote = "wrk is not installed (Debian: apt-get install -y wrk); comparison skipped."
		return nil
	}
	script, err := writeAccessScript(r.dir, r.wl)
	if err != nil {
		return err
	}
	var notes []string
	for _, conc := range r.cfg.Concurrency {
		ceil, err := runWrk(ctx, r.ceilBase, "", conc, r.cfg.Duration)
		if err != nil {
			return err
		}
		ceil.Target = "ceiling"
		acc, err := runWrk(ctx, r.rep.Target.URL, script, conc, r.cfg.Duration)
		if err != nil {
			return err
		}
		acc.Target = "access"
		r.rep.Wrk = append(r.rep.Wrk, *ceil, *acc)
		fmt.Fprintf(r.log, "wrk      c=%-4d ceiling %9.0f req/s  access %9.0f req/s\n", conc, ceil.RPS, acc.RPS)
		notes = append(notes, fmt.Sprintf("at c=%d the Go generator reached %.0f%% of wrk's ceiling", conc, 100*r.rep.CeilingRPS(conc)/ceil.RPS))
	}
	r.rep.WrkNote = "Generator efficiency: " + strings.Join(notes, "; ") + ". wrk's ceiling is itself limited by sharing the CPUs with the ceiling server."
	return nil
}
