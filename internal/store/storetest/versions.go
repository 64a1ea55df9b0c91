package storetest

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// Every secret has versions 1, 2, 3…: create makes version 1, each new
// value the next, and old values are erased (pruned, destroyed) without
// their number ever being reused (docs/lifecycle.md, versions).
var versionTests = []test{
	{"VersionCreate", testVersionCreate},
	{"VersionUpdates", testVersionUpdates},
	{"VersionNotFound", testVersionNotFound},
	{"VersionList", testVersionList},
	{"VersionListBounds", testVersionListBounds},
	{"VersionKeep", testVersionKeep},
	{"VersionKeepCatchesUp", testVersionKeepCatchesUp},
	{"VersionNumbersNeverReused", testVersionNumbersNeverReused},
	{"RestoreVersion", testRestoreVersion},
	{"RestoreVersionErrors", testRestoreVersionErrors},
	{"DestroyVersion", testDestroyVersion},
	{"VersionsOfBinnedSecret", testVersionsOfBinnedSecret},
}

// t0 is the fixed time the lifecycle tests start at: the store takes every
// time as an input, so tests step through time instead of sleeping. Its
// microseconds check that they are kept.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

// history is a secret with several versions, as the store must hold it.
type history struct {
	values   []envelope.Sealed // values[k-1] is version k's
	versions []secrets.Version // ascending
}

// newest is the versions as ListVersions returns them by default.
func (h history) newest() []secrets.Version {
	v := slices.Clone(h.versions)
	slices.Reverse(v)
	return v
}

// erase marks the versions numbered ns destroyed.
func (h history) erase(ns ...int64) {
	for _, n := range ns {
		h.versions[n-1].Destroyed = true
	}
}

// makeHistory creates ws/name at t0 (by "alice") and gives it n-1 more
// values, version k at t0 + k minutes by "user<k>" (version 3 by nobody),
// each update keeping keep versions.
func makeHistory(t *testing.T, st secrets.Store, ws, name string, n, keep int) history {
	t.Helper()
	r := mustCreateSecret(t, st, ws, name, t0)
	h := history{values: []envelope.Sealed{r.Sealed},
		versions: []secrets.Version{{Number: 1, CreatedAt: t0, CreatedBy: ptr("alice")}}}
	for k := 2; k <= n; k++ {
		v := sealed(fmt.Sprint("k", k%2), fmt.Sprint(ws, "/", name, " v", k))
		v.Format = 1 + k%2 // each version keeps its own format too
		by := ptr(fmt.Sprint("user", k))
		if k == 3 {
			by = nil
		}
		at := t0.Add(time.Duration(k) * time.Minute)
		got, err := st.UpdateSecret(ctx, ws, name, secrets.SecretUpdate{Sealed: &v, UpdatedAt: at, UpdatedBy: by, Keep: keep})
		if err != nil {
			t.Fatalf("UpdateSecret(%s/%s) to version %d: %v", ws, name, k, err)
		}
		if got.Version != int64(k) {
			t.Fatalf("UpdateSecret(%s/%s): version %d, want %d", ws, name, got.Version, k)
		}
		h.values = append(h.values, v)
		h.versions = append(h.versions, secrets.Version{Number: int64(k), CreatedAt: at, CreatedBy: by})
		for i := range k - keep {
			h.versions[i].Destroyed = true
		}
	}
	return h
}

// wantValues checks every version of h: its value, or ErrVersionNotFound
// once erased.
func wantValues(t *testing.T, st secrets.Store, ws, name string, h history) {
	t.Helper()
	for i, v := range h.versions {
		if v.Destroyed {
			_, err := st.GetVersion(ctx, ws, name, v.Number)
			wantErr(t, fmt.Sprintf("GetVersion(%s/%s, %d) of an erased version", ws, name, v.Number), err, secrets.ErrVersionNotFound)
			continue
		}
		wantVersion(t, st, ws, name, v.Number, h.values[i])
	}
}

