package storetest

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

var workspaceTests = []test{
	{"WorkspaceCreateGet", testWorkspaceCreateGet},
	{"WorkspaceDuplicate", testWorkspaceDuplicate},
	{"WorkspaceNotFound", testWorkspaceNotFound},
	{"WorkspaceListSort", testWorkspaceListSort},
	{"WorkspaceListPages", testWorkspaceListPages},
	{"WorkspaceUpdate", testWorkspaceUpdate},
	{"WorkspaceDeleteCascade", testWorkspaceDeleteCascade},
	{"Ping", testPing},
}

func wsName(w secrets.Workspace) string { return w.Name }

func testWorkspaceCreateGet(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	cases := map[string]secrets.Workspace{
		"all fields": newWorkspace("full", now),
		"nulls":      {ID: "workspace-nulls", Name: "nulls", CreatedAt: now, UpdatedAt: now.Add(time.Second)},
		"empty description": {ID: "workspace-empty", Name: "empty", Description: ptr(""),
			CreatedAt: now, UpdatedAt: now, CreatedBy: ptr(""), UpdatedBy: ptr("")},
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			if err := st.CreateWorkspace(ctx, w, ""); err != nil {
				t.Fatalf("CreateWorkspace: %v", err)
			}
			got, err := st.GetWorkspace(ctx, w.Name)
			wantErr(t, "GetWorkspace", err, nil)
			same(t, "GetWorkspace", showWorkspace, got, storedWorkspace(w))
		})
	}
}

func testWorkspaceDuplicate(t *testing.T, st secrets.Store) {
	first := mustCreateWorkspace(t, st, "dup", secrets.Now())
	second := newWorkspace("dup", secrets.Now().Add(time.Second))
	second.ID, second.Description = "workspace-other", ptr("second")
	wantErr(t, "second CreateWorkspace", st.CreateWorkspace(ctx, second, ""), secrets.ErrAlreadyExists)
	got, err := st.GetWorkspace(ctx, "dup")
	wantErr(t, "GetWorkspace", err, nil)
	same(t, "GetWorkspace after the failed create", showWorkspace, got, storedWorkspace(first))
}

func testWorkspaceNotFound(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "present", secrets.Now())
	_, err := st.GetWorkspace(ctx, "missing")
	wantErr(t, "GetWorkspace", err, secrets.ErrNotFound)
	_, err = st.UpdateWorkspace(ctx, "missing", secrets.WorkspaceUpdate{Description: ptr("x"), UpdatedAt: secrets.Now()})
	wantErr(t, "UpdateWorkspace", err, secrets.ErrNotFound)
	wantErr(t, "DeleteWorkspace", st.DeleteWorkspace(ctx, "missing"), secrets.ErrNotFound)
}

func testWorkspaceListSort(t *testing.T, st secrets.Store) {
	base := secrets.Now()
	// Ties on each timestamp; "C" sorts before "a" (byte order, not locale).
	for _, w := range []struct {
		name             string
		created, updated int
	}{{"b", 0, 3}, {"a", 0, 1}, {"C", 1, 1}, {"d", 2, 0}} {
		ws := newWorkspace(w.name, base.Add(time.Duration(w.created)*time.Second))
		ws.UpdatedAt = base.Add(time.Duration(w.updated) * time.Second)
		if err := st.CreateWorkspace(ctx, ws, ""); err != nil {
			t.Fatalf("CreateWorkspace: %v", err)
		}
	}
	want := map[string][]string{
		"created_at":  {"a", "b", "C", "d"},
		"-created_at": {"d", "C", "a", "b"},
		"updated_at":  {"d", "C", "a", "b"},
		"-updated_at": {"b", "C", "a", "d"},
	}
	for _, sort := range secrets.WorkspaceSorts {
		got, total, err := st.ListWorkspaces(ctx, secrets.WorkspaceQuery{Sort: sort, Limit: 10})
		wantErr(t, "ListWorkspaces "+sort, err, nil)
		if g := names(got, wsName); !slices.Equal(g, want[sort]) || total != 4 {
			t.Errorf("sort %s: got %q total %d, want %q total 4", sort, g, total, want[sort])
		}
	}
	if _, _, err := st.ListWorkspaces(ctx, secrets.WorkspaceQuery{Sort: "name", Limit: 10}); err == nil {
		t.Error("ListWorkspaces accepted an unknown sort")
	}
}

