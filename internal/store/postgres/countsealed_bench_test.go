package postgres

import (
	"fmt"
	"testing"
)

// countByProviderSQL is the count the startup check of unreadable
// providers ran before CountSealed replaced it: one table, no join.
const countByProviderSQL = `SELECT provider, count(*) FROM secret_versions WHERE ciphertext IS NOT NULL GROUP BY provider`

// BenchmarkCountSealed is the PostgreSQL twin of the SQLite benchmark of
// the same name (docs/performance.md).
//
//	go test -run '^$' -bench CountSealed -benchtime 5x ./internal/store/postgres/
func BenchmarkCountSealed(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		st := openFresh(b)
		mustCreate(b, st, "bench")
		fillSecrets(b, st, "bench", rows)
		b.Run(fmt.Sprintf("rows=%d/CountSealed", rows), func(b *testing.B) {
			for b.Loop() {
				c, err := st.CountSealed(ctx)
				if err != nil || len(c) != 1 || c[0].Total() != rows {
					b.Fatalf("CountSealed = %+v, %v; want one row of %d", c, err, rows)
				}
			}
		})
		b.Run(fmt.Sprintf("rows=%d/groupby-provider", rows), func(b *testing.B) {
			for b.Loop() {
				var p string
				var n int
				if err := st.pool.QueryRow(ctx, countByProviderSQL).Scan(&p, &n); err != nil || n != rows {
					b.Fatalf("count = %d, %v; want %d", n, err, rows)
				}
			}
		})
	}
}
