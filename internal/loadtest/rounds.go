package loadtest

import (
	"fmt"
	"slices"
	"strings"
)

// Medians is one row per (op, concurrency) of the results with the median
// over the rounds of req/s, ratio to the round's own ceiling, latencies and
// CPU, the summed errors and the largest peak RSS. Ratios are taken per round
// before the median, so a round with a disturbed ceiling does not mix with
// another round's operations.
func (r *Report) Medians() []Row {
	var out []Row
	seen := map[string]bool{}
	for _, x := range r.Results {
		key := fmt.Sprintf("%s/%d", x.Op, x.Concurrency)
		if seen[key] {
			continue
		}
		seen[key] = true
		var rows []Row
		for _, y := range r.Results {
			if y.Op == x.Op && y.Concurrency == x.Concurrency {
				rows = append(rows, y)
			}
		}
		out = append(out, medianRow(rows))
	}
	return out
}

func medianRow(rows []Row) Row {
	m := Row{Op: rows[0].Op, Concurrency: rows[0].Concurrency}
	med := func(f func(Row) float64) float64 {
		v := make([]float64, len(rows))
		for i, x := range rows {
			v[i] = f(x)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	m.RPS = med(func(x Row) float64 { return x.RPS })
	m.RatioToCeiling = med(func(x Row) float64 { return x.RatioToCeiling })
	m.P99RatioToCeiling = med(func(x Row) float64 { return x.P99RatioToCeiling })
	m.P50ms = med(func(x Row) float64 { return x.P50ms })
	m.P99ms = med(func(x Row) float64 { return x.P99ms })
	m.P999ms = med(func(x Row) float64 { return x.P999ms })
	m.GeneratorCores = med(func(x Row) float64 { return x.GeneratorCores })
	if all(rows, func(x Row) bool { return x.ServerCores != nil && x.RPS > 0 }) {
		v := med(func(x Row) float64 { return *x.ServerCores / x.RPS * 1e6 })
		m.ServerCPUPerRequestUS = &v
	}
	var cores []float64
	for _, x := range rows {
		m.Requests += x.Requests
		m.HTTPErrors += x.HTTPErrors
		m.TransportErrors += x.TransportErrors
		if x.PeakRSSMiB != nil && (m.PeakRSSMiB == nil || *x.PeakRSSMiB > *m.PeakRSSMiB) {
			v := *x.PeakRSSMiB
			m.PeakRSSMiB = &v
		}
		if x.ServerCores != nil {
			cores = append(cores, *x.ServerCores)
		}
	}
	if len(cores) == len(rows) {
		v := med(func(x Row) float64 { return *x.ServerCores })
		m.ServerCores = &v
	}
	return m
}

func (r *Report) medianTable(b *strings.Builder) {
	fmt.Fprintf(b, "## Median of %d rounds\n\n", r.Rounds)
	b.WriteString("| op | conc | req/s | × ceiling | p50 ms | p99 ms | p99 × ceiling | p99.9 ms | HTTP errors (all rounds) | transport errors (all rounds) | peak RSS MiB (max) | server CPU | server CPU µs/req | generator CPU |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Medians() {
		fmt.Fprintf(b, "| %s | %d | %.0f | %.2f | %.3f | %.3f | %.2f | %.3f | %d | %d | %s | %s | %s | %.2f |\n",
			x.Op, x.Concurrency, x.RPS, x.RatioToCeiling, x.P50ms, x.P99ms, x.P99RatioToCeiling, x.P999ms,
			x.HTTPErrors, x.TransportErrors, fmtRSS(x.PeakRSSMiB), fmtCores(x.ServerCores), medianCPUPerRequest(x), x.GeneratorCores)
	}
	b.WriteString("\nEach ratio is taken against the ceiling of its own round, then the median is taken.\n")
}

// roundSuffix labels a figure with its round when there are several.
func roundSuffix(round, rounds int) string {
	if rounds <= 1 {
		return ""
	}
	return fmt.Sprintf(" (round %d)", round)
}

func all(rows []Row, ok func(Row) bool) bool {
	for _, x := range rows {
		if !ok(x) {
			return false
		}
	}
	return true
}

// medianCPUPerRequest is the median of the rounds' CPU per request, which
// is not the median cores over the median req/s.
func medianCPUPerRequest(x Row) string {
	if x.ServerCPUPerRequestUS == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", *x.ServerCPUPerRequestUS)
}
