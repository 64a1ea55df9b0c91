package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The audit trail (docs/operations.md, "Audit trail"): a write's event
// commits with it or not at all; events list newest first with filters.
var auditTests = []test{
	{"AuditWritesCommitTheirEvent", testAuditWritesCommitTheirEvent},
	{"AuditFailedEventInsertFailsTheWrite", testAuditFailedEventInsertFailsTheWrite},
	{"AuditFailedWriteStoresNoEvent", testAuditFailedWriteStoresNoEvent},
	{"AuditDraftStoredOnce", testAuditDraftStoredOnce},
	{"AuditedWritesPrune", testAuditedWritesPrune},
	{"AuditListFilters", testAuditListFilters},
	{"AuditPrune", testAuditPrune},
}

// draft returns a success draft of action on ws/name at at.
func draft(action, ws, name string, at time.Time) *secrets.AuditDraft {
	return &secrets.AuditDraft{Event: secrets.AuditEvent{
		ID: secrets.NewAuditID(at), Time: at, Action: action, Outcome: secrets.OutcomeSuccess, Status: 200,
		Workspace: ws, Secret: name, Principal: "alice", OnBehalfOf: "bob", AuthMethod: "header",
		RequestID: "req-" + action, RemoteAddr: "127.0.0.1:1234", UserAgent: "storetest",
	}}
}

func showEvent(e secrets.AuditEvent) string {
	return fmt.Sprintf("%+v", struct {
		secrets.AuditEvent
		Time string
	}{e, showTime(e.Time)})
}

