package postgres

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
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

// BenchmarkConcurrentCreates creates new secrets in one workspace from 64
// goroutines over a pool of 10 connections, the default: the secret count
// each create maintains must not make them wait for each other.
//
//	go test -run '^$' -bench ConcurrentCreates -benchtime 3s ./internal/store/postgres/
func BenchmarkConcurrentCreates(b *testing.B) {
	st, err := Open(ctx, pgtest.NewDSN(b), 10, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	mustCreate(b, st, "bench")
	var next atomic.Int64
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			r := secrets.Record{Secret: secrets.Secret{Workspace: "bench", Name: fmt.Sprintf("s%09d", n),
				CreatedAt: secrets.Now(), UpdatedAt: secrets.Now()}}
			r.Sealed.Ciphertext, r.Sealed.WrappedDEK, r.Sealed.Provider, r.Sealed.Format = make([]byte, 100), make([]byte, 60), "k1", 2
			if _, err := st.CreateSecret(ctx, r); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