func testVersionCreate(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	r := mustCreateSecret(t, st, "ws", "s", t0)
	if r.Version != 1 {
		t.Fatalf("CreateSecret: version %d, want 1", r.Version)
	}
	wantVersions(t, st, "ws", "s", []secrets.Version{{Number: 1, CreatedAt: t0, CreatedBy: ptr("alice")}})
	got, err := st.GetVersion(ctx, "ws", "s", 1)
	wantErr(t, "GetVersion", err, nil)
	same(t, "GetVersion 1", showRecord, got, r)
}

// testVersionUpdates runs updates with and without a value: only a value
// makes a version, every update a revision.
func testVersionUpdates(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	orig := mustCreateSecret(t, st, "ws", "s", t0)
	h := history{values: []envelope.Sealed{orig.Sealed},
		versions: []secrets.Version{{Number: 1, CreatedAt: t0, CreatedBy: ptr("alice")}}}
	steps := []struct {
		what        string
		description *string
		value       bool
		by          *string
		wantVersion int64
	}{
		{"value", nil, true, ptr("bob"), 2},
		{"description only", ptr("d"), false, ptr("bob"), 2},
		{"neither", nil, false, ptr("carol"), 2},
		{"value and description", ptr("e"), true, ptr("carol"), 3},
		{"value by nobody", nil, true, nil, 4},
		{"description by nobody", ptr(""), false, nil, 4},
	}
	want := orig
	for i, s := range steps {
		u := secrets.SecretUpdate{Description: s.description, UpdatedAt: t0.Add(time.Duration(i+1) * time.Minute), UpdatedBy: s.by, Keep: 10}
		if s.value {
			v := sealed("k2", fmt.Sprint("step ", i))
			u.Sealed = &v
			h.values = append(h.values, v)
			h.versions = append(h.versions, secrets.Version{Number: s.wantVersion, CreatedAt: u.UpdatedAt, CreatedBy: s.by})
		}
		got, err := st.UpdateSecret(ctx, "ws", "s", u)
		wantErr(t, s.what, err, nil)
		want = updated(want, u)
		if want.Version != s.wantVersion || want.Revision != int64(i+2) {
			t.Fatalf("%s: the test expects version %d revision %d", s.what, want.Version, want.Revision)
		}
		same(t, s.what+": UpdateSecret result", showRecord, got, unsealed(want))
		same(t, s.what+": GetSecret", showRecord, mustGetSecret(t, st, "ws", "s"), want)
	}
	wantVersions(t, st, "ws", "s", h.newest())
	wantValues(t, st, "ws", "s", h)
	// GetVersion answers the secret as it is, with an older value: the
	// Record's Version stays the current version's number.
	got, err := st.GetVersion(ctx, "ws", "s", 2)
	wantErr(t, "GetVersion", err, nil)
	wantOld := want
	wantOld.Sealed = h.values[1]
	same(t, "GetVersion 2", showRecord, got, wantOld)
}

func testVersionNotFound(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateWorkspace(t, st, "other", t0)
	makeHistory(t, st, "ws", "s", 3, 10)
	makeHistory(t, st, "ws", "pruned", 3, 2) // version 1 pruned
	makeHistory(t, st, "ws", "destroyed", 3, 10)
	wantErr(t, "DestroyVersion", st.DestroyVersion(ctx, "ws", "destroyed", 2, secrets.Cond{}), nil)
	mustCreateSecret(t, st, "other", "s", t0)
	mustCreateSecret(t, st, "ws", "erased", t0)
	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "erased", secrets.SecretDelete{}), nil)
	for _, c := range []struct {
		ws, name string
		version  int64
		want     error
	}{
		{"ws", "s", 0, secrets.ErrVersionNotFound},
		{"ws", "s", -1, secrets.ErrVersionNotFound},
		{"ws", "s", 4, secrets.ErrVersionNotFound},
		{"ws", "s", math.MaxInt64, secrets.ErrVersionNotFound},
		{"ws", "pruned", 1, secrets.ErrVersionNotFound},
		{"ws", "destroyed", 2, secrets.ErrVersionNotFound},
		{"other", "s", 2, secrets.ErrVersionNotFound}, // ws/s has it, other/s does not
		{"ws", "missing", 1, secrets.ErrNotFound},
		{"ws", "erased", 1, secrets.ErrNotFound},
		{"missing", "s", 1, secrets.ErrNotFound},
	} {
		_, err := st.GetVersion(ctx, c.ws, c.name, c.version)
		wantErr(t, fmt.Sprintf("GetVersion(%s/%s, %d)", c.ws, c.name, c.version), err, c.want)
	}
	for _, c := range [][2]string{{"ws", "missing"}, {"ws", "erased"}, {"missing", "s"}} {
		_, _, err := st.ListVersions(ctx, c[0], c[1], secrets.VersionQuery{Limit: 10})
		wantErr(t, fmt.Sprintf("ListVersions(%s/%s)", c[0], c[1]), err, secrets.ErrNotFound)
	}
}