// allEvents returns every stored event, newest first.
func allEvents(t *testing.T, st secrets.Store) []secrets.AuditEvent {
	t.Helper()
	es, total, err := st.ListAudit(ctx, secrets.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if total != len(es) {
		t.Fatalf("ListAudit: total %d, %d events", total, len(es))
	}
	return es
}

func testAuditWritesCommitTheirEvent(t *testing.T, st secrets.Store) {
	at := secrets.Now()
	writes := []struct {
		action  string
		version int64 // the version the store records
		write   func(ctx context.Context) error
	}{
		{secrets.ActionWorkspaceCreate, 0, func(ctx context.Context) error {
			return st.CreateWorkspace(ctx, newWorkspace("ws", at), "alice")
		}},
		{secrets.ActionSecretCreate, 1, func(ctx context.Context) error {
			_, err := st.CreateSecret(ctx, newRecord("ws", "a", at))
			return err
		}},
		{secrets.ActionSecretUpdate, 2, func(ctx context.Context) error {
			v := sealed("k1", "two")
			_, err := st.UpdateSecret(ctx, "ws", "a", secrets.SecretUpdate{Sealed: &v, UpdatedAt: at, Keep: 5})
			return err
		}},
		{secrets.ActionSecretRestore, 3, func(ctx context.Context) error {
			_, err := st.RestoreVersion(ctx, "ws", "a", 1, secrets.SecretUpdate{UpdatedAt: at, Keep: 5})
			return err
		}},
		{secrets.ActionVersionDestroy, 0, func(ctx context.Context) error {
			return st.DestroyVersion(ctx, "ws", "a", 2, secrets.Cond{})
		}},
		{secrets.ActionMemberAdd, 0, func(ctx context.Context) error {
			return st.GrantRoles(ctx, "ws", "bob", []string{viewer}, nil, at)
		}},
		{secrets.ActionMemberSet, 0, func(ctx context.Context) error {
			return st.SetRoles(ctx, "ws", "bob", []string{editor}, nil, at)
		}},
		{secrets.ActionMemberRemove, 0, func(ctx context.Context) error {
			_, err := st.RemoveMember(ctx, "ws", "bob")
			return err
		}},
		{secrets.ActionSecretDelete, 0, func(ctx context.Context) error {
			return st.DeleteSecret(ctx, "ws", "a", binDelete("bin1", at, at.Add(time.Hour)))
		}},
		{secrets.ActionSecretPurge, 0, func(ctx context.Context) error {
			return st.PurgeDeleted(ctx, "ws", "bin1", at)
		}},
		{secrets.ActionWorkspaceUpdate, 0, func(ctx context.Context) error {
			_, err := st.UpdateWorkspace(ctx, "ws", secrets.WorkspaceUpdate{Description: ptr("x"), UpdatedAt: at})
			return err
		}},
		{secrets.ActionWorkspaceDelete, 0, func(ctx context.Context) error {
			return st.DeleteWorkspace(ctx, "ws")
		}},
	}
	var want []secrets.AuditEvent
	for i, w := range writes {
		d := draft(w.action, "ws", "a", at.Add(time.Duration(i)*time.Millisecond))
		if err := w.write(secrets.WithAuditDraft(ctx, d)); err != nil {
			t.Fatalf("%s: %v", w.action, err)
		}
		if !d.Committed() {
			t.Fatalf("%s: draft not marked committed", w.action)
		}
		e := d.Event
		e.Time, e.Version = utcMicros(e.Time), w.version
		want = append([]secrets.AuditEvent{e}, want...)
	}
	// The events outlive the workspace: no foreign key, no cascade.
	sameList(t, "events", showEvent, allEvents(t, st), want)
}

func testAuditFailedEventInsertFailsTheWrite(t *testing.T, st secrets.Store) {
	at := secrets.Now()
	mustCreateWorkspace(t, st, "ws", at)
	before := mustCreateSecret(t, st, "ws", "a", at)
	// An event without an action violates the table's CHECK: the event
	// insert fails inside the write's transaction.
	bad := func() context.Context {
		d := draft("", "ws", "a", at)
		return secrets.WithAuditDraft(ctx, d)
	}
	if _, err := st.CreateSecret(bad(), newRecord("ws", "b", at)); err == nil {
		t.Fatal("CreateSecret with a failing event: no error")
	}
	if _, err := st.GetSecret(ctx, "ws", "b"); err != secrets.ErrNotFound {
		t.Fatalf("secret created without its event: GetSecret error %v", err)
	}
	v := sealed("k1", "changed")
	if _, err := st.UpdateSecret(bad(), "ws", "a", secrets.SecretUpdate{Sealed: &v, UpdatedAt: at.Add(time.Second), Keep: 5}); err == nil {
		t.Fatal("UpdateSecret with a failing event: no error")
	}
	same(t, "secret after the failed update", showRecord, mustGetSecret(t, st, "ws", "a"), before)
	if err := st.DeleteSecret(bad(), "ws", "a", secrets.SecretDelete{}); err == nil {
		t.Fatal("DeleteSecret with a failing event: no error")
	}
	same(t, "secret after the failed delete", showRecord, mustGetSecret(t, st, "ws", "a"), before)
	if err := st.GrantRoles(bad(), "ws", "bob", []string{viewer}, nil, at); err == nil {
		t.Fatal("GrantRoles with a failing event: no error")
	}
	if roles := rolesOf(t, st, "ws", "bob"); len(roles) != 0 {
		t.Fatalf("roles granted without their event: %v", roles)
	}
	if err := st.DeleteWorkspace(bad(), "ws"); err == nil {
		t.Fatal("DeleteWorkspace with a failing event: no error")
	}
	if _, err := st.GetWorkspace(ctx, "ws"); err != nil {
		t.Fatalf("workspace deleted without its event: %v", err)
	}
	if es := allEvents(t, st); len(es) != 0 {
		t.Fatalf("events stored: %v", es)
	}
}

func testAuditFailedWriteStoresNoEvent(t *testing.T, st secrets.Store) {
	at := secrets.Now()
	mustCreateWorkspace(t, st, "ws", at)
	mustCreateSecret(t, st, "ws", "a", at)
	d := draft(secrets.ActionSecretCreate, "ws", "a", at)
	_, err := st.CreateSecret(secrets.WithAuditDraft(ctx, d), newRecord("ws", "a", at))
	wantErr(t, "CreateSecret of a taken name", err, secrets.ErrAlreadyExists)
	d2 := draft(secrets.ActionSecretUpdate, "ws", "missing", at)
	_, err = st.UpdateSecret(secrets.WithAuditDraft(ctx, d2), "ws", "missing", secrets.SecretUpdate{UpdatedAt: at, Keep: 1})
	wantErr(t, "UpdateSecret of a missing secret", err, secrets.ErrNotFound)
	d3 := draft(secrets.ActionSecretDelete, "ws", "a", at)
	err = st.DeleteSecret(secrets.WithAuditDraft(ctx, d3), "ws", "a", secrets.SecretDelete{Cond: cond(`"nope"`)})
	wantErr(t, "DeleteSecret with a failing condition", err, secrets.ErrPreconditionFailed)
	for _, d := range []*secrets.AuditDraft{d, d2, d3} {
		if d.Committed() {
			t.Errorf("%s: draft of a failed write marked committed", d.Event.Action)
		}
	}
	if es := allEvents(t, st); len(es) != 0 {
		t.Fatalf("events of failed writes stored: %v", es)
	}
}

func testAuditDraftStoredOnce(t *testing.T, st secrets.Store) {
	at := secrets.Now()
	mustCreateWorkspace(t, st, "ws", at)
	d := draft(secrets.ActionSecretCreate, "ws", "a", at)
	c := secrets.WithAuditDraft(ctx, d)
	if _, err := st.CreateSecret(c, newRecord("ws", "a", at)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateSecret(c, newRecord("ws", "b", at)); err != nil {
		t.Fatal(err)
	}
	if es := allEvents(t, st); len(es) != 1 {
		t.Fatalf("%d events stored for one draft, want 1", len(es))
	}
}

func testAuditListFilters(t *testing.T, st secrets.Store) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var es []secrets.AuditEvent
	for i := range 12 {
		e := draft(secrets.ActionSecretAccess, []string{"ws1", "ws2"}[i%2], []string{"a", "b", "c"}[i%3],
			base.Add(time.Duration(i)*time.Second)).Event
		if i%4 == 3 {
			e.Outcome, e.Status, e.Principal = secrets.OutcomeDenied, 403, "mallory"
		}
		if i == 5 {
			e.Action = secrets.ActionSecretUpdate
		}
		es = append(es, e)
	}
	// Two batches, stored out of order: the listing orders by time.
	if err := st.AppendAudit(ctx, es[6:]); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendAudit(ctx, es[:6]); err != nil {
		t.Fatal(err)
	}
	pick := func(idx ...int) []secrets.AuditEvent {
		out := make([]secrets.AuditEvent, len(idx))
		for i, j := range idx {
			out[i] = es[j]
		}
		return out
	}
	at := func(i int) *time.Time { v := base.Add(time.Duration(i) * time.Second); return &v }
	cases := []struct {
		name  string
		q     secrets.AuditQuery
		want  []secrets.AuditEvent
		total int
	}{
		{"all, first page", secrets.AuditQuery{Limit: 3}, pick(11, 10, 9), 12},
		{"all, second page", secrets.AuditQuery{Offset: 3, Limit: 3}, pick(8, 7, 6), 12},
		{"workspace", secrets.AuditQuery{Workspace: "ws2", Limit: 100}, pick(11, 9, 7, 5, 3, 1), 6},
		{"secret", secrets.AuditQuery{Workspace: "ws1", Secret: "a", Limit: 100}, pick(6, 0), 2},
		{"principal", secrets.AuditQuery{Principal: "mallory", Limit: 100}, pick(11, 7, 3), 3},
		{"outcome", secrets.AuditQuery{Workspace: "ws2", Outcome: secrets.OutcomeDenied, Limit: 100}, pick(11, 7, 3), 3},
		{"action", secrets.AuditQuery{Action: secrets.ActionSecretUpdate, Limit: 100}, pick(5), 1},
		{"time bounds inclusive", secrets.AuditQuery{From: at(4), To: at(6), Limit: 100}, pick(6, 5, 4), 3},
		{"from only", secrets.AuditQuery{From: at(10), Limit: 100}, pick(11, 10), 2},
		{"to only, paged", secrets.AuditQuery{To: at(2), Offset: 1, Limit: 1}, pick(1), 3},
		{"nothing matches", secrets.AuditQuery{Workspace: "none", Limit: 10}, []secrets.AuditEvent{}, 0},
		{"past the end", secrets.AuditQuery{Offset: 20, Limit: 10}, []secrets.AuditEvent{}, 12},
	}
	for _, c := range cases {
		got, total, err := st.ListAudit(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if total != c.total {
			t.Errorf("%s: total %d, want %d", c.name, total, c.total)
		}
		sameList(t, c.name, showEvent, got, c.want)
	}
}

func testAuditPrune(t *testing.T, st secrets.Store) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var es []secrets.AuditEvent
	for i := range 10 {
		es = append(es, draft(secrets.ActionSecretAccess, "ws", "a", base.Add(time.Duration(i)*time.Minute)).Event)
	}
	if err := st.AppendAudit(ctx, es); err != nil {
		t.Fatal(err)
	}
	cut := base.Add(6 * time.Minute) // events 0..5 are older
	n, err := st.PruneAudit(ctx, cut, 4)
	if err != nil || n != 4 {
		t.Fatalf("PruneAudit: %d, %v; want 4 (the limit)", n, err)
	}
	n, err = st.PruneAudit(ctx, cut, 4)
	if err != nil || n != 2 {
		t.Fatalf("second PruneAudit: %d, %v; want 2", n, err)
	}
	n, err = st.PruneAudit(ctx, cut, 4)
	if err != nil || n != 0 {
		t.Fatalf("third PruneAudit: %d, %v; want 0", n, err)
	}
	got := allEvents(t, st)
	sameList(t, "events kept", showEvent, got, []secrets.AuditEvent{es[9], es[8], es[7], es[6]})
}

// testAuditedWritesPrune: a write that commits an event erases the
// versions past the history limit exactly as one without.
func testAuditedWritesPrune(t *testing.T, st secrets.Store) {
	at := secrets.Now()
	mustCreateWorkspace(t, st, "ws", at)
	r := mustCreateSecret(t, st, "ws", "a", at)
	audited := func(action string) context.Context {
		return secrets.WithAuditDraft(ctx, draft(action, "ws", "a", at))
	}
	v := sealed("k1", "two")
	_, err := st.UpdateSecret(audited(secrets.ActionSecretUpdate), "ws", "a",
		secrets.SecretUpdate{Sealed: &v, UpdatedAt: at, Keep: 1, Cond: cond(tagOf(r))})
	if err != nil {
		t.Fatal(err)
	}
	v3 := sealed("k1", "three")
	if _, err := st.UpdateSecret(audited(secrets.ActionSecretUpdate), "ws", "a",
		secrets.SecretUpdate{Sealed: &v3, UpdatedAt: at, Keep: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RestoreVersion(audited(secrets.ActionSecretRestore), "ws", "a", 2,
		secrets.SecretUpdate{UpdatedAt: at, Keep: 1, Cond: cond(tagOf(mustGetSecret(t, st, "ws", "a")))}); err != nil {
		t.Fatal(err)
	}
	vs, _, err := st.ListVersions(ctx, "ws", "a", secrets.VersionQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%d:%v", v.Number, v.Destroyed))
	}
	if want := "4:false 3:true 2:true 1:true"; strings.Join(got, " ") != want {
		t.Errorf("versions %s, want %s (destroyed)", strings.Join(got, " "), want)
	}
	if es := allEvents(t, st); len(es) != 3 {
		t.Errorf("%d events, want 3", len(es))
	}
}
