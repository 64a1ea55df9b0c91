package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

var bindingTests = []test{
	{"BindingsGrantOrder", testBindingsGrantOrder},
	{"BindingsRolesOf", testBindingsRolesOf},
	{"BindingsListOrder", testBindingsListOrder},
	{"BindingsGrantIdempotent", testBindingsGrantIdempotent},
	{"BindingsSetRoles", testBindingsSetRoles},
	{"BindingsSetRolesLastAdmin", testBindingsSetRolesLastAdmin},
	{"BindingsRemoveMember", testBindingsRemoveMember},
	{"BindingsLastAdminRace", testBindingsLastAdminRace},
	{"BindingsMissingWorkspace", testBindingsMissingWorkspace},
	{"BindingsWorkspacesOf", testBindingsWorkspacesOf},
	{"BindingsDeletedWithWorkspace", testBindingsDeletedWithWorkspace},
	{"BindingsUnstorableText", testBindingsUnstorableText},
	{"Seed", testSeed},
	{"SeedConcurrent", testSeedConcurrent},
	{"WorkspaceCreateWithAdmin", testWorkspaceCreateWithAdmin},
	{"WorkspaceCreateWithAdminRace", testWorkspaceCreateWithAdminRace},
}

const (
	viewer, editor, admin, platformAdmin = secrets.RoleViewer, secrets.RoleEditor, secrets.RoleAdmin, secrets.RolePlatformAdmin
)

func showBinding(b secrets.Binding) string {
	return fmt.Sprintf("{Workspace:%q Principal:%q Role:%q GrantedBy:%s GrantedAt:%s}",
		b.Workspace, b.Principal, b.Role, showStr(b.GrantedBy), showTime(b.GrantedAt))
}

// binding returns the binding a store lists for a grant at at.
func binding(ws, principal, role string, by *string, at time.Time) secrets.Binding {
	return secrets.Binding{Workspace: ws, Principal: principal, Role: role, GrantedBy: by, GrantedAt: utcMicros(at)}
}

// mustGrant grants roles to principal in ws, by "granter" at at.
func mustGrant(t *testing.T, st secrets.Store, ws, principal string, at time.Time, roles ...string) {
	t.Helper()
	if err := st.GrantRoles(ctx, ws, principal, roles, ptr("granter"), at); err != nil {
		t.Fatalf("GrantRoles(%s, %s, %q): %v", ws, principal, roles, err)
	}
}

// mustSetRoles sets principal's roles in ws, by "setter" at at.
func mustSetRoles(t *testing.T, st secrets.Store, ws, principal string, at time.Time, roles ...string) {
	t.Helper()
	if err := st.SetRoles(ctx, ws, principal, roles, ptr("setter"), at); err != nil {
		t.Fatalf("SetRoles(%s, %s, %q): %v", ws, principal, roles, err)
	}
}

// rolesOf returns principal's roles in ws (nil for none).
func rolesOf(t *testing.T, st secrets.Store, ws, principal string) []string {
	t.Helper()
	roles, err := st.RolesOf(ctx, ws, []string{principal})
	wantErr(t, "RolesOf", err, nil)
	return roles[principal]
}

// wantRoles fails unless principal's roles in ws are want, in that order.
func wantRoles(t *testing.T, st secrets.Store, ws, principal string, want ...string) {
	t.Helper()
	if got := rolesOf(t, st, ws, principal); !slices.Equal(got, want) {
		t.Fatalf("roles of %s in %s: %q, want %q", principal, ws, got, want)
	}
}

// mustList returns ListBindings(ws).
func mustList(t *testing.T, st secrets.Store, ws string) []secrets.Binding {
	t.Helper()
	got, err := st.ListBindings(ctx, ws)
	wantErr(t, "ListBindings("+ws+")", err, nil)
	return got
}

// wantBindings fails unless ListBindings(ws) is want.
func wantBindings(t *testing.T, st secrets.Store, ws string, want ...secrets.Binding) {
	t.Helper()
	sameList(t, "ListBindings("+ws+")", showBinding, mustList(t, st, ws), want)
}

// admins returns the principals holding Admin in ws.
func admins(t *testing.T, st secrets.Store, ws string) []string {
	t.Helper()
	var out []string
	for _, b := range mustList(t, st, ws) {
		if b.Role == admin {
			out = append(out, b.Principal)
		}
	}
	return out
}

