package sqlite

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkCacheFootprint fills the read cache with records and reports the
// live heap they take per cached record (B/record), map included: what the
// cache's byte bound must account for (docs/performance.md).
//
//	go test -run '^$' -bench CacheFootprint -benchtime 1x ./internal/store/sqlite/
func BenchmarkCacheFootprint(b *testing.B) {
	st := openBench(b)
	const rows = 20_000
	fillSecrets(b, st, "bench", rows)
	if _, err := st.writer.ExecContext(ctx, `UPDATE secrets SET created_by = 'token:bench-admin', updated_by = 'token:bench-admin'`); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		st.cache.mu.Lock()
		st.cache.dropLocked()
		st.cache.mu.Unlock()
		before := liveHeap()
		for i := range rows {
			if _, err := st.GetSecret(ctx, "bench", fmt.Sprintf("f%09d", 1+i)); err != nil {
				b.Fatal(err)
			}
		}
		n := len(st.cache.records.m)
		b.ReportMetric(float64(liveHeap()-before)/float64(n), "B/record")
		b.ReportMetric(float64(n), "records")
	}
}

func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
