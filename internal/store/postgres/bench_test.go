package postgres

import (
	"fmt"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// BenchmarkListSecrets lists the first page of 10 of a workspace holding
// rows secrets, as GET …/secrets does: the cost must not grow with rows.
// The rows are inserted with one SQL statement, not through the Store.
//
//	go test -run '^$' -bench ListSecrets ./internal/store/postgres/
func BenchmarkListSecrets(b *testing.B) {
	for _, rows := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			st := openFresh(b)
			mustCreate(b, st, "bench")
			fillSecrets(b, st, "bench", rows)
			for b.Loop() {
				items, total, err := st.ListSecrets(ctx, "bench", secrets.SecretQuery{Limit: 10})
				if err != nil || len(items) != 10 || total != rows {
					b.Fatalf("ListSecrets: %d items, total %d, %v; want 10 of %d", len(items), total, err, rows)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lists/s")
		})
	}
}

// fillSecrets inserts n secrets named f000000000… into ws with one
// statement, then analyses the table as autovacuum would soon after.
func fillSecrets(b *testing.B, st *Store, ws string, n int) {
	b.Helper()
	_, err := st.pool.Exec(ctx, `INSERT INTO secrets (workspace, name, ciphertext, wrapped_dek, provider,
			format_version, created_at, updated_at, revision)
		SELECT $1, format('f%s', lpad(i::text, 9, '0')), gen_random_uuid()::text::bytea, '\x00'::bytea, 'k1', 2,
			now() + i * interval '1 microsecond', now(), 1
		FROM generate_series(1, $2::int) AS i`, ws, n)
	if err == nil {
		_, err = st.pool.Exec(ctx, `ANALYZE secrets`)
	}
	if err != nil {
		b.Fatal(err)
	}
}