func testWorkspaceListPages(t *testing.T, st secrets.Store) {
	got, total, err := st.ListWorkspaces(ctx, secrets.WorkspaceQuery{Sort: "created_at", Limit: 10})
	if err != nil || len(got) != 0 || total != 0 {
		t.Fatalf("empty store: got %d items, total %d, err %v; want none, 0", len(got), total, err)
	}
	base := secrets.Now()
	var all []secrets.Workspace
	for i, name := range []string{"w0", "w1", "w2", "w3", "w4"} {
		all = append(all, storedWorkspace(mustCreateWorkspace(t, st, name, base.Add(time.Duration(i)*time.Second))))
	}
	for _, c := range []struct{ offset, limit, from, to int }{
		{0, 2, 0, 2}, {2, 2, 2, 4}, {4, 2, 4, 5}, {5, 2, 5, 5}, {0, 100, 0, 5}, {100, 10, 5, 5}, {math.MaxInt, 10, 5, 5},
	} {
		got, total, err := st.ListWorkspaces(ctx, secrets.WorkspaceQuery{Sort: "created_at", Offset: c.offset, Limit: c.limit})
		wantErr(t, "ListWorkspaces", err, nil)
		if total != 5 {
			t.Errorf("offset %d limit %d: total %d, want 5", c.offset, c.limit, total)
		}
		sameList(t, "page", showWorkspace, got, all[c.from:c.to])
	}
}

func testWorkspaceUpdate(t *testing.T, st secrets.Store) {
	cases := []struct {
		name        string
		description *string
		updatedBy   *string
		want        *string // description afterwards
	}{
		{"nil description unchanged", nil, ptr("bob"), ptr("old")},
		{"description replaced", ptr("new"), ptr("bob"), ptr("new")},
		{"empty description kept", ptr(""), ptr("bob"), ptr("")},
		{"anonymous updater", ptr("new"), nil, ptr("new")},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorkspace("ws"+string(rune('a'+i)), secrets.Now())
			w.Description = ptr("old")
			if err := st.CreateWorkspace(ctx, w, ""); err != nil {
				t.Fatalf("CreateWorkspace: %v", err)
			}
			u := secrets.WorkspaceUpdate{Description: c.description, UpdatedAt: w.CreatedAt.Add(1500 * time.Millisecond), UpdatedBy: c.updatedBy}
			got, err := st.UpdateWorkspace(ctx, w.Name, u)
			wantErr(t, "UpdateWorkspace", err, nil)
			want := w
			want.Description, want.UpdatedAt, want.UpdatedBy = c.want, u.UpdatedAt, c.updatedBy
			same(t, "UpdateWorkspace result", showWorkspace, got, storedWorkspace(want))
			got, err = st.GetWorkspace(ctx, w.Name)
			wantErr(t, "GetWorkspace", err, nil)
			same(t, "GetWorkspace after update", showWorkspace, got, storedWorkspace(want))
		})
	}
}

func testWorkspaceDeleteCascade(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "gone", now)
	mustCreateWorkspace(t, st, "kept", now)
	old := mustCreateSecret(t, st, "gone", "s1", now)
	mustCreateSecret(t, st, "gone", "s2", now)
	kept := []secrets.Record{mustCreateSecret(t, st, "kept", "s1", now), mustCreateSecret(t, st, "kept", "s3", now)}

	wantErr(t, "DeleteWorkspace", st.DeleteWorkspace(ctx, "gone"), nil)
	wantErr(t, "second DeleteWorkspace", st.DeleteWorkspace(ctx, "gone"), secrets.ErrNotFound)
	_, err := st.GetWorkspace(ctx, "gone")
	wantErr(t, "GetWorkspace of deleted", err, secrets.ErrNotFound)
	_, err = st.GetSecret(ctx, "gone", "s1")
	wantErr(t, "GetSecret in deleted workspace", err, secrets.ErrNotFound)
	_, err = st.GetStoredVersion(ctx, secrets.VersionKey{SecretID: old.ID, Version: 1})
	wantErr(t, "GetStoredVersion in deleted workspace", err, secrets.ErrNotFound)
	_, _, err = st.ListSecrets(ctx, "gone", secrets.SecretQuery{Limit: 10})
	wantErr(t, "ListSecrets of deleted", err, secrets.ErrNoWorkspace)
	wantScan(t, st, []secrets.StoredVersion{storedVersion(kept[0], false), storedVersion(kept[1], false)})

	mustCreateWorkspace(t, st, "gone", now.Add(time.Second))
	items, total, err := st.ListSecrets(ctx, "gone", secrets.SecretQuery{Limit: 10})
	if err != nil || len(items) != 0 || total != 0 {
		t.Fatalf("recreated workspace: %d items, total %d, err %v; want empty", len(items), total, err)
	}
	mustCreateSecret(t, st, "gone", "s1", now)
}

func testPing(t *testing.T, st secrets.Store) {
	wantErr(t, "Ping", st.Ping(ctx), nil)
}
