//go:build unix

package sqlite

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// countByProviderSQL is the count the startup check of unreadable
// providers ran before CountSealed replaced it: one table, no join.
const countByProviderSQL = `SELECT provider, count(*) FROM secret_versions WHERE ciphertext IS NOT NULL GROUP BY provider`

// BenchmarkCountSealed counts the stored versions of rows secrets per
// provider and format, as GET /apis/secrets/v2/encryption-status and the
// startup check of unreadable providers do; groupby-provider is the
// single-table count that check ran before, on the same reader pool, for
// comparison (docs/performance.md). SQLite runs in this process, so the
// process's CPU time per count (cpu-ns/op) measures the query's own cost
// whatever the load of the machine, which wall-clock ns/op does not.
//
//	go test -run '^$' -bench CountSealed -benchtime 5x ./internal/store/sqlite/
func BenchmarkCountSealed(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		st := openBench(b)
		fillSecrets(b, st, "bench", rows)
		b.Run(fmt.Sprintf("rows=%d/CountSealed", rows), func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				c, err := st.CountSealed(ctx)
				if err != nil || len(c) != 1 || c[0].Total() != rows {
					b.Fatalf("CountSealed = %+v, %v; want one row of %d", c, err, rows)
				}
			}
		})
		b.Run(fmt.Sprintf("rows=%d/groupby-provider", rows), func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				var p string
				var n int
				if err := st.reader.QueryRowContext(ctx, countByProviderSQL).Scan(&p, &n); err != nil || n != rows {
					b.Fatalf("count = %d, %v; want %d", n, err, rows)
				}
			}
		})
	}
}

// reportCPU returns a function that reports the process's user and system
// CPU time since reportCPU was called, per iteration, as cpu-ns/op.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
