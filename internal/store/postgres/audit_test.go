package postgres

import (
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
)

// TestAuditPruneTwoReplicas runs the retention prune of two replicas (two
// stores, each with its own pool, on one database) at once over the same
// expired events, as the retention job of every replica does: together
// they delete each expired event exactly once, keep every newer one, and
// neither fails.
func TestAuditPruneTwoReplicas(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const expired, kept = 3000, 50
	var es []secrets.AuditEvent
	for i := range expired + kept {
		at := base.Add(time.Duration(i) * time.Millisecond)
		es = append(es, secrets.AuditEvent{ID: secrets.NewAuditID(at), Time: at, Action: secrets.ActionSecretAccess,
			Outcome: secrets.OutcomeSuccess, Status: 200, Workspace: "ws", Secret: "s"})
	}
	if err := a.AppendAudit(ctx, es); err != nil {
		t.Fatal(err)
	}
	cut := base.Add(expired * time.Millisecond)
	var wg sync.WaitGroup
	deleted := make([]int, 2)
	errs := make([]error, 2)
	for i, st := range []*Store{a, b} {
		wg.Go(func() {
			for {
				n, err := st.PruneAudit(ctx, cut, 100)
				if err != nil {
					errs[i] = err
					return
				}
				deleted[i] += n
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if deleted[0]+deleted[1] != expired {
		t.Errorf("replicas deleted %d + %d events, want %d in all", deleted[0], deleted[1], expired)
	}
	left, total, err := b.ListAudit(ctx, secrets.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if total != kept || len(left) != kept || left[len(left)-1].ID != es[expired].ID {
		t.Errorf("%d events left (oldest %v), want the %d newest", total, left[len(left)-1].Time, kept)
	}
	t.Logf("replica a deleted %d, replica b %d", deleted[0], deleted[1])
}