// testBindingsGrantOrder: roles come back in the order they were granted,
// which is neither alphabetical nor by granted_at.
func testBindingsGrantOrder(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustGrant(t, st, "ws", "alice", now, viewer, admin)
	mustGrant(t, st, "ws", "alice", now.Add(-time.Hour), editor)
	mustGrant(t, st, "ws", "alice", now, admin, platformAdmin)
	wantRoles(t, st, "ws", "alice", viewer, admin, editor, platformAdmin)
	by := ptr("granter")
	wantBindings(t, st, "ws",
		binding("ws", "alice", viewer, by, now), binding("ws", "alice", admin, by, now),
		binding("ws", "alice", editor, by, now.Add(-time.Hour)), binding("ws", "alice", platformAdmin, by, now))
}

func testBindingsRolesOf(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustCreateWorkspace(t, st, "other", now)
	// Principals are compared literally, byte for byte.
	odd := "a\"b\\c<>&\u2028é😀 \t"
	mustGrant(t, st, "ws", "alice", now, viewer)
	mustGrant(t, st, "ws", "group:x", now, editor, admin)
	mustGrant(t, st, "ws", "*", now, viewer)
	mustGrant(t, st, "ws", odd, now, editor)
	mustGrant(t, st, "ws", "Alice", now, admin)
	mustGrant(t, st, "other", "bob", now, admin)
	mustGrant(t, st, "other", "alice", now, admin)

	for _, c := range []struct {
		ws         string
		principals []string
		want       string
	}{
		{"ws", []string{"alice", "group:x", "bob", "nobody", "alice"},
			`map[alice:[Viewer] group:x:[Editor Admin]]`},
		{"ws", []string{"*"}, `map[*:[Viewer]]`},
		{"ws", []string{odd, "alice "}, fmt.Sprint(map[string][]string{odd: {editor}})},
		{"ws", nil, `map[]`},
		{"ws", []string{}, `map[]`},
		{"other", []string{"alice", "bob"}, `map[alice:[Admin] bob:[Admin]]`},
		{"missing", []string{"alice"}, `map[]`},
	} {
		got, err := st.RolesOf(ctx, c.ws, c.principals)
		wantErr(t, "RolesOf", err, nil)
		if fmt.Sprint(got) != c.want {
			t.Errorf("RolesOf(%s, %q) = %v, want %s", c.ws, c.principals, got, c.want)
		}
	}
}

// testBindingsListOrder: principals by their earliest granted_at, ties by
// principal in byte order; each principal's bindings in grant order.
func testBindingsListOrder(t *testing.T, st secrets.Store) {
	base := secrets.Now()
	mustCreateWorkspace(t, st, "ws", base)
	mustCreateWorkspace(t, st, "other", base)
	wantBindings(t, st, "ws") // exists, no bindings

	// Times finer than microseconds and in another zone come back UTC,
	// truncated.
	at := func(sec int) time.Time {
		return base.Add(time.Duration(sec)*time.Second + 789*time.Nanosecond).In(time.FixedZone("X", 3600))
	}
	grant := func(principal string, by *string, t0 time.Time, roles ...string) {
		t.Helper()
		if err := st.GrantRoles(ctx, "ws", principal, roles, by, t0); err != nil {
			t.Fatalf("GrantRoles: %v", err)
		}
	}
	grant("amy", ptr("root"), at(0), editor)
	grant("carl", ptr("root"), at(2), editor)
	grant("Zed", nil, at(0), viewer)
	grant("bob", nil, at(1), admin)
	grant("carl", ptr(""), at(-5), viewer)
	grant("amy", ptr("root"), at(3), viewer)
	mustGrant(t, st, "other", "aaa", at(-100), admin)

	wantBindings(t, st, "ws",
		binding("ws", "carl", editor, ptr("root"), at(2)),
		binding("ws", "carl", viewer, ptr(""), at(-5)),
		binding("ws", "Zed", viewer, nil, at(0)),
		binding("ws", "amy", editor, ptr("root"), at(0)),
		binding("ws", "amy", viewer, ptr("root"), at(3)),
		binding("ws", "bob", admin, nil, at(1)),
	)
}

