package sqlite

import (
	"path/filepath"
	"testing"
)

// BenchmarkAppendAudit: the cost of one event in a batch of 100, the size
// of a flush interval's batch at about 10,000 accesses per second.
func BenchmarkAppendAudit(b *testing.B) {
	st, err := Open(ctx, filepath.Join(b.TempDir(), "coffer.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	es := accessEvents(100)
	b.ReportAllocs()
	for b.Loop() {
		for i := range es {
			es[i].ID = ""
		}
		if err := st.AppendAudit(ctx, es); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/event")
}
