package sqlite

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// BenchmarkAuditedWrites is the server's write path through the store:
// benchWriters goroutines create secrets or update their own secret (a new
// version, pruned to the default history), each write carrying its audit
// event as the HTTP API's writes do. Besides ops/s and writes/commit it
// reports cpu-ns/op, the process's CPU time per write (user + system,
// committer and fsync calls included), which depends far less on the other
// load of a shared machine than ops/s does (docs/performance.md, "Writes,
// round two"):
//
//	go test -run '^$' -bench AuditedWrites -benchtime 20000x ./internal/store/sqlite/
func BenchmarkAuditedWrites(b *testing.B) {
	b.Run("create", func(b *testing.B) {
		st := openBench(b)
		var next atomic.Int64
		runAudited(b, st, func(ctx context.Context, _ int64) error {
			n := next.Add(1)
			_, err := st.CreateSecret(ctx, benchRecord(fmt.Sprintf("s%09d", n), n))
			return err
		})
	})
	b.Run("update", func(b *testing.B) {
		st := openBench(b)
		const secretCount = 4 * benchWriters
		for i := range secretCount {
			if _, err := st.CreateSecret(ctx, benchRecord(fmt.Sprintf("s%09d", i), int64(i))); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Int64
		runAudited(b, st, func(ctx context.Context, worker int64) error {
			s := benchSealed(next.Add(1))
			u := secrets.SecretUpdate{Sealed: &s, UpdatedAt: secrets.Now(), Keep: secrets.DefaultMaxVersions}
			_, err := st.UpdateSecret(ctx, "bench", fmt.Sprintf("s%09d", worker%secretCount), u)
			return err
		})
	})
}

// runAudited runs op like runParallel, each call with a fresh audit draft
// in its context, and also reports cpu-ns/op.
func runAudited(b *testing.B, st *Store, op func(ctx context.Context, worker int64) error) {
	start := cpuTime()
	runParallel(b, st, func(worker int64) {
		d := &secrets.AuditDraft{Event: secrets.AuditEvent{Time: secrets.Now(), Action: "secret.update",
			Outcome: "success", Status: 200, Workspace: "bench", Secret: "s", Principal: "service:bench",
			AuthMethod: "none", RequestID: "0123456789abcdef0123456789abcdef", RemoteAddr: "127.0.0.1",
			UserAgent: "Go-http-client/1.1"}}
		if err := op(secrets.WithAuditDraft(ctx, d), worker); err != nil {
			b.Error(err)
		}
		if !d.Committed() {
			b.Error("audit event not committed with its write")
		}
	})
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