func testBindingsGrantIdempotent(t *testing.T, st secrets.Store) {
	t0 := secrets.Now()
	t1 := t0.Add(time.Minute)
	mustCreateWorkspace(t, st, "ws", t0)
	wantErr(t, "GrantRoles", st.GrantRoles(ctx, "ws", "alice", []string{viewer}, ptr("bob"), t0), nil)
	// Existing roles keep their granter and time; duplicates collapse.
	wantErr(t, "GrantRoles again", st.GrantRoles(ctx, "ws", "alice", []string{viewer, editor, viewer, editor}, ptr("carol"), t1), nil)
	wantErr(t, "GrantRoles nothing", st.GrantRoles(ctx, "ws", "alice", nil, ptr("dave"), t1), nil)
	wantErr(t, "GrantRoles empty", st.GrantRoles(ctx, "ws", "alice", []string{}, ptr("dave"), t1), nil)
	wantErr(t, "GrantRoles nothing to a stranger", st.GrantRoles(ctx, "ws", "nobody", nil, ptr("dave"), t1), nil)
	wantBindings(t, st, "ws",
		binding("ws", "alice", viewer, ptr("bob"), t0),
		binding("ws", "alice", editor, ptr("carol"), t1))
}

func testBindingsSetRoles(t *testing.T, st secrets.Store) {
	t0 := secrets.Now()
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	mustCreateWorkspace(t, st, "ws", t0)
	mustGrant(t, st, "ws", "root", t0, admin)
	mustGrant(t, st, "ws", "alice", t0, viewer, editor)

	// A principal without roles yet.
	mustSetRoles(t, st, "ws", "new", t1, editor, viewer, editor)
	wantRoles(t, st, "ws", "new", editor, viewer)

	// Removes Viewer, keeps Editor as granted, adds Admin.
	mustSetRoles(t, st, "ws", "alice", t1, editor, admin)
	mustSetRoles(t, st, "ws", "alice", t2, admin, editor) // no change
	by := ptr("granter")
	wantBindings(t, st, "ws", // alice and root tie on t0
		binding("ws", "alice", editor, by, t0),
		binding("ws", "alice", admin, ptr("setter"), t1),
		binding("ws", "root", admin, by, t0),
		binding("ws", "new", editor, ptr("setter"), t1),
		binding("ws", "new", viewer, ptr("setter"), t1))

	// An empty list removes everything (root still holds Admin).
	mustSetRoles(t, st, "ws", "alice", t2)
	mustSetRoles(t, st, "ws", "new", t2)
	mustSetRoles(t, st, "ws", "stranger", t2)
	wantBindings(t, st, "ws", binding("ws", "root", admin, by, t0))
	wantRoles(t, st, "ws", "alice")
}

func testBindingsSetRolesLastAdmin(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustGrant(t, st, "ws", "alice", now, admin, editor)
	mustGrant(t, st, "ws", "carl", now, viewer)
	before := mustList(t, st, "ws")
	for _, roles := range [][]string{{editor}, {}, nil, {viewer, editor, platformAdmin}} {
		err := st.SetRoles(ctx, "ws", "alice", roles, ptr("x"), now.Add(time.Minute))
		wantErr(t, fmt.Sprintf("SetRoles(alice, %q) of the last Admin", roles), err, secrets.ErrLastAdmin)
		sameList(t, "bindings after a refused SetRoles", showBinding, mustList(t, st, "ws"), before)
	}
	// Keeping Admin is fine.
	mustSetRoles(t, st, "ws", "alice", now, viewer, admin)
	wantRoles(t, st, "ws", "alice", admin, viewer)
	// The rule applies only to a target that holds Admin.
	mustSetRoles(t, st, "ws", "carl", now)
	mustSetRoles(t, st, "ws", "carl", now, editor, admin)
	// Another Admin makes it allowed; then that one is the last.
	mustSetRoles(t, st, "ws", "alice", now, viewer)
	wantErr(t, "SetRoles of the new last Admin",
		st.SetRoles(ctx, "ws", "carl", []string{editor}, nil, now), secrets.ErrLastAdmin)
	if got := admins(t, st, "ws"); !slices.Equal(got, []string{"carl"}) {
		t.Fatalf("Admins %q, want [carl]", got)
	}
	// Admins of another workspace do not count.
	mustCreateWorkspace(t, st, "other", now)
	mustGrant(t, st, "other", "dora", now, admin)
	mustGrant(t, st, "ws", "dora", now, viewer)
	wantErr(t, "SetRoles with an Admin elsewhere",
		st.SetRoles(ctx, "ws", "carl", nil, nil, now), secrets.ErrLastAdmin)

	// A workspace without any Admin (like default): non-Admins change freely.
	mustCreateWorkspace(t, st, "open", now)
	mustGrant(t, st, "open", "*", now, editor)
	mustSetRoles(t, st, "open", "*", now, viewer)
	mustSetRoles(t, st, "open", "*", now)
	wantBindings(t, st, "open")
}

