package sqlite

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// TestAuditQueryPlans pins the plans of the audit queries (migrations 5
// and 6): a page of a workspace's events, newest first, is a range of an
// index read backwards, never a scan of the whole trail or a sort, so it
// costs the same with millions of events; the prune deletes a range of the
// primary key.
func TestAuditQueryPlans(t *testing.T) {
	st := openTemp(t)
	at := time.Now()
	page := func(q secrets.AuditQuery) string {
		where, _ := auditWhere(q)
		return auditPageSQL(where)
	}
	tests := []struct {
		name, sql string
		want      string
	}{
		{"workspace", page(secrets.AuditQuery{Workspace: "ws"}), "SEARCH audit_events USING INDEX audit_workspace (workspace=?)"},
		{"workspace and time", page(secrets.AuditQuery{Workspace: "ws", From: &at, To: &at}),
			"SEARCH audit_events USING INDEX audit_workspace (workspace=? AND id>? AND id<?)"},
		// No index by secret (migration 6): its workspace's events, read
		// newest first until the page is full.
		{"secret", page(secrets.AuditQuery{Workspace: "ws", Secret: "s", Action: secrets.ActionSecretAccess}),
			"SEARCH audit_events USING INDEX audit_workspace (workspace=?)"},
		{"global, time", page(secrets.AuditQuery{From: &at}), "SEARCH audit_events USING PRIMARY KEY (id>?)"},
		{"prune", `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE id < ?1 ORDER BY id LIMIT ?2)`,
			"SEARCH audit_events USING PRIMARY KEY (id<?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := explain(t, st, tt.sql)
			if !strings.Contains(plan, tt.want) {
				t.Errorf("plan lacks %q:\n%s", tt.want, plan)
			}
			if strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan+"\n", "SCAN audit_events\n") {
				t.Errorf("plan sorts or scans the trail:\n%s", plan)
			}
		})
	}
}
