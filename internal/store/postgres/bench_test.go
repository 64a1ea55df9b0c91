package postgres

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/envelope"
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

// fillSecrets inserts n secrets named f000000000… into ws, each with its
// version 1, with one statement, then analyses the tables as autovacuum
// would soon after.
func fillSecrets(tb testing.TB, st *Store, ws string, n int) {
	tb.Helper()
	_, err := st.pool.Exec(ctx, `WITH s AS (INSERT INTO secrets (workspace, name, created_at, updated_at, revision,
				current_version)
			SELECT $1, format('f%s', lpad(i::text, 9, '0')), now() + i * interval '1 microsecond', now(), 1, 1
			FROM generate_series(1, $2::int) AS i
			RETURNING id)
		INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_dek, provider, format_version, created_at)
		SELECT id, 1, gen_random_uuid()::text::bytea, '\x00'::bytea, 'k1', 2, now() FROM s`, ws, n)
	if err == nil {
		_, err = st.pool.Exec(ctx, `ANALYZE secrets; ANALYZE secret_versions`)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkGetSecret reads secrets at random from a workspace holding rows
// secrets: the query of the access and get paths.
//
//	go test -run '^$' -bench GetSecret ./internal/store/postgres/
func BenchmarkGetSecret(b *testing.B) {
	for _, rows := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			st := openFresh(b)
			mustCreate(b, st, "bench")
			fillSecrets(b, st, "bench", rows)
			rng := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				if _, err := st.GetSecret(ctx, "bench", fmt.Sprintf("f%09d", 1+rng.IntN(rows))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// benchSecrets is how many secrets the update benchmarks write to: each
// gets a history of 10 versions early on, so most updates also prune.
const benchSecrets = 64

// BenchmarkUpdateSecret gives secrets new values, keeping 10 versions (the
// default history): "serial" is one writer, the latency of an update;
// "concurrent" 64 writers over 10 connections, each writing its own
// secret, the throughput.
//
//	go test -run '^$' -bench UpdateSecret -benchtime 3s ./internal/store/postgres/
func BenchmarkUpdateSecret(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		st := openUpdateBench(b, 4)
		n := int64(0)
		for b.Loop() {
			n++
			s := benchSealed(n)
			u := secrets.SecretUpdate{Sealed: &s, UpdatedAt: secrets.Now(), Keep: 10}
			if _, err := st.UpdateSecret(ctx, "bench", fmt.Sprintf("f%09d", 1+n%benchSecrets), u); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("concurrent", func(b *testing.B) {
		st := openUpdateBench(b, 10)
		var workers, next atomic.Int64
		b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			w := workers.Add(1) - 1
			for pb.Next() {
				s := benchSealed(next.Add(1))
				u := secrets.SecretUpdate{Sealed: &s, UpdatedAt: secrets.Now(), Keep: 10}
				if _, err := st.UpdateSecret(ctx, "bench", fmt.Sprintf("f%09d", 1+w%benchSecrets), u); err != nil {
					b.Error(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

// openUpdateBench opens a store with conns connections on a workspace of
// 1,000 secrets.
func openUpdateBench(b *testing.B, conns int) *Store {
	b.Helper()
	st, err := Open(ctx, pgtest.NewDSN(b), conns, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	mustCreate(b, st, "bench")
	fillSecrets(b, st, "bench", 1000)
	return st
}

// benchSealed is a sealed value of about the size of a real one.
func benchSealed(seed int64) envelope.Sealed {
	return envelope.Sealed{
		Ciphertext: fmt.Appendf(make([]byte, 0, 128), "%0100d", seed),
		WrappedDEK: fmt.Appendf(make([]byte, 0, 64), "%060d", seed),
		Provider:   "k1",
		Format:     2,
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