func testBindingsRemoveMember(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustCreateWorkspace(t, st, "other", now)
	mustGrant(t, st, "ws", "alice", now, viewer, editor, admin)
	mustGrant(t, st, "ws", "bob", now, admin)
	mustGrant(t, st, "ws", "carl", now, viewer)
	mustGrant(t, st, "other", "bob", now, viewer)

	remove := func(principal string, want int, wantE error) {
		t.Helper()
		n, err := st.RemoveMember(ctx, "ws", principal)
		wantErr(t, "RemoveMember("+principal+")", err, wantE)
		if n != want {
			t.Fatalf("RemoveMember(%s) removed %d, want %d", principal, n, want)
		}
	}
	remove("carl", 1, nil)
	remove("carl", 0, secrets.ErrNotFound)
	remove("nobody", 0, secrets.ErrNotFound)
	remove("alice", 3, nil) // bob is still an Admin
	remove("bob", 0, secrets.ErrLastAdmin)
	wantRoles(t, st, "ws", "bob", admin)
	mustGrant(t, st, "ws", "dave", now, admin)
	remove("bob", 1, nil)
	wantRoles(t, st, "other", "bob", viewer)
	wantBindings(t, st, "ws", binding("ws", "dave", admin, ptr("granter"), now))

	// Without any Admin the rule does not apply.
	mustCreateWorkspace(t, st, "open", now)
	mustGrant(t, st, "open", "*", now, editor)
	if n, err := st.RemoveMember(ctx, "open", "*"); err != nil || n != 1 {
		t.Fatalf("RemoveMember(*) = %d, %v; want 1, nil", n, err)
	}
}

// testBindingsLastAdminRace removes the last two Admins of a workspace from
// two goroutines at once (RemoveMember and SetRoles mixed): exactly one may
// succeed, and one Admin must remain.
func testBindingsLastAdminRace(t *testing.T, st secrets.Store) {
	const rounds = 16
	now := secrets.Now()
	for i := range rounds {
		ws := fmt.Sprint("race", i)
		mustCreateWorkspace(t, st, ws, now)
		mustGrant(t, st, ws, "a", now, viewer, admin)
		mustGrant(t, st, ws, "b", now, admin)
	}
	errs := make([][2]error, rounds)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range rounds {
		ws := fmt.Sprint("race", i)
		wg.Go(func() {
			<-start
			_, errs[i][0] = st.RemoveMember(ctx, ws, "a")
		})
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				_, errs[i][1] = st.RemoveMember(ctx, ws, "b")
			} else {
				errs[i][1] = st.SetRoles(ctx, ws, "b", []string{viewer}, nil, now)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, e := range errs {
		ok := 0
		for _, err := range e {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, secrets.ErrLastAdmin):
				t.Errorf("round %d: %v", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d of 2 changes succeeded (%v), want exactly 1", i, ok, e)
		}
		if got := admins(t, st, fmt.Sprint("race", i)); len(got) != 1 {
			t.Errorf("round %d: Admins %q, want exactly one", i, got)
		}
	}
}

func testBindingsMissingWorkspace(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "present", now)
	_, err := st.ListBindings(ctx, "missing")
	wantErr(t, "ListBindings", err, secrets.ErrNotFound)
	wantErr(t, "GrantRoles", st.GrantRoles(ctx, "missing", "alice", []string{viewer}, nil, now), secrets.ErrNotFound)
	wantErr(t, "GrantRoles of nothing", st.GrantRoles(ctx, "missing", "alice", nil, nil, now), secrets.ErrNotFound)
	wantErr(t, "SetRoles", st.SetRoles(ctx, "missing", "alice", []string{viewer}, nil, now), secrets.ErrNotFound)
	wantErr(t, "SetRoles to nothing", st.SetRoles(ctx, "missing", "alice", nil, nil, now), secrets.ErrNotFound)
	_, err = st.RemoveMember(ctx, "missing", "alice")
	wantErr(t, "RemoveMember", err, secrets.ErrNotFound)
	// Nothing was left behind for a workspace created later.
	mustCreateWorkspace(t, st, "missing", now)
	wantBindings(t, st, "missing")
}

