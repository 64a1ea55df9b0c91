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
	r.setRatios(8)
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
	for _, x := range r.rowsInRunOrder() {
		got = append(got, x.Op)
	}
	want := "ceiling get list ceiling-after ceiling get ceiling-after"
	if strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}
