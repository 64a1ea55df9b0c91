package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The total ListSecrets returns with every page is kept by the database as
// secrets come and go (docs/storage.md, Secret counts), not counted per
// request. These tests hold it to the number of rows through every way a
// secret is added or removed.
var totalTests = []test{
	{"SecretTotalCreateDelete", testSecretTotalCreateDelete},
	{"SecretTotalImport", testSecretTotalImport},
	{"SecretTotalWorkspaceRecreate", testSecretTotalWorkspaceRecreate},
	{"SecretTotalConcurrent", testSecretTotalConcurrent},
	{"SecretTotalWorkspaceChurn", testSecretTotalWorkspaceChurn},
	{"SecretTotalBin", testSecretTotalBin},
	{"SecretTotalBinConcurrent", testSecretTotalBinConcurrent},
	{"CountSecrets", testCountSecrets},
}

// secretCounter is the count behind the coffer_secrets_stored metric; both
// backends have it, outside secrets.Store because only metrics use it.
type secretCounter interface {
	CountSecrets(ctx context.Context) (int64, error)
}

// testCountSecrets: the count of live secrets of all workspaces follows
// creates, moves to and from the bin, erasure and workspace deletes.
func testCountSecrets(t *testing.T, st secrets.Store) {
	c, ok := st.(secretCounter)
	if !ok {
		t.Fatalf("%T has no CountSecrets", st)
	}
	want := func(what string, n int64) {
		t.Helper()
		got, err := c.CountSecrets(ctx)
		if err != nil || got != n {
			t.Fatalf("%s: CountSecrets = %d, %v; want %d", what, got, err, n)
		}
	}
	want("empty", 0)
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateWorkspace(t, st, "other", t0)
	for _, name := range []string{"a", "b", "c"} {
		mustCreateSecret(t, st, "ws", name, t0)
	}
	mustCreateSecret(t, st, "other", "x", t0)
	want("created", 4)
	wantErr(t, "DeleteSecret to the bin", st.DeleteSecret(ctx, "ws", "a", binDelete("bin-a", t0, t0.Add(retention))), nil)
	want("one in the bin", 3)
	_, err := st.RestoreDeleted(ctx, "ws", "bin-a", secrets.BinRestore{UpdatedAt: t0, Now: t0})
	wantErr(t, "RestoreDeleted", err, nil)
	want("restored", 4)
	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "b", secrets.SecretDelete{}), nil)
	want("erased", 3)
	wantErr(t, "DeleteWorkspace", st.DeleteWorkspace(ctx, "ws"), nil)
	want("workspace deleted", 1)
}

// totalCase is one ListSecrets total to check.
type totalCase struct {
	ws, exclude string
	want        int
}

// wantTotals checks the total of each case, and that it is the number of
// items a listing of the whole workspace returns.
func wantTotals(t *testing.T, st secrets.Store, what string, cases ...totalCase) {
	t.Helper()
	for _, c := range cases {
		q := secrets.SecretQuery{Limit: 1, Exclude: c.exclude}
		_, total, err := st.ListSecrets(ctx, c.ws, q)
		wantErr(t, what+": ListSecrets", err, nil)
		q.Limit = 1 << 20
		all, _, err := st.ListSecrets(ctx, c.ws, q)
		wantErr(t, what+": ListSecrets", err, nil)
		if total != c.want || len(all) != c.want {
			t.Fatalf("%s: %s excluding %q: total %d, %d items listed; want %d",
				what, c.ws, c.exclude, total, len(all), c.want)
		}
	}
}