func testBindingsWorkspacesOf(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	for _, ws := range []string{"b", "a", "C", "d", "e"} {
		mustCreateWorkspace(t, st, ws, now)
	}
	mustGrant(t, st, "b", "alice", now, viewer, editor)
	mustGrant(t, st, "a", "group", now, editor)
	mustGrant(t, st, "b", "group", now, admin)
	mustGrant(t, st, "C", "*", now, viewer)
	mustGrant(t, st, "d", "bob", now, viewer)
	for _, c := range []struct {
		principals []string
		want       []string
	}{
		{[]string{"alice", "group", "*", "alice"}, []string{"C", "a", "b"}}, // byte order, distinct
		{[]string{"bob"}, []string{"d"}},
		{[]string{"nobody"}, []string{}},
		{[]string{}, []string{}},
		{nil, []string{}},
	} {
		got, err := st.WorkspacesOf(ctx, c.principals)
		wantErr(t, "WorkspacesOf", err, nil)
		if !slices.Equal(got, c.want) {
			t.Errorf("WorkspacesOf(%q) = %q, want %q", c.principals, got, c.want)
		}
	}
	if _, err := st.RemoveMember(ctx, "d", "bob"); err != nil {
		t.Fatal(err)
	}
	if got, err := st.WorkspacesOf(ctx, []string{"bob"}); err != nil || len(got) != 0 {
		t.Fatalf("WorkspacesOf(bob) after removal = %q, %v; want none", got, err)
	}
}

// testBindingsDeletedWithWorkspace: bindings go with their workspace, the
// seeds record stays, so a recreated workspace is not re-seeded.
func testBindingsDeletedWithWorkspace(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "gone", now)
	mustCreateWorkspace(t, st, "kept", now)
	seeded, err := st.Seed(ctx, "gone:*:Editor", binding("gone", "*", editor, ptr("system"), now))
	if err != nil || !seeded {
		t.Fatalf("Seed = %v, %v; want true", seeded, err)
	}
	mustGrant(t, st, "gone", "alice", now, admin)
	mustGrant(t, st, "kept", "alice", now, viewer)

	wantErr(t, "DeleteWorkspace", st.DeleteWorkspace(ctx, "gone"), nil)
	_, err = st.ListBindings(ctx, "gone")
	wantErr(t, "ListBindings of a deleted workspace", err, secrets.ErrNotFound)
	wantRoles(t, st, "gone", "alice")
	if got, err := st.WorkspacesOf(ctx, []string{"alice", "*"}); err != nil || !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("WorkspacesOf = %q, %v; want [kept]", got, err)
	}

	mustCreateWorkspace(t, st, "gone", now.Add(time.Second))
	wantBindings(t, st, "gone")
	seeded, err = st.Seed(ctx, "gone:*:Editor", binding("gone", "*", editor, ptr("system"), now))
	if err != nil || seeded {
		t.Fatalf("Seed after the workspace was recreated = %v, %v; want false", seeded, err)
	}
	wantBindings(t, st, "gone")
	wantBindings(t, st, "kept", binding("kept", "alice", viewer, ptr("granter"), now))
}