func testVersionList(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	h := makeHistory(t, st, "ws", "s", 5, 10)
	wantErr(t, "DestroyVersion", st.DestroyVersion(ctx, "ws", "s", 2, secrets.Cond{}), nil)
	h.erase(2)
	makeHistory(t, st, "ws", "other", 2, 10) // not listed with s
	asc, desc := h.versions, h.newest()
	for _, c := range []struct {
		offset, limit int
		ascending     bool
		want          []secrets.Version
	}{
		{0, 10, false, desc},
		{0, 10, true, asc},
		{0, 2, false, desc[0:2]},
		{2, 2, false, desc[2:4]},
		{4, 2, false, desc[4:5]},
		{0, 2, true, asc[0:2]},
		{3, 2, true, asc[3:5]},
		{5, 2, true, nil},
		{math.MaxInt, 2, false, nil},
	} {
		got, total, err := st.ListVersions(ctx, "ws", "s", secrets.VersionQuery{Offset: c.offset, Limit: c.limit, Ascending: c.ascending})
		wantErr(t, "ListVersions", err, nil)
		sameList(t, fmt.Sprintf("offset %d limit %d ascending %v", c.offset, c.limit, c.ascending), showVersion, got, c.want)
		if total != 5 {
			t.Fatalf("offset %d limit %d: total %d, want 5 (destroyed versions count)", c.offset, c.limit, total)
		}
	}
}

// testVersionListBounds lists versions created within inclusive bounds:
// version k of makeHistory was created at t0 + k minutes (version 1 at t0).
func testVersionListBounds(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	h := makeHistory(t, st, "ws", "s", 5, 10)
	desc := h.newest() // 5, 4, 3, 2, 1
	at := func(k int) *time.Time { v := t0.Add(time.Duration(k) * time.Minute); return &v }
	for _, c := range []struct {
		name      string
		q         secrets.VersionQuery
		want      []secrets.Version
		wantTotal int
	}{
		{"from and to, inclusive", secrets.VersionQuery{Limit: 10, CreatedFrom: at(2), CreatedTo: at(4)}, desc[1:4], 3},
		{"from only", secrets.VersionQuery{Limit: 10, CreatedFrom: at(4)}, desc[0:2], 2},
		{"to only", secrets.VersionQuery{Limit: 10, CreatedTo: at(1)}, desc[4:5], 1},
		{"paged and ascending", secrets.VersionQuery{Limit: 2, Offset: 1, Ascending: true, CreatedFrom: at(2)},
			[]secrets.Version{h.versions[2], h.versions[3]}, 4},
		{"empty range", secrets.VersionQuery{Limit: 10, CreatedFrom: at(6)}, nil, 0},
	} {
		got, total, err := st.ListVersions(ctx, "ws", "s", c.q)
		wantErr(t, "ListVersions "+c.name, err, nil)
		sameList(t, c.name, showVersion, got, c.want)
		if total != c.wantTotal {
			t.Errorf("%s: total %d, want %d", c.name, total, c.wantTotal)
		}
	}
}