func testSecretTotalCreateDelete(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustCreateWorkspace(t, st, "other", now)
	wantTotals(t, st, "new workspaces", totalCase{"ws", "", 0}, totalCase{"ws", "a", 0})
	for _, name := range []string{"a", "b", "c"} {
		mustCreateSecret(t, st, "ws", name, now)
	}
	mustCreateSecret(t, st, "other", "x", now)
	_, err := st.CreateSecret(ctx, newRecord("ws", "a", now))
	wantErr(t, "duplicate CreateSecret", err, secrets.ErrAlreadyExists)
	_, err = st.CreateSecret(ctx, newRecord("missing", "a", now))
	wantErr(t, "CreateSecret in a missing workspace", err, secrets.ErrNoWorkspace)
	_, err = st.UpdateSecret(ctx, "ws", "a", secrets.SecretUpdate{Description: ptr("changed"), UpdatedAt: now, Keep: 10})
	wantErr(t, "UpdateSecret", err, nil)
	wantTotals(t, st, "after creates",
		totalCase{"ws", "", 3}, totalCase{"ws", "b", 2}, totalCase{"ws", "absent", 3},
		totalCase{"ws", "x", 3}, totalCase{"other", "", 1}, totalCase{"other", "x", 0})

	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "b", secrets.SecretDelete{}), nil)
	wantErr(t, "second DeleteSecret", st.DeleteSecret(ctx, "ws", "b", secrets.SecretDelete{}), secrets.ErrNotFound)
	wantErr(t, "DeleteSecret in a missing workspace", st.DeleteSecret(ctx, "missing", "a", secrets.SecretDelete{}), secrets.ErrNotFound)
	wantTotals(t, st, "after deletes",
		totalCase{"ws", "", 2}, totalCase{"ws", "b", 2}, totalCase{"ws", "a", 1}, totalCase{"other", "", 1})
	mustCreateSecret(t, st, "ws", "b", now.Add(time.Second))
	wantTotals(t, st, "after re-creating", totalCase{"ws", "", 3}, totalCase{"ws", "b", 2})
}

func testSecretTotalImport(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustCreateSecret(t, st, "ws", "created", now)
	steps := []struct {
		name    string
		replace bool
		want    int
	}{
		{"new", false, 2},
		{"new", false, 2},    // skipped
		{"new", true, 2},     // replaced
		{"created", true, 2}, // replaces a created secret
		{"newer", true, 3},   // replace of a missing name creates it
	}
	for i, s := range steps {
		_, err := st.ImportSecret(ctx, imported("ws", s.name, fmt.Sprint("v", i), now), s.replace, 10)
		wantErr(t, "ImportSecret", err, nil)
		wantTotals(t, st, fmt.Sprintf("import %d (%s, replace %v)", i, s.name, s.replace),
			totalCase{"ws", "", s.want}, totalCase{"ws", "new", s.want - 1})
	}
	_, err := st.ImportSecret(ctx, imported("missing", "new", "x", now), true, 10)
	wantErr(t, "ImportSecret in a missing workspace", err, secrets.ErrNoWorkspace)
	wantTotals(t, st, "after a failed import", totalCase{"ws", "", 3})
}

func testSecretTotalWorkspaceRecreate(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "gone", now)
	mustCreateWorkspace(t, st, "kept", now)
	for i := range 5 {
		mustCreateSecret(t, st, "gone", fmt.Sprint("s", i), now)
		if i < 2 {
			mustCreateSecret(t, st, "kept", fmt.Sprint("s", i), now)
		}
	}
	wantErr(t, "DeleteWorkspace", st.DeleteWorkspace(ctx, "gone"), nil)
	_, _, err := st.ListSecrets(ctx, "gone", secrets.SecretQuery{Limit: 1})
	wantErr(t, "ListSecrets of the deleted workspace", err, secrets.ErrNoWorkspace)
	wantTotals(t, st, "after the delete", totalCase{"kept", "", 2})
	mustCreateWorkspace(t, st, "gone", now.Add(time.Second))
	wantTotals(t, st, "re-created", totalCase{"gone", "", 0}, totalCase{"gone", "s0", 0})
	mustCreateSecret(t, st, "gone", "s0", now)
	wantTotals(t, st, "re-created with a secret", totalCase{"gone", "", 1}, totalCase{"kept", "", 2})
}

// testSecretTotalConcurrent creates and deletes from 100 goroutines at
// once: 50 creates of new names, 20 racing creates of one name (one wins)
// and 30 deletes of 15 existing secrets, each by two goroutines (one wins).
func testSecretTotalConcurrent(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	for i := range 20 {
		mustCreateSecret(t, st, "ws", fmt.Sprint("old", i), now)
	}
	ops := make([]func() error, 0, 100)
	for i := range 50 {
		ops = append(ops, func() error { _, err := st.CreateSecret(ctx, newRecord("ws", fmt.Sprint("new", i), now)); return err })
	}
	for range 20 {
		ops = append(ops, func() error {
			_, err := st.CreateSecret(ctx, newRecord("ws", "contested", now))
			if errors.Is(err, secrets.ErrAlreadyExists) {
				return nil
			}
			return err
		})
	}
	for i := range 30 {
		ops = append(ops, func() error {
			err := st.DeleteSecret(ctx, "ws", fmt.Sprint("old", i/2), secrets.SecretDelete{})
			if errors.Is(err, secrets.ErrNotFound) {
				return nil
			}
			return err
		})
	}
	runAtOnce(t, ops)
	wantTotals(t, st, "after concurrent writes", totalCase{"ws", "", 20 + 50 + 1 - 15},
		totalCase{"ws", "contested", 20 + 50 - 15}, totalCase{"ws", "old0", 20 + 50 + 1 - 15})
}