// testBindingsUnstorableText: strings PostgreSQL's text cannot hold (invalid
// UTF-8, NUL) hold no roles and are refused as new principals, identically
// in both backends, and never match a stored U+FFFD.
func testBindingsUnstorableText(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustGrant(t, st, "ws", "alice", now, viewer)
	mustGrant(t, st, "ws", "\uFFFD", now, admin)
	for _, bad := range []string{"\xff", "a\x00b"} {
		roles, err := st.RolesOf(ctx, "ws", []string{bad, "alice"})
		wantErr(t, "RolesOf", err, nil)
		if fmt.Sprint(roles) != "map[alice:[Viewer]]" {
			t.Errorf("RolesOf(%q, alice) = %v, want alice's roles only", bad, roles)
		}
		if roles, err := st.RolesOf(ctx, bad, []string{"alice"}); err != nil || len(roles) != 0 {
			t.Errorf("RolesOf in workspace %q = %v, %v; want none", bad, roles, err)
		}
		if got, err := st.WorkspacesOf(ctx, []string{bad}); err != nil || len(got) != 0 {
			t.Errorf("WorkspacesOf(%q) = %q, %v; want none", bad, got, err)
		}
		_, err = st.ListBindings(ctx, bad)
		wantErr(t, "ListBindings of "+bad, err, secrets.ErrNotFound)
		_, err = st.RemoveMember(ctx, "ws", bad)
		wantErr(t, "RemoveMember", err, secrets.ErrNotFound)
		_, err = st.RemoveMember(ctx, bad, "alice")
		wantErr(t, "RemoveMember in workspace", err, secrets.ErrNotFound)
		wantErr(t, "GrantRoles in workspace", st.GrantRoles(ctx, bad, "alice", []string{viewer}, nil, now), secrets.ErrNotFound)
		wantErr(t, "SetRoles in workspace", st.SetRoles(ctx, bad, "alice", []string{viewer}, nil, now), secrets.ErrNotFound)
		wantErr(t, "GrantRoles", st.GrantRoles(ctx, "ws", bad, []string{viewer}, nil, now), secrets.ErrUnstorableText)
		wantErr(t, "GrantRoles role", st.GrantRoles(ctx, "ws", "alice", []string{editor, bad}, nil, now), secrets.ErrUnstorableText)
		wantErr(t, "SetRoles", st.SetRoles(ctx, "ws", bad, []string{viewer}, nil, now), secrets.ErrUnstorableText)
		wantErr(t, "SetRoles role", st.SetRoles(ctx, "ws", "alice", []string{bad}, nil, now), secrets.ErrUnstorableText)
		_, err = st.Seed(ctx, bad, binding("ws", "bob", viewer, nil, now))
		wantErr(t, "Seed key", err, secrets.ErrUnstorableText)
		_, err = st.Seed(ctx, "k", binding("ws", bad, viewer, nil, now))
		wantErr(t, "Seed principal", err, secrets.ErrUnstorableText)
		w := newWorkspace("new", now)
		wantErr(t, "CreateWorkspace", st.CreateWorkspace(ctx, w, bad), secrets.ErrUnstorableText)
		_, err = st.GetWorkspace(ctx, "new")
		wantErr(t, "GetWorkspace after a refused create", err, secrets.ErrNotFound)
	}
	by := ptr("granter")
	wantBindings(t, st, "ws", binding("ws", "alice", viewer, by, now), binding("ws", "\uFFFD", admin, by, now))
}

func testSeed(t *testing.T, st secrets.Store) {
	t0 := secrets.Now()
	t1 := t0.Add(time.Hour)
	mustCreateWorkspace(t, st, "default", t0)
	seed := func(key string, b secrets.Binding, want bool) {
		t.Helper()
		got, err := st.Seed(ctx, key, b)
		if err != nil || got != want {
			t.Fatalf("Seed(%s) = %v, %v; want %v", key, got, err, want)
		}
	}
	sys := ptr("system")
	star := binding("default", "*", editor, sys, t0)
	seed("default:*:Editor", star, true)
	wantBindings(t, st, "default", star)
	seed("default:*:Editor", binding("default", "*", editor, sys, t1), false)
	seed("default:*:Editor", binding("default", "*", viewer, sys, t1), false) // the key decides
	wantBindings(t, st, "default", star)

	// An identical binding already present is fine and stays as it was.
	seed("another key", binding("default", "*", editor, ptr("other"), t1), true)
	wantBindings(t, st, "default", star)

	// Removed seeds stay removed.
	if n, err := st.RemoveMember(ctx, "default", "*"); err != nil || n != 1 {
		t.Fatalf("RemoveMember = %d, %v", n, err)
	}
	seed("default:*:Editor", star, false)
	wantBindings(t, st, "default")

	// A missing workspace records nothing.
	_, err := st.Seed(ctx, "later:admin", binding("later", "admin@example.com", platformAdmin, sys, t0))
	wantErr(t, "Seed in a missing workspace", err, secrets.ErrNotFound)
	mustCreateWorkspace(t, st, "later", t0)
	mustGrant(t, st, "later", "admin@example.com", t0, viewer)
	seed("later:admin", binding("later", "admin@example.com", platformAdmin, sys, t1), true)
	wantBindings(t, st, "later",
		binding("later", "admin@example.com", viewer, ptr("granter"), t0),
		binding("later", "admin@example.com", platformAdmin, sys, t1))
}

