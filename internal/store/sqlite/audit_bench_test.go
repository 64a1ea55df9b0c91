package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// BenchmarkAppendAudit: the cost of one event in a batch of 100, the size
// of a flush interval's batch at about 10,000 accesses per second. Each
// batch gets the current time, as the server's do: the ids start with it,
// so events arrive at the right edge of the table and its index (reusing
// the first batch's times put every later batch at random places among the
// earlier ones, at about 10 times the cost). cpu-ns/event is the
// process's CPU time per event.
//
//	go test -run '^$' -bench AppendAudit -benchtime 2000x ./internal/store/sqlite/
func BenchmarkAppendAudit(b *testing.B) {
	st, err := Open(ctx, filepath.Join(b.TempDir(), "coffer.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	es := accessEvents(100)
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		for i := range es {
			es[i].ID, es[i].Time = "", secrets.Now()
		}
		if err := st.AppendAudit(ctx, es); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/event")
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N*len(es)), "cpu-ns/event")
}
