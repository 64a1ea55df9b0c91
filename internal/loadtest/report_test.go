package loadtest

import (
	"strings"
	"testing"
)

func TestRatiosUseTheHigherCeiling(t *testing.T) {
	r := &Report{
		Ceiling: []Row{{Op: CeilingOp, Concurrency: 8, RPS: 500}, {Op: CeilingAfterOp, Concurrency: 8, RPS: 1000}},
		Results: []Row{{Op: "access", Concurrency: 8, RPS: 250}},
	}
	r.setRatios(8, 0)
	if r.Results[0].RatioToCeiling != 0.25 || r.Ceiling[0].RatioToCeiling != 0.5 || r.Ceiling[1].RatioToCeiling != 1 {
		t.Fatalf("ratios: %+v %+v", r.Ceiling, r.Results)
	}
}

func TestRowsInRunOrder(t *testing.T) {
	r := &Report{
		Ceiling: []Row{{Op: CeilingOp, Concurrency: 1}, {Op: CeilingAfterOp, Concurrency: 1}, {Op: CeilingOp, Concurrency: 2}, {Op: CeilingAfterOp, Concurrency: 2}},
		Results: []Row{{Op: "get", Concurrency: 1}, {Op: "list", Concurrency: 1}, {Op: "get", Concurrency: 2}},
	}
	var got []string
	for _, x := range r.rowsInRunOrder(0) {
		got = append(got, x.Op)
	}
	want := "ceiling get list ceiling-after ceiling get ceiling-after"
	if strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

// TestMedians: each (op, concurrency) gets the median over the rounds of
// its per-round figures, the summed errors and the largest peak RSS.
func TestMedians(t *testing.T) {
	rss := func(v float64) *float64 { return &v }
	r := &Report{Rounds: 3, Results: []Row{
		{Op: "get", Concurrency: 16, Round: 1, RPS: 100, RatioToCeiling: 0.5, P99ms: 3, HTTPErrors: 1, PeakRSSMiB: rss(40)},
		{Op: "get", Concurrency: 16, Round: 2, RPS: 300, RatioToCeiling: 0.9, P99ms: 1, PeakRSSMiB: rss(45)},
		{Op: "get", Concurrency: 16, Round: 3, RPS: 200, RatioToCeiling: 0.6, P99ms: 2, HTTPErrors: 2, PeakRSSMiB: rss(41)},
		{Op: "get", Concurrency: 64, Round: 1, RPS: 10},
		{Op: "get", Concurrency: 64, Round: 2, RPS: 20},
	}}
	m := r.Medians()
	if len(m) != 2 {
		t.Fatalf("medians %+v", m)
	}
	if g := m[0]; g.RPS != 200 || g.RatioToCeiling != 0.6 || g.P99ms != 2 || g.HTTPErrors != 3 || *g.PeakRSSMiB != 45 || g.Round != 0 {
		t.Errorf("c=16 median %+v", g)
	}
	if m[1].RPS != 15 {
		t.Errorf("c=64 median of two rounds: %v, want 15", m[1].RPS)
	}
}