// testVersionKeep adds five values keeping keep versions: each write erases
// every version <= new - keep, so exactly the last keep are left.
func testVersionKeep(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	for _, c := range []struct {
		keep      int
		destroyed []int64
	}{
		{1, []int64{1, 2, 3, 4}},
		{2, []int64{1, 2, 3}},
		{3, []int64{1, 2}},
		{4, []int64{1}},
		{5, nil},
		{10, nil},
	} {
		t.Run(fmt.Sprint("keep ", c.keep), func(t *testing.T) {
			name := fmt.Sprint("keep", c.keep)
			h := makeHistory(t, st, "ws", name, 5, c.keep)
			var got []int64
			for _, v := range h.versions {
				if v.Destroyed {
					got = append(got, v.Number)
				}
			}
			if !slices.Equal(got, c.destroyed) { // checks makeHistory against the table
				t.Fatalf("the test expects versions %v destroyed, not %v", got, c.destroyed)
			}
			wantVersions(t, st, "ws", name, h.newest())
			wantValues(t, st, "ws", name, h)
			same(t, "GetSecret sealed", showSealed, mustGetSecret(t, st, "ws", name).Sealed, h.values[4])
			// Pruned versions are gone from rotation's scan, not just hidden.
			id := mustGetSecret(t, st, "ws", name).ID
			for _, v := range h.versions {
				_, err := st.GetStoredVersion(ctx, secrets.VersionKey{SecretID: id, Version: v.Number})
				if v.Destroyed {
					wantErr(t, fmt.Sprint("GetStoredVersion of pruned version ", v.Number), err, secrets.ErrNotFound)
				} else {
					wantErr(t, fmt.Sprint("GetStoredVersion of version ", v.Number), err, nil)
				}
			}
		})
	}
}

// testVersionKeepCatchesUp lowers keep between writes: one write erases
// every older version at once, and a write without a value erases nothing.
func testVersionKeepCatchesUp(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	h := makeHistory(t, st, "ws", "s", 5, 10)
	_, err := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{Description: ptr("d"), UpdatedAt: t0.Add(time.Hour), Keep: 1})
	wantErr(t, "UpdateSecret without a value", err, nil)
	wantVersions(t, st, "ws", "s", h.newest())

	at := t0.Add(2 * time.Hour)
	_, v6 := mustUpdateValue(t, st, "ws", "s", "v6", at, 2)
	h.values = append(h.values, v6)
	h.versions = append(h.versions, secrets.Version{Number: 6, CreatedAt: at, CreatedBy: ptr("bob")})
	h.erase(1, 2, 3, 4)
	wantVersions(t, st, "ws", "s", h.newest())
	wantValues(t, st, "ws", "s", h)

	_, v7 := mustUpdateValue(t, st, "ws", "s", "v7", at, 3) // a larger keep brings nothing back
	h.values = append(h.values, v7)
	h.versions = append(h.versions, secrets.Version{Number: 7, CreatedAt: at, CreatedBy: ptr("bob")})
	wantVersions(t, st, "ws", "s", h.newest())
	wantValues(t, st, "ws", "s", h)
}

// testVersionNumbersNeverReused destroys and prunes versions: the next value
// still gets the next number, so a number always names one value.
func testVersionNumbersNeverReused(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	makeHistory(t, st, "ws", "s", 3, 10)
	wantErr(t, "DestroyVersion 2", st.DestroyVersion(ctx, "ws", "s", 2, secrets.Cond{}), nil)
	if r, _ := mustUpdateValue(t, st, "ws", "s", "v4", t0, 10); r.Version != 4 {
		t.Fatalf("after destroying version 2 of 3: new version %d, want 4", r.Version)
	}
	if r, _ := mustUpdateValue(t, st, "ws", "s", "v5", t0, 1); r.Version != 5 {
		t.Fatalf("new version %d, want 5", r.Version)
	}
	r, v6 := mustUpdateValue(t, st, "ws", "s", "v6", t0, 1) // only the current version was stored
	if r.Version != 6 {
		t.Fatalf("after pruning all but the current version: new version %d, want 6", r.Version)
	}
	got, total, err := st.ListVersions(ctx, "ws", "s", secrets.VersionQuery{Limit: 10, Ascending: true})
	wantErr(t, "ListVersions", err, nil)
	if total != 6 || len(got) != 6 {
		t.Fatalf("ListVersions: %d versions, total %d; want 6", len(got), total)
	}
	for i, v := range got {
		if v.Number != int64(i+1) || v.Destroyed != (i < 5) {
			t.Fatalf("ListVersions[%d] = %s, want version %d destroyed %v", i, showVersion(v), i+1, i < 5)
		}
	}
	wantVersion(t, st, "ws", "s", 6, v6)
}

