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
	// The HTTP load test's shape: updates of random secrets among 10,000
	// that hold 10 versions each, so each update's rows and index entries
	// are on pages of their own and each prune erases an old version.
	b.Run("update-spread", func(b *testing.B) {
		st := openBench(b)
		const secretCount = 10_000
		fillVersions(b, st, secretCount, secrets.DefaultMaxVersions)
		var next atomic.Int64
		runAudited(b, st, func(ctx context.Context, _ int64) error {
			n := next.Add(1)
			s := benchSealed(n)
			u := secrets.SecretUpdate{Sealed: &s, UpdatedAt: secrets.Now(), Keep: secrets.DefaultMaxVersions}
			_, err := st.UpdateSecret(ctx, "bench", fmt.Sprintf("f%09d", 1+n*7919%secretCount), u)
			return err
		})
	})
}

// fillVersions fills workspace "bench" with n secrets (fillSecrets) of
// versions versions each, the last one current, none pruned yet.
func fillVersions(b *testing.B, st *Store, n, versions int) {
	b.Helper()
	fillSecrets(b, st, "bench", n)
	_, err := st.writer.ExecContext(ctx, `WITH RECURSIVE seq (v) AS (SELECT 2 UNION ALL SELECT v + 1 FROM seq WHERE v < ?1)
		INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_dek, provider, format_version, created_at)
		SELECT id, v, randomblob(100), randomblob(60), 'k1', 2, created_at FROM seq, secrets
		WHERE workspace = 'bench' ORDER BY v, id`, versions)
	if err != nil {
		b.Fatal(err)
	}
	_, err = st.writer.ExecContext(ctx, `UPDATE secrets SET current_version = ?1, current_row = (SELECT id
		FROM secret_versions WHERE secret_id = secrets.id AND version = ?1) WHERE workspace = 'bench'`, versions)
	if err != nil {
		b.Fatal(err)
	}
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