// testSeedConcurrent seeds from ten goroutines at once, as replicas
// starting together do: one key gives one winner, and several keys naming
// one binding all succeed without a conflict error.
func testSeedConcurrent(t *testing.T, st secrets.Store) {
	const n = 10
	now := secrets.Now()
	mustCreateWorkspace(t, st, "system", now)
	b := binding("system", "*", viewer, ptr("system"), now)
	run := func(key func(i int) string) (wins int) {
		got := make([]bool, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				got[i], errs[i] = st.Seed(ctx, key(i), b)
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			wantErr(t, "Seed", errs[i], nil)
			if got[i] {
				wins++
			}
		}
		return wins
	}
	if wins := run(func(int) string { return "system:*:Viewer" }); wins != 1 {
		t.Fatalf("%d of %d concurrent Seeds of one key returned true, want 1", wins, n)
	}
	wantBindings(t, st, "system", b)
	if wins := run(func(i int) string { return fmt.Sprint("key", i) }); wins != n {
		t.Fatalf("%d of %d concurrent Seeds of distinct keys returned true, want all", wins, n)
	}
	wantBindings(t, st, "system", b)
}

func testWorkspaceCreateWithAdmin(t *testing.T, st secrets.Store) {
	w := newWorkspace("team", secrets.Now().Add(1500*time.Nanosecond))
	wantErr(t, "CreateWorkspace", st.CreateWorkspace(ctx, w, "alice@example.com"), nil)
	got, err := st.GetWorkspace(ctx, "team")
	wantErr(t, "GetWorkspace", err, nil)
	same(t, "GetWorkspace", showWorkspace, got, storedWorkspace(w))
	owner := binding("team", "alice@example.com", admin, ptr("alice@example.com"), w.CreatedAt)
	wantBindings(t, st, "team", owner)

	// A taken name changes neither the workspace nor its bindings.
	dup := newWorkspace("team", w.CreatedAt.Add(time.Second))
	dup.ID, dup.Description = "workspace-dup", ptr("dup")
	wantErr(t, "duplicate CreateWorkspace", st.CreateWorkspace(ctx, dup, "mallory"), secrets.ErrAlreadyExists)
	wantErr(t, "duplicate CreateWorkspace by the owner", st.CreateWorkspace(ctx, dup, "alice@example.com"), secrets.ErrAlreadyExists)
	got, err = st.GetWorkspace(ctx, "team")
	wantErr(t, "GetWorkspace", err, nil)
	same(t, "GetWorkspace after the failed create", showWorkspace, got, storedWorkspace(w))
	wantBindings(t, st, "team", owner)
	if ws, err := st.WorkspacesOf(ctx, []string{"mallory"}); err != nil || len(ws) != 0 {
		t.Fatalf("WorkspacesOf(mallory) = %q, %v; want none", ws, err)
	}

	// Without an admin nothing is bound.
	wantErr(t, "CreateWorkspace without admin", st.CreateWorkspace(ctx, newWorkspace("anon", w.CreatedAt), ""), nil)
	wantBindings(t, st, "anon")

	// The creator is an ordinary Admin: the last-admin rule protects it.
	_, err = st.RemoveMember(ctx, "team", "alice@example.com")
	wantErr(t, "RemoveMember of the creator", err, secrets.ErrLastAdmin)
}

// testWorkspaceCreateWithAdminRace: of many creators of one name, the one
// that wins is the only one bound.
func testWorkspaceCreateWithAdminRace(t *testing.T, st secrets.Store) {
	const n = 10
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			w := newWorkspace("race", secrets.Now())
			w.ID = fmt.Sprint("workspace-", i)
			errs[i] = st.CreateWorkspace(ctx, w, fmt.Sprint("user", i))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("creators %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, secrets.ErrAlreadyExists):
			t.Fatalf("creator %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no creator succeeded")
	}
	got, err := st.GetWorkspace(ctx, "race")
	wantErr(t, "GetWorkspace", err, nil)
	if got.ID != fmt.Sprint("workspace-", winner) {
		t.Fatalf("workspace id %s, winner %d", got.ID, winner)
	}
	bindings := mustList(t, st, "race")
	if len(bindings) != 1 || bindings[0].Principal != fmt.Sprint("user", winner) || bindings[0].Role != admin {
		t.Fatalf("bindings %v, want only user%d as Admin", bindings, winner)
	}
}