// testRestoreVersion copies old values into new versions: the exact sealed
// bytes (the same name, so the same associated data: no re-seal).
func testRestoreVersion(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	h := makeHistory(t, st, "ws", "s", 3, 10)
	for _, c := range []struct {
		what    string
		version int64
		keep    int
		by      *string
		erased  []int64 // by this restore's pruning
	}{
		{"an older version", 2, 10, ptr("dave"), nil},
		{"the current version", 4, 10, nil, nil},
		{"the first version, pruning it", 1, 3, ptr("erin"), []int64{1, 2, 3}},
	} {
		before := mustGetSecret(t, st, "ws", "s")
		u := secrets.SecretUpdate{
			Description: ptr("ignored"), UpdatedAt: t0.Add(time.Duration(len(h.values)) * time.Hour),
			UpdatedBy: c.by, Keep: c.keep,
		}
		got, err := st.RestoreVersion(ctx, "ws", "s", c.version, u)
		wantErr(t, c.what+": RestoreVersion", err, nil)
		value := h.values[c.version-1]
		h.values = append(h.values, value)
		h.versions = append(h.versions, secrets.Version{Number: before.Version + 1, CreatedAt: u.UpdatedAt, CreatedBy: c.by})
		h.erase(c.erased...)
		want := before
		want.Sealed, want.Version, want.Revision = value, before.Version+1, before.Revision+1
		want.UpdatedAt, want.UpdatedBy = u.UpdatedAt, c.by
		same(t, c.what+": RestoreVersion result", showRecord, got, unsealed(want))
		same(t, c.what+": GetSecret", showRecord, mustGetSecret(t, st, "ws", "s"), want)
		wantVersions(t, st, "ws", "s", h.newest())
		wantValues(t, st, "ws", "s", h)
	}
}

// testRestoreVersionErrors restores versions that cannot be: nothing
// changes.
func testRestoreVersionErrors(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	h := makeHistory(t, st, "ws", "s", 4, 3) // version 1 pruned
	wantErr(t, "DestroyVersion", st.DestroyVersion(ctx, "ws", "s", 2, secrets.Cond{}), nil)
	h.erase(2)
	before := mustGetSecret(t, st, "ws", "s")
	u := secrets.SecretUpdate{UpdatedAt: t0.Add(time.Hour), UpdatedBy: ptr("dave"), Keep: 10}
	for _, c := range []struct {
		ws, name string
		version  int64
		want     error
	}{
		{"ws", "s", 1, secrets.ErrVersionNotFound}, // pruned
		{"ws", "s", 2, secrets.ErrVersionNotFound}, // destroyed
		{"ws", "s", 0, secrets.ErrVersionNotFound},
		{"ws", "s", -1, secrets.ErrVersionNotFound},
		{"ws", "s", 5, secrets.ErrVersionNotFound},
		{"ws", "missing", 1, secrets.ErrNotFound},
		{"missing", "s", 1, secrets.ErrNotFound},
	} {
		_, err := st.RestoreVersion(ctx, c.ws, c.name, c.version, u)
		wantErr(t, fmt.Sprintf("RestoreVersion(%s/%s, %d)", c.ws, c.name, c.version), err, c.want)
	}
	same(t, "GetSecret after failed restores", showRecord, mustGetSecret(t, st, "ws", "s"), before)
	wantVersions(t, st, "ws", "s", h.newest())
}