// testSecretTotalWorkspaceChurn creates and deletes secrets from 20
// goroutines while another deletes and re-creates their workspace: the
// secret writes may find no workspace or no secret, and the total must
// still match the rows.
func testSecretTotalWorkspaceChurn(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "churn", now)
	ops := make([]func() error, 0, 21)
	for w := range 20 {
		ops = append(ops, func() error { return churnSecrets(st, fmt.Sprint("s", w, "-")) })
	}
	ops = append(ops, func() error {
		for range 5 {
			if err := st.DeleteWorkspace(ctx, "churn"); err != nil {
				return err
			}
			if err := st.CreateWorkspace(ctx, newWorkspace("churn", now), ""); err != nil {
				return err
			}
		}
		return nil
	})
	runAtOnce(t, ops)
	all, _, err := st.ListSecrets(ctx, "churn", secrets.SecretQuery{Limit: 1 << 20})
	wantErr(t, "ListSecrets", err, nil)
	wantTotals(t, st, "after churn", totalCase{"churn", "", len(all)})
	if len(all) > 0 {
		wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "churn", all[0].Name, secrets.SecretDelete{}), nil)
	}
	wantTotals(t, st, "after a delete", totalCase{"churn", "", max(len(all)-1, 0)})
}

// churnSecrets creates ten secrets named prefix0… in "churn" and deletes
// every other one, tolerating a workspace deleted meanwhile.
func churnSecrets(st secrets.Store, prefix string) error {
	for i := range 10 {
		name := fmt.Sprint(prefix, i)
		_, err := st.CreateSecret(ctx, newRecord("churn", name, secrets.Now()))
		if err != nil && !errors.Is(err, secrets.ErrNoWorkspace) {
			return err
		}
		if i%2 == 0 {
			continue
		}
		if err := st.DeleteSecret(ctx, "churn", name, secrets.SecretDelete{}); err != nil && !errors.Is(err, secrets.ErrNotFound) {
			return err
		}
	}
	return nil
}

// wantFilteredTotal checks the total of a filtered list of ws, which is
// counted per request rather than kept: it must leave the bin out too.
func wantFilteredTotal(t *testing.T, st secrets.Store, what, ws string, f secrets.Filter, want int) {
	t.Helper()
	items, total, err := st.ListSecrets(ctx, ws, secrets.SecretQuery{Limit: 1 << 20, Filter: f})
	wantErr(t, what+": ListSecrets", err, nil)
	if total != want || len(items) != want {
		t.Fatalf("%s: %s filtered by %+v: total %d, %d items listed; want %d", what, ws, f, total, len(items), want)
	}
}

// binTotal checks how many entries ListDeleted counts in ws at t0.
func binTotal(t *testing.T, st secrets.Store, what, ws string, want int) {
	t.Helper()
	_, total, err := st.ListDeleted(ctx, ws, secrets.DeletedQuery{Limit: 1, Now: t0})
	wantErr(t, what+": ListDeleted", err, nil)
	if total != want {
		t.Fatalf("%s: %d entries in the bin of %s, want %d", what, total, ws, want)
	}
}

