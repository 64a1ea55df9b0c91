package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// BenchmarkAuditedWrites is the server's write path: creates, and updates
// with a new value kept to 10 versions, from 64 goroutines over the default
// pool of 10 connections, without an audit event ("noaudit/…") and with one
// in the write's transaction, as the HTTP API's writes are. The issue's
// budget is the audited rate within 20 % of the unaudited one. cpu-ns/op is
// this process's CPU per write (PostgreSQL's own is not in it).
//
//	go test -run '^$' -bench AuditedWrites -benchtime 5000x ./internal/store/postgres/
func BenchmarkAuditedWrites(b *testing.B) {
	for _, audit := range []bool{false, true} {
		prefix := map[bool]string{false: "noaudit/", true: ""}[audit]
		b.Run(prefix+"create", func(b *testing.B) {
			st := openUpdateBench(b, 10)
			var next atomic.Int64
			runWrites(b, audit, func(ctx context.Context, _ int64) error {
				n := next.Add(1)
				r := secrets.Record{Secret: secrets.Secret{Workspace: "bench", Name: fmt.Sprintf("s%09d", n),
					CreatedAt: secrets.Now(), UpdatedAt: secrets.Now()}, Sealed: benchSealed(n)}
				_, err := st.CreateSecret(ctx, r)
				return err
			})
		})
		b.Run(prefix+"update", func(b *testing.B) {
			st := openUpdateBench(b, 10)
			var next atomic.Int64
			runWrites(b, audit, func(ctx context.Context, w int64) error {
				s := benchSealed(next.Add(1))
				u := secrets.SecretUpdate{Sealed: &s, UpdatedAt: secrets.Now(), Keep: 10}
				_, err := st.UpdateSecret(ctx, "bench", fmt.Sprintf("f%09d", 1+w%benchSecrets), u)
				return err
			})
		})
	}
}

// runWrites calls op b.N times from 64 goroutines, each with its worker
// number and, when audit is set, a fresh audit draft that must commit
// with the write; it reports ops/s and cpu-ns/op.
func runWrites(b *testing.B, audit bool, op func(ctx context.Context, worker int64) error) {
	var workers atomic.Int64
	cpu := cpuTime(b)
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := workers.Add(1) - 1
		for pb.Next() {
			c := ctx
			var d *secrets.AuditDraft
			if audit {
				d = &secrets.AuditDraft{Event: secrets.AuditEvent{Time: secrets.Now(), Action: "secret.update",
					Outcome: "success", Status: 200, Workspace: "bench", Secret: "s", Principal: "service:bench",
					AuthMethod: "none", RequestID: "0123456789abcdef0123456789abcdef", RemoteAddr: "127.0.0.1",
					UserAgent: "Go-http-client/1.1"}}
				c = secrets.WithAuditDraft(ctx, d)
			}
			if err := op(c, w); err != nil {
				b.Error(err)
			}
			if d != nil && !d.Committed() {
				b.Error("audit event not committed with its write")
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time (user + system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