// testDestroyVersion destroys versions step by step: each erasure is a
// change (a new revision) that touches nothing else, and erasing what is
// already erased is no change at all.
func testDestroyVersion(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	h := makeHistory(t, st, "ws", "s", 4, 10)
	p := makeHistory(t, st, "ws", "pruned", 3, 2) // version 1 pruned
	want := mustGetSecret(t, st, "ws", "s")
	for _, c := range []struct {
		what     string
		ws, name string
		version  int64
		want     error
		changes  bool // a new revision, version erased
	}{
		{"the current version", "ws", "s", 4, secrets.ErrCurrentVersion, false},
		{"an older version", "ws", "s", 2, nil, true},
		{"it again", "ws", "s", 2, nil, false},
		{"version 0", "ws", "s", 0, secrets.ErrVersionNotFound, false},
		{"a negative version", "ws", "s", -1, secrets.ErrVersionNotFound, false},
		{"a version never made", "ws", "s", 5, secrets.ErrVersionNotFound, false},
		{"the largest version", "ws", "s", math.MaxInt64, secrets.ErrVersionNotFound, false},
		{"a missing secret", "ws", "missing", 1, secrets.ErrNotFound, false},
		{"a missing workspace", "missing", "s", 1, secrets.ErrNotFound, false},
		{"the first version", "ws", "s", 1, nil, true},
		{"a pruned version", "ws", "pruned", 1, nil, false},
	} {
		err := st.DestroyVersion(ctx, c.ws, c.name, c.version, secrets.Cond{})
		wantErr(t, c.what+": DestroyVersion", err, c.want)
		if c.changes {
			want.Revision++
			h.erase(c.version)
		}
		same(t, c.what+": GetSecret", showRecord, mustGetSecret(t, st, "ws", "s"), want)
		wantVersions(t, st, "ws", "s", h.newest())
		wantValues(t, st, "ws", "s", h)
	}
	wantVersions(t, st, "ws", "pruned", p.newest())
	if r := mustGetSecret(t, st, "ws", "pruned"); r.Revision != 3 {
		t.Fatalf("pruned: revision %d after destroying a pruned version, want 3", r.Revision)
	}
	// A version that stopped being current can be destroyed.
	r, v5 := mustUpdateValue(t, st, "ws", "s", "v5", t0.Add(time.Hour), 10)
	wantErr(t, "DestroyVersion 4 once not current", st.DestroyVersion(ctx, "ws", "s", 4, secrets.Cond{}), nil)
	want = mustGetSecret(t, st, "ws", "s")
	if want.Revision != r.Revision+1 || want.Version != 5 {
		t.Fatalf("revision %d version %d, want %d, 5", want.Revision, want.Version, r.Revision+1)
	}
	same(t, "current value", showSealed, want.Sealed, v5)
}

// testVersionsOfBinnedSecret works on the versions of a secret in the
// recycle bin: they are not a live secret's, so every version call answers
// ErrNotFound, and a new secret of the same name has only its own.
func testVersionsOfBinnedSecret(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	r := mustCreateSecret(t, st, "ws", "s", t0)
	mustUpdateValue(t, st, "ws", "s", "v2", t0, 10)
	mustUpdateValue(t, st, "ws", "s", "v3", t0, 10)
	mustBin(t, st, r, "bin-1", t0.Add(time.Hour))
	_, binned, err := st.GetDeleted(ctx, "ws", "bin-1", t0.Add(time.Hour))
	wantErr(t, "GetDeleted", err, nil)

	check := func(what string, want error) {
		t.Helper()
		_, err := st.GetVersion(ctx, "ws", "s", 2)
		wantErr(t, what+": GetVersion 2", err, want)
		_, err = st.RestoreVersion(ctx, "ws", "s", 2, secrets.SecretUpdate{UpdatedAt: t0, Keep: 10})
		wantErr(t, what+": RestoreVersion 2", err, want)
		wantErr(t, what+": DestroyVersion 2", st.DestroyVersion(ctx, "ws", "s", 2, secrets.Cond{}), want)
	}
	check("binned", secrets.ErrNotFound)
	_, _, err = st.ListVersions(ctx, "ws", "s", secrets.VersionQuery{Limit: 10})
	wantErr(t, "ListVersions of a binned secret", err, secrets.ErrNotFound)

	mustCreateSecret(t, st, "ws", "s", t0.Add(2*time.Hour))
	check("re-created", secrets.ErrVersionNotFound)
	wantVersions(t, st, "ws", "s", []secrets.Version{{Number: 1, CreatedAt: t0.Add(2 * time.Hour), CreatedBy: ptr("alice")}})
	wantErr(t, "DestroyVersion 1 of the new secret", st.DestroyVersion(ctx, "ws", "s", 1, secrets.Cond{}), secrets.ErrCurrentVersion)
	_, still, err := st.GetDeleted(ctx, "ws", "bin-1", t0.Add(time.Hour))
	wantErr(t, "GetDeleted", err, nil)
	sameList(t, "binned versions", showStored, still, binned)
}