// testSecretTotalBin moves secrets to the bin and back: the bin is not
// counted with the live secrets, and a restore counts again.
func testSecretTotalBin(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	for _, name := range []string{"a", "b", "c"} {
		mustCreateSecret(t, st, "ws", name, t0)
	}
	all := secrets.Filter{NameLike: ptr("%")}
	check := func(what string, live, binned int) {
		t.Helper()
		wantTotals(t, st, what, totalCase{"ws", "", live}, totalCase{"ws", "c", live - 1})
		wantFilteredTotal(t, st, what, "ws", all, live)
		binTotal(t, st, what, "ws", binned)
	}
	del := func(name, id string) {
		t.Helper()
		wantErr(t, "DeleteSecret to the bin", st.DeleteSecret(ctx, "ws", name, binDelete(id, t0, t0.Add(retention))), nil)
	}
	restore := func(id, name string, want error) {
		t.Helper()
		r := secrets.BinRestore{UpdatedAt: t0, Now: t0}
		if name != "" {
			_, stored, err := st.GetDeleted(ctx, "ws", id, t0)
			wantErr(t, "GetDeleted", err, nil)
			r.Name, r.Reseals = name, resealsFor(stored, name)
		}
		_, err := st.RestoreDeleted(ctx, "ws", id, r)
		wantErr(t, "RestoreDeleted", err, want)
	}
	check("created", 3, 0)
	del("b", "bin-b1")
	check("b in the bin", 2, 1)
	wantFilteredTotal(t, st, "b in the bin", "ws", secrets.Filter{Name: ptr("b")}, 0)
	wantFilteredTotal(t, st, "b in the bin", "ws", secrets.Filter{Search: "about b"}, 0)
	mustCreateSecret(t, st, "ws", "b", t0)
	check("b again", 3, 1)
	del("b", "bin-b2")
	check("b in the bin twice", 2, 2)
	restore("bin-b1", "", nil)
	check("b restored", 3, 1)
	restore("bin-b2", "", secrets.ErrAlreadyExists)
	check("b not restored twice", 3, 1)
	restore("bin-b2", "b2", nil)
	check("b restored as b2", 4, 0)
	del("a", "bin-a")
	check("a in the bin", 3, 1)
	wantErr(t, "PurgeDeleted", st.PurgeDeleted(ctx, "ws", "bin-a", t0), nil)
	check("a purged", 3, 0)
	del("c", "bin-c")
	if n, err := st.PurgeExpired(ctx, t0.Add(retention), 10); err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
	}
	wantTotals(t, st, "c purged", totalCase{"ws", "", 2})
	wantFilteredTotal(t, st, "c purged", "ws", all, 2)
}

// testSecretTotalBinConcurrent moves secrets to the bin, back and to the
// bin again from 20 goroutines while 10 others create secrets: the kept
// total still matches the rows.
func testSecretTotalBinConcurrent(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	for i := range 20 {
		mustCreateSecret(t, st, "ws", fmt.Sprint("old", i), t0)
	}
	var ops []func() error
	for i := range 20 {
		ops = append(ops, func() error {
			name := fmt.Sprint("old", i)
			if err := st.DeleteSecret(ctx, "ws", name, binDelete(fmt.Sprint("bin-", i), t0, t0.Add(retention))); err != nil {
				return err
			}
			if _, err := st.RestoreDeleted(ctx, "ws", fmt.Sprint("bin-", i), secrets.BinRestore{UpdatedAt: t0, Now: t0}); err != nil {
				return err
			}
			return st.DeleteSecret(ctx, "ws", name, binDelete(fmt.Sprint("bin-", i, "-again"), t0, t0.Add(retention)))
		})
	}
	for i := range 10 {
		ops = append(ops, func() error { _, err := st.CreateSecret(ctx, newRecord("ws", fmt.Sprint("new", i), t0)); return err })
	}
	runAtOnce(t, ops)
	wantTotals(t, st, "after concurrent bin moves", totalCase{"ws", "", 10}, totalCase{"ws", "new0", 9})
	wantFilteredTotal(t, st, "after concurrent bin moves", "ws", secrets.Filter{NameLike: ptr("old%")}, 0)
	binTotal(t, st, "after concurrent bin moves", "ws", 20)
}

// runAtOnce starts every op in its own goroutine, releases them together
// and fails t with the errors they return.
func runAtOnce(t *testing.T, ops []func() error) {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() {
			<-start
			errs[i] = op()
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// CheckMigratedCounts is the shared half of each backend's test of
// migration 3, which must start every workspace's count at the number of
// secrets it already holds. The backend builds a version 2 database holding
// workspaces "a" with secrets s1…s20, "b" with 10 and "empty" with none,
// runs the migrations by opening st, and calls this: the counts must be
// right, and the triggers must keep them from there.
func CheckMigratedCounts(t *testing.T, st secrets.Store) {
	t.Helper()
	wantTotals(t, st, "after the migration",
		totalCase{"a", "", 20}, totalCase{"b", "", 10}, totalCase{"empty", "", 0})
	if err := st.DeleteSecret(ctx, "a", "s1", secrets.SecretDelete{}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteWorkspace(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	mustCreateSecret(t, st, "empty", "new", time.Now())
	wantTotals(t, st, "after writes", totalCase{"a", "", 19}, totalCase{"empty", "", 1})
}
