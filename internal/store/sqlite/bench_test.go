package sqlite

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/listsql"
)

// benchWriters is the number of goroutines the concurrent write benchmarks
// run, about what a busy server has in flight.
const benchWriters = 64

// Concurrent write benchmarks: benchWriters goroutines write at once, as
// many API requests do. They report ops/s; docs/performance.md records the
// numbers. Run with
//
//	go test -run '^$' -bench 'Concurrent|Serial' -benchtime 3s ./internal/store/sqlite/

func BenchmarkConcurrentCreates(b *testing.B) {
	st := openBench(b)
	var next atomic.Int64
	runParallel(b, st, func(int64) {
		n := next.Add(1)
		r := benchRecord(fmt.Sprintf("s%09d", n), n)
		if _, err := st.CreateSecret(ctx, r); err != nil {
			b.Error(err)
		}
	})
}

// BenchmarkSerialCreates is one writer alone: the latency of a write when
// the store is idle, dominated by the fsync of its commit.
func BenchmarkSerialCreates(b *testing.B) {
	st := openBench(b)
	n := int64(0)
	for b.Loop() {
		n++
		if _, err := st.CreateSecret(ctx, benchRecord(fmt.Sprintf("s%09d", n), n)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkConcurrentUpdates(b *testing.B) {
	st := openBench(b)
	// Each goroutine updates its own secret (worker % secretCount), so updates
	// do not all hit one row; the spare secrets make the table less tiny.
	// Every update adds a version and prunes to the default history
	// (secrets.max_versions), as the server's do.
	const secretCount = 4 * benchWriters
	for i := range secretCount {
		if _, err := st.CreateSecret(ctx, benchRecord(fmt.Sprintf("s%09d", i), int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	runParallel(b, st, func(worker int64) {
		s := benchSealed(next.Add(1))
		u := secrets.SecretUpdate{Sealed: &s, UpdatedAt: secrets.Now(), Keep: secrets.DefaultMaxVersions}
		if _, err := st.UpdateSecret(ctx, "bench", fmt.Sprintf("s%09d", worker%secretCount), u); err != nil {
			b.Error(err)
		}
	})
}

// openBench opens a store in a fresh directory with workspace "bench".
func openBench(b *testing.B) *Store {
	b.Helper()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "coffer.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.CreateWorkspace(ctx, workspace("bench"), ""); err != nil {
		b.Fatal(err)
	}
	return st
}

// runParallel calls op b.N times in all from benchWriters goroutines, each
// passing its own worker number, and reports ops/s and writes per commit.
func runParallel(b *testing.B, st *Store, op func(worker int64)) {
	var workers atomic.Int64
	commits, writes := st.commit.commits.Load(), st.commit.writes.Load()
	b.SetParallelism(parallelism())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		worker := workers.Add(1) - 1
		for pb.Next() {
			op(worker)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	commits, writes = st.commit.commits.Load()-commits, st.commit.writes.Load()-writes
	b.ReportMetric(float64(writes)/float64(max(commits, 1)), "writes/commit")
}

// parallelism makes RunParallel start about benchWriters goroutines
// (it starts parallelism × GOMAXPROCS).
func parallelism() int {
	procs := runtime.GOMAXPROCS(0)
	return (benchWriters + procs - 1) / procs
}

// benchRecord is a secret of about the size of a real one.
func benchRecord(name string, seed int64) secrets.Record {
	now := secrets.Now()
	return secrets.Record{
		Secret: secrets.Secret{Name: name, Workspace: "bench", CreatedAt: now, UpdatedAt: now},
		Sealed: benchSealed(seed),
	}
}

func benchSealed(seed int64) envelope.Sealed {
	return envelope.Sealed{
		Ciphertext: fmt.Appendf(make([]byte, 0, 128), "%0100d", seed),
		WrappedDEK: fmt.Appendf(make([]byte, 0, 64), "%060d", seed),
		Provider:   "k1",
		Format:     2,
	}
}

// BenchmarkGetSecret reads secrets at random from a workspace holding rows
// secrets: "query" is SQLite's read, what a read cache miss costs (the
// access path of a large data set read uniformly); "cached" is a hit.
//
//	go test -run '^$' -bench GetSecret ./internal/store/sqlite/
func BenchmarkGetSecret(b *testing.B) {
	for _, rows := range []int{1_000, 100_000, 1_000_000} {
		st := openBench(b)
		fillSecrets(b, st, "bench", rows)
		for _, mode := range []string{"query", "cached"} {
			get, n := st.getSecret, rows
			if mode == "cached" {
				get, n = st.GetSecret, min(rows, 8192) // within maxCachedRecordBytes
			}
			b.Run(fmt.Sprintf("rows=%d/%s", rows, mode), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				for b.Loop() {
					if _, err := get(ctx, "bench", fmt.Sprintf("f%09d", 1+rng.IntN(n))); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkListSecrets lists a page of 10 of a workspace holding rows
// secrets with the query GET …/secrets runs on a cache miss: the cost must
// not grow with rows.
// The rows are inserted with one SQL statement, not through the Store, so
// that the fixture costs a second rather than minutes.
//
//	go test -run '^$' -bench ListSecrets ./internal/store/sqlite/
func BenchmarkListSecrets(b *testing.B) {
	for _, rows := range []int{1_000, 10_000, 100_000} {
		for _, offset := range []int{0, 500} { // 500: the mean page of `coffer bench` list
			b.Run(fmt.Sprintf("rows=%d/offset=%d", rows, offset), func(b *testing.B) {
				benchList(b, rows, offset)
			})
		}
	}
}

func benchList(b *testing.B, rows, offset int) {
	st := openBench(b)
	fillSecrets(b, st, "bench", rows)
	for b.Loop() {
		items, total, err := st.listSecrets(ctx, pageKey{ws: "bench", sort: listsql.DefaultSecretSort, limit: 10, offset: offset})
		if err != nil || len(items) != 10 || total != rows {
			b.Fatalf("ListSecrets: %d items, total %d, %v; want 10 of %d", len(items), total, err, rows)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lists/s")
}

// fillSecrets inserts n secrets named f000000000…, each with its version
// 1 as current row, into ws with three statements on the writer (outside
// the committer, which is idle here).
func fillSecrets(b *testing.B, st *Store, ws string, n int) {
	b.Helper()
	_, err := st.writer.ExecContext(ctx, `WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?2)
		INSERT INTO secrets (workspace, name, created_at, updated_at, revision, current_version)
		SELECT ?1, printf('f%09d', i), i, i, 1, 1 FROM seq`, ws, n)
	if err != nil {
		b.Fatal(err)
	}
	_, err = st.writer.ExecContext(ctx, `INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_dek,
			provider, format_version, created_at)
		SELECT id, 1, randomblob(100), randomblob(60), 'k1', 2, created_at FROM secrets
		WHERE workspace = ?1 AND NOT EXISTS (SELECT 1 FROM secret_versions WHERE secret_id = id)`, ws)
	if err != nil {
		b.Fatal(err)
	}
	_, err = st.writer.ExecContext(ctx, `UPDATE secrets SET current_row = (SELECT id FROM secret_versions
		WHERE secret_id = secrets.id AND version = 1) WHERE workspace = ?1 AND current_row IS NULL`, ws)
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListShapes lists a page of 10 of a workspace of 1,000,000
// secrets in each sort and with each kind of filter, as GET …/secrets does
// on a cache miss (filtered pages are never cached), total included.
// docs/lifecycle.md asks for well under a second per filtered page; the
// unselective ones (LIKE, search) visit every secret of the workspace.
//
//	go test -run '^$' -bench ListShapes -benchtime 5x ./internal/store/sqlite/
func BenchmarkListShapes(b *testing.B) {
	const rows = 1_000_000
	st := openBench(b)
	fillSecrets(b, st, "bench", rows)
	mid := fromMicros(rows / 2)
	shapes := []struct {
		name string
		q    secrets.SecretQuery
	}{
		{"sort=-created_at", secrets.SecretQuery{}},
		{"sort=name", secrets.SecretQuery{Sort: "name"}},
		{"sort=-updated_at", secrets.SecretQuery{Sort: "-updated_at"}},
		{"filter=name", secrets.SecretQuery{Filter: secrets.Filter{Name: new("f000500000")}}},
		{"filter=name-like-prefix", secrets.SecretQuery{Filter: secrets.Filter{NameLike: new("f00050%")}}},
		{"filter=description-like", secrets.SecretQuery{Filter: secrets.Filter{DescriptionLike: new("%token%")}}},
		{"filter=created-range", secrets.SecretQuery{Filter: secrets.Filter{CreatedFrom: &mid}}},
		{"search", secrets.SecretQuery{Filter: secrets.Filter{Search: "0005000"}}},
	}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			q := sh.q
			q.Limit = 10
			for b.Loop() {
				// The queries themselves: ListSecrets would answer the
				// unfiltered pages from the read cache after the first.
				var err error
				if q.Filter.IsZero() {
					_, _, err = st.listSecrets(ctx, pageKey{ws: "bench", sort: cmp.Or(q.Sort, listsql.DefaultSecretSort), limit: 10})
				} else {
					_, _, err = st.listFiltered(ctx, "bench", q)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListNamePrefix is the filtered page of `coffer bench`'s
// list-filter phase: 10,000 secrets, a name prefix matching 100 of them,
// a page of 10 with its total (docs/performance.md, "Reads, round two" and
// "The filtered list page"). cpu-ns/op is the process's CPU time per page.
//
//	go test -run '^$' -bench ListNamePrefix ./internal/store/sqlite/
func BenchmarkListNamePrefix(b *testing.B) {
	st := openBench(b)
	fillSecrets(b, st, "bench", 10_000)
	q := secrets.SecretQuery{Limit: 10, Filter: secrets.Filter{NameLike: new("f0000051%")}}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		items, total, err := st.listFiltered(ctx, "bench", q)
		if err != nil || len(items) != 10 || total != 100 {
			b.Fatalf("%d items, total %d, %v", len(items), total, err)
		}
	}
}
