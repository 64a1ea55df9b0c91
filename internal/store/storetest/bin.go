package storetest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// A deleted secret moves, with its versions, to its workspace's recycle bin
// under an opaque id: the name is free at once, the entry is visible until
// its PurgeAt, and it can be restored (under its name or a new one) or
// purged (docs/lifecycle.md, recycle bin).
var binTests = []test{
	{"BinDelete", testBinDelete},
	{"BinListOrder", testBinListOrder},
	{"BinVisibility", testBinVisibility},
	{"BinGetDeletedNotFound", testBinGetDeletedNotFound},
	{"BinRestore", testBinRestore},
	{"BinRestoreRename", testBinRestoreRename},
	{"BinRestoreErrors", testBinRestoreErrors},
	{"BinRestoreRetry", testBinRestoreRetry},
	{"BinPurgeDeleted", testBinPurgeDeleted},
	{"BinPurgeExpired", testBinPurgeExpired},
	{"BinPurgeExpiredConcurrent", testBinPurgeExpiredConcurrent},
	{"BinDeleteWorkspace", testBinDeleteWorkspace},
	{"BinRestoreCreateRace", testBinRestoreCreateRace},
	{"BinRestoreTwiceRace", testBinRestoreTwiceRace},
	{"BinRestoreResealRace", testBinRestoreResealRace},
}

// errAny stands for any error where the contract names none.
var errAny = errors.New("any error")

// binStored is what GetDeleted returns of a secret's versions once it is in
// the bin: the stored ones, ascending, marked Deleted.
func binStored(t *testing.T, st secrets.Store, r secrets.Record) []secrets.StoredVersion {
	t.Helper()
	all, err := st.ScanVersions(ctx, secrets.VersionKey{SecretID: r.ID}, 1<<20)
	wantErr(t, "ScanVersions", err, nil)
	var out []secrets.StoredVersion
	for _, v := range all {
		if v.SecretID == r.ID {
			v.Deleted = true
			out = append(out, v)
		}
	}
	return out
}

// wantDeleted fails unless GetDeleted(ws, id, now) returns entry and
// versions.
func wantDeleted(t *testing.T, st secrets.Store, ws, id string, now time.Time, entry secrets.Deleted, versions []secrets.StoredVersion) {
	t.Helper()
	got, vs, err := st.GetDeleted(ctx, ws, id, now)
	wantErr(t, fmt.Sprintf("GetDeleted(%s, %s)", ws, id), err, nil)
	same(t, "GetDeleted entry", showDeleted, got, entry)
	sameList(t, "GetDeleted versions", showStored, vs, versions)
}

// wantNoDeleted fails unless GetDeleted(ws, id, now) is ErrNotFound.
func wantNoDeleted(t *testing.T, st secrets.Store, ws, id string, now time.Time) {
	t.Helper()
	_, _, err := st.GetDeleted(ctx, ws, id, now)
	wantErr(t, fmt.Sprintf("GetDeleted(%s, %s)", ws, id), err, secrets.ErrNotFound)
}

// resealsFor re-seals every version in vs under a new name (a seed that
// names the version).
func resealsFor(vs []secrets.StoredVersion, name string) []secrets.Reseal {
	out := make([]secrets.Reseal, len(vs))
	for i, v := range vs {
		out[i] = reseal(v, sealed("k9", fmt.Sprint(name, " v", v.Version)))
	}
	return out
}

func testBinDelete(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateWorkspace(t, st, "other", t0)
	makeHistory(t, st, "ws", "s", 3, 2) // version 1 pruned
	live := mustGetSecret(t, st, "ws", "s")
	stored := binStored(t, st, live)
	entry := mustBin(t, st, live, "bin-1", t0.Add(time.Hour))
	now := t0.Add(2 * time.Hour)

	// The name is free at once.
	_, err := st.GetSecret(ctx, "ws", "s")
	wantErr(t, "GetSecret", err, secrets.ErrNotFound)
	_, err = st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{UpdatedAt: now, Keep: 10})
	wantErr(t, "UpdateSecret", err, secrets.ErrNotFound)
	for _, d := range []secrets.SecretDelete{{}, binDelete("bin-2", now, now.Add(retention))} {
		wantErr(t, "DeleteSecret again", st.DeleteSecret(ctx, "ws", "s", d), secrets.ErrNotFound)
	}
	items, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Limit: 10})
	if err != nil || len(items) != 0 || total != 0 {
		t.Fatalf("ListSecrets: %d items, total %d, err %v; want none", len(items), total, err)
	}
	again := mustCreateSecret(t, st, "ws", "s", now)
	if again.ID == live.ID || again.Version != 1 {
		t.Fatalf("re-created: ID %d version %d, want a new ID (not %d) and version 1", again.ID, again.Version, live.ID)
	}

	wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: now}, []secrets.Deleted{entry}, 1)
	wantBin(t, st, "other", secrets.DeletedQuery{Limit: 10, Now: now}, nil, 0)
	if len(stored) != 2 || stored[0].Version != 2 {
		t.Fatalf("the test expects versions 2 and 3 stored, not %d versions", len(stored))
	}
	wantDeleted(t, st, "ws", "bin-1", now, entry, stored)
	if entry.Version != 3 || entry.Workspace != "ws" || entry.Name != "s" {
		t.Fatalf("entry %s, want ws/s version 3", showDeleted(entry))
	}
	_, _, err = st.ListDeleted(ctx, "missing", secrets.DeletedQuery{Limit: 10, Now: now})
	wantErr(t, "ListDeleted of a missing workspace", err, secrets.ErrNoWorkspace)
}

// testBinListOrder deletes the same name several times, and entries that tie
// on deleted_at: newest deletion first, ties by name, then by id.
func testBinListOrder(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	del := func(name, id string, hours int, values int) secrets.Deleted {
		t.Helper()
		r := mustCreateSecret(t, st, "ws", name, t0)
		for v := 2; v <= values; v++ {
			mustUpdateValue(t, st, "ws", name, fmt.Sprint(id, " v", v), t0, 10)
		}
		return mustBin(t, st, r, id, t0.Add(time.Duration(hours)*time.Hour))
	}
	s1 := del("s", "bin-c", 1, 1)
	z := del("z", "bin-a", 2, 2)
	s3b := del("s", "id-2", 3, 3) // same name, same deleted_at: by id
	s3a := del("s", "id-1", 3, 2)
	a := del("a", "bin-z", 3, 1)
	want := []secrets.Deleted{a, s3a, s3b, z, s1}
	now := t0.Add(4 * time.Hour)
	wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: now}, want, 5)
	wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: now, Sort: "-deleted_at"}, want, 5)
	for _, c := range []struct{ offset, limit, from, to int }{
		{0, 2, 0, 2}, {2, 2, 2, 4}, {4, 2, 4, 5}, {5, 2, 5, 5}, {math.MaxInt, 2, 5, 5},
	} {
		wantBin(t, st, "ws", secrets.DeletedQuery{Offset: c.offset, Limit: c.limit, Now: now}, want[c.from:c.to], 5)
	}
}

// testBinVisibility lists a bin at times around its entries' PurgeAt: an
// entry is visible while PurgeAt is after now, and invisible entries cannot
// be restored or purged (though they are still stored until PurgeExpired).
func testBinVisibility(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	e1 := mustBin(t, st, mustCreateSecret(t, st, "ws", "e1", t0), "bin-1", t0.Add(time.Hour))
	e2 := mustBin(t, st, mustCreateSecret(t, st, "ws", "e2", t0), "bin-2", t0.Add(2*time.Hour))
	scan, err := st.ScanVersions(ctx, secrets.VersionKey{}, 100)
	wantErr(t, "ScanVersions", err, nil)
	for _, c := range []struct {
		what string
		now  time.Time
		want []secrets.Deleted
	}{
		{"at deletion", e1.DeletedAt, []secrets.Deleted{e2, e1}},
		{"just before the first purge", e1.PurgeAt.Add(-time.Microsecond), []secrets.Deleted{e2, e1}},
		{"at the first purge", e1.PurgeAt, []secrets.Deleted{e2}},
		{"just before the second purge", e2.PurgeAt.Add(-time.Microsecond), []secrets.Deleted{e2}},
		{"at the second purge", e2.PurgeAt, nil},
		{"long after", e2.PurgeAt.Add(1000 * time.Hour), nil},
	} {
		t.Run(c.what, func(t *testing.T) {
			wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: c.now}, c.want, len(c.want))
			for _, e := range []secrets.Deleted{e1, e2} {
				if slices.ContainsFunc(c.want, func(d secrets.Deleted) bool { return d.ID == e.ID }) {
					_, _, err := st.GetDeleted(ctx, "ws", e.ID, c.now)
					wantErr(t, "GetDeleted of a visible entry", err, nil)
					continue
				}
				wantNoDeleted(t, st, "ws", e.ID, c.now)
				_, err := st.RestoreDeleted(ctx, "ws", e.ID, secrets.BinRestore{UpdatedAt: c.now, Now: c.now})
				wantErr(t, "RestoreDeleted of an invisible entry", err, secrets.ErrNotFound)
				wantErr(t, "PurgeDeleted of an invisible entry", st.PurgeDeleted(ctx, "ws", e.ID, c.now), secrets.ErrNotFound)
			}
		})
	}
	wantScan(t, st, scan)
	wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: t0}, []secrets.Deleted{e2, e1}, 2)
}

func testBinGetDeletedNotFound(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateWorkspace(t, st, "other", t0)
	mustBin(t, st, mustCreateSecret(t, st, "ws", "s", t0), "bin-1", t0)
	mustCreateSecret(t, st, "ws", "s", t0) // a live secret is not a bin entry
	for _, c := range [][2]string{{"ws", "bin-2"}, {"ws", ""}, {"ws", "BIN-1"}, {"other", "bin-1"}, {"missing", "bin-1"}, {"ws", "s"}} {
		wantNoDeleted(t, st, c[0], c[1], t0)
	}
}

// testBinRestore restores an entry under its old name: the same secret
// comes back with its versions and ciphertexts as they were, updated by the
// restore.
func testBinRestore(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	h := makeHistory(t, st, "ws", "s", 4, 3) // version 1 pruned
	before := mustGetSecret(t, st, "ws", "s")
	scan, err := st.ScanVersions(ctx, secrets.VersionKey{}, 100)
	wantErr(t, "ScanVersions", err, nil)
	mustBin(t, st, before, "bin-1", t0.Add(time.Hour))

	at := t0.Add(2 * time.Hour)
	got, err := st.RestoreDeleted(ctx, "ws", "bin-1", secrets.BinRestore{UpdatedAt: at, UpdatedBy: ptr("dave"), Now: at})
	wantErr(t, "RestoreDeleted", err, nil)
	if got.ID != before.ID || got.Revision <= before.Revision {
		t.Fatalf("restored: ID %d revision %d, want ID %d and a revision after %d", got.ID, got.Revision, before.ID, before.Revision)
	}
	want := before
	want.UpdatedAt, want.UpdatedBy, want.Revision = at, ptr("dave"), got.Revision
	same(t, "RestoreDeleted result", showSecret, got.Secret, want.Secret)
	same(t, "GetSecret after the restore", showRecord, mustGetSecret(t, st, "ws", "s"), want)
	wantVersions(t, st, "ws", "s", h.newest())
	wantValues(t, st, "ws", "s", h)
	wantScan(t, st, scan) // the same versions and ciphertexts, live again

	// The entry is gone from the bin, and the secret goes on as before.
	wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: at}, nil, 0)
	wantNoDeleted(t, st, "ws", "bin-1", at)
	_, err = st.RestoreDeleted(ctx, "ws", "bin-1", secrets.BinRestore{UpdatedAt: at, Now: at})
	wantErr(t, "RestoreDeleted again", err, secrets.ErrNotFound)
	wantErr(t, "PurgeDeleted of a restored entry", st.PurgeDeleted(ctx, "ws", "bin-1", at), secrets.ErrNotFound)
	if r, _ := mustUpdateValue(t, st, "ws", "s", "v5", at, 3); r.Version != 5 {
		t.Fatalf("the next value after a restore: version %d, want 5", r.Version)
	}
}

// testBinRestoreRename restores an entry under a new name, every stored
// version re-sealed for it (its associated data names the secret), while
// another secret has the old name.
func testBinRestoreRename(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	h := makeHistory(t, st, "ws", "s", 3, 2) // version 1 pruned
	before := mustGetSecret(t, st, "ws", "s")
	mustBin(t, st, before, "bin-1", t0.Add(time.Hour))
	other := mustCreateSecret(t, st, "ws", "s", t0.Add(time.Hour)) // the old name is live again
	at := t0.Add(2 * time.Hour)
	_, stored, err := st.GetDeleted(ctx, "ws", "bin-1", at)
	wantErr(t, "GetDeleted", err, nil)
	rs := resealsFor(stored, "renamed")

	got, err := st.RestoreDeleted(ctx, "ws", "bin-1", secrets.BinRestore{Name: "renamed", Reseals: rs, UpdatedAt: at, UpdatedBy: ptr("dave"), Now: at})
	wantErr(t, "RestoreDeleted under a new name", err, nil)
	want := before
	want.Name, want.UpdatedAt, want.UpdatedBy, want.Revision = "renamed", at, ptr("dave"), got.Revision
	want.Sealed = rs[len(rs)-1].Sealed
	if got.ID != before.ID || got.Revision <= before.Revision {
		t.Fatalf("restored: ID %d revision %d, want ID %d and a revision after %d", got.ID, got.Revision, before.ID, before.Revision)
	}
	same(t, "RestoreDeleted result", showSecret, got.Secret, want.Secret)
	same(t, "GetSecret after the restore", showRecord, mustGetSecret(t, st, "ws", "renamed"), want)
	for i, r := range rs {
		h.values[r.Version-1] = rs[i].Sealed
	}
	wantVersions(t, st, "ws", "renamed", h.newest())
	wantValues(t, st, "ws", "renamed", h)
	same(t, "the other secret of the old name", showRecord, mustGetSecret(t, st, "ws", "s"), other)

	var scan []secrets.StoredVersion
	for _, r := range rs {
		scan = append(scan, secrets.StoredVersion{VersionKey: r.VersionKey, Workspace: "ws", Name: "renamed", Sealed: r.Sealed})
	}
	wantScan(t, st, append(scan, storedVersion(other, false)))
	wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: at}, nil, 0)
}

// testBinRestoreErrors restores an entry in ways that must fail: each
// leaves the entry in the bin, its versions as they were, and no secret
// restored.
func testBinRestoreErrors(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateWorkspace(t, st, "other", t0)
	makeHistory(t, st, "ws", "s", 4, 3) // versions 2-4 stored
	entry := mustBin(t, st, mustGetSecret(t, st, "ws", "s"), "bin-1", t0.Add(time.Hour))
	taken := mustCreateSecret(t, st, "ws", "taken", t0)
	at := t0.Add(2 * time.Hour)
	_, stored, err := st.GetDeleted(ctx, "ws", "bin-1", at)
	wantErr(t, "GetDeleted", err, nil)
	scan, err := st.ScanVersions(ctx, secrets.VersionKey{}, 100)
	wantErr(t, "ScanVersions", err, nil)

	staleAt := func(i int) []secrets.Reseal { // version i's guard does not match
		rs := resealsFor(stored, "new")
		rs[i].Old = sealed("k1", "something else").Ciphertext
		return rs
	}
	for _, c := range []struct {
		what    string
		ws, id  string
		r       secrets.BinRestore
		oldLive bool // the old name is live meanwhile
		want    error
	}{
		{"old name live", "ws", "bin-1", secrets.BinRestore{UpdatedAt: at, Now: at}, true, secrets.ErrAlreadyExists},
		{"new name live", "ws", "bin-1", secrets.BinRestore{Name: "taken", Reseals: resealsFor(stored, "taken"), UpdatedAt: at, Now: at}, false, secrets.ErrAlreadyExists},
		{"unknown id", "ws", "bin-2", secrets.BinRestore{UpdatedAt: at, Now: at}, false, secrets.ErrNotFound},
		{"another workspace", "other", "bin-1", secrets.BinRestore{UpdatedAt: at, Now: at}, false, secrets.ErrNotFound},
		{"missing workspace", "missing", "bin-1", secrets.BinRestore{UpdatedAt: at, Now: at}, false, secrets.ErrNotFound},
		{"expired", "ws", "bin-1", secrets.BinRestore{UpdatedAt: at, Now: entry.PurgeAt}, false, secrets.ErrNotFound},
		{"expired, new name", "ws", "bin-1", secrets.BinRestore{Name: "new", Reseals: resealsFor(stored, "new"), UpdatedAt: at, Now: entry.PurgeAt}, false, secrets.ErrNotFound},
		{"first guard stale", "ws", "bin-1", secrets.BinRestore{Name: "new", Reseals: staleAt(0), UpdatedAt: at, Now: at}, false, secrets.ErrRevisionChanged},
		{"last guard stale", "ws", "bin-1", secrets.BinRestore{Name: "new", Reseals: staleAt(len(stored) - 1), UpdatedAt: at, Now: at}, false, secrets.ErrRevisionChanged},
		{"last guard stale, old name live", "ws", "bin-1", secrets.BinRestore{Name: "new", Reseals: staleAt(len(stored) - 1), UpdatedAt: at, Now: at}, true, secrets.ErrRevisionChanged},
		// A version left out would stay sealed under the old name, which
		// no read under the new one could open: the store refuses the
		// restore (the contract names no error for it).
		{"a version not re-sealed", "ws", "bin-1", secrets.BinRestore{Name: "new", Reseals: resealsFor(stored, "new")[1:], UpdatedAt: at, Now: at}, false, errAny},
		{"no re-seals", "ws", "bin-1", secrets.BinRestore{Name: "new", UpdatedAt: at, Now: at}, false, errAny},
		{"another secret's version re-sealed", "ws", "bin-1", secrets.BinRestore{Name: "new",
			Reseals: append(resealsFor(stored, "new"), reseal(storedVersion(taken, false), sealed("k9", "taken"))), UpdatedAt: at, Now: at}, false, errAny},
	} {
		t.Run(c.what, func(t *testing.T) {
			var live secrets.Record
			if c.oldLive {
				live = mustCreateSecret(t, st, "ws", "s", at)
			}
			_, err := st.RestoreDeleted(ctx, c.ws, c.id, c.r)
			if c.want == errAny {
				if err == nil {
					t.Fatal("RestoreDeleted succeeded, want an error")
				}
			} else {
				wantErr(t, "RestoreDeleted", err, c.want)
			}
			wantDeleted(t, st, "ws", "bin-1", at, entry, stored)
			_, err = st.GetSecret(ctx, "ws", "new")
			wantErr(t, "GetSecret of the new name", err, secrets.ErrNotFound)
			same(t, "the secret of the name taken", showRecord, mustGetSecret(t, st, "ws", "taken"), taken)
			if c.oldLive {
				same(t, "the live secret of the old name", showRecord, mustGetSecret(t, st, "ws", "s"), live)
				wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "s", secrets.SecretDelete{}), nil)
			} else {
				_, err = st.GetSecret(ctx, "ws", "s")
				wantErr(t, "GetSecret of the old name", err, secrets.ErrNotFound)
			}
			wantScan(t, st, scan)
		})
	}
}

// testBinRestoreRetry re-seals an entry's versions (rotation) between the
// read and the write of a restore under a new name: the restore is refused,
// the rotation's values stay, and a restore read again succeeds.
func testBinRestoreRetry(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	makeHistory(t, st, "ws", "s", 2, 10)
	entry := mustBin(t, st, mustGetSecret(t, st, "ws", "s"), "bin-1", t0.Add(time.Hour))
	at := t0.Add(2 * time.Hour)
	_, read, err := st.GetDeleted(ctx, "ws", "bin-1", at)
	wantErr(t, "GetDeleted", err, nil)

	rotated := slices.Clone(read)
	errs, err := st.ResealVersions(ctx, []secrets.Reseal{reseal(read[1], sealed("k2", "rotated"))})
	wantErr(t, "ResealVersions", errors.Join(append(errs, err)...), nil)
	rotated[1].Sealed = sealed("k2", "rotated")

	r := secrets.BinRestore{Name: "new", Reseals: resealsFor(read, "new"), UpdatedAt: at, Now: at}
	_, err = st.RestoreDeleted(ctx, "ws", "bin-1", r)
	wantErr(t, "RestoreDeleted with a stale read", err, secrets.ErrRevisionChanged)
	wantDeleted(t, st, "ws", "bin-1", at, entry, rotated)

	_, reread, err := st.GetDeleted(ctx, "ws", "bin-1", at)
	wantErr(t, "GetDeleted", err, nil)
	r.Reseals = resealsFor(reread, "new")
	_, err = st.RestoreDeleted(ctx, "ws", "bin-1", r)
	wantErr(t, "RestoreDeleted read again", err, nil)
	wantVersion(t, st, "ws", "new", 1, r.Reseals[0].Sealed)
	wantVersion(t, st, "ws", "new", 2, r.Reseals[1].Sealed)
}

func testBinPurgeDeleted(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateWorkspace(t, st, "other", t0)
	s := mustCreateSecret(t, st, "ws", "s", t0)
	mustUpdateValue(t, st, "ws", "s", "v2", t0, 10)
	mustBin(t, st, s, "bin-1", t0)
	e2 := mustBin(t, st, mustCreateSecret(t, st, "ws", "t", t0), "bin-2", t0)
	e3 := mustBin(t, st, mustCreateSecret(t, st, "other", "s", t0), "bin-3", t0)
	live := mustCreateSecret(t, st, "ws", "s", t0)
	now := t0.Add(time.Hour)
	wantErr(t, "PurgeDeleted", st.PurgeDeleted(ctx, "ws", "bin-1", now), nil)

	wantNoDeleted(t, st, "ws", "bin-1", now)
	wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: now}, []secrets.Deleted{e2}, 1)
	wantBin(t, st, "other", secrets.DeletedQuery{Limit: 10, Now: now}, []secrets.Deleted{e3}, 1)
	for v := range int64(3) {
		_, err := st.GetStoredVersion(ctx, secrets.VersionKey{SecretID: s.ID, Version: v})
		wantErr(t, fmt.Sprint("GetStoredVersion of purged version ", v), err, secrets.ErrNotFound)
	}
	same(t, "the live secret of the name", showRecord, mustGetSecret(t, st, "ws", "s"), live)
	_, err := st.RestoreDeleted(ctx, "ws", "bin-1", secrets.BinRestore{UpdatedAt: now, Now: now})
	wantErr(t, "RestoreDeleted of a purged entry", err, secrets.ErrNotFound)

	for _, c := range []struct {
		what, ws, id string
		now          time.Time
	}{
		{"again", "ws", "bin-1", now},
		{"unknown id", "ws", "bin-9", now},
		{"another workspace's", "ws", "bin-3", now},
		{"missing workspace", "missing", "bin-2", now},
		{"expired", "ws", "bin-2", e2.PurgeAt},
	} {
		wantErr(t, "PurgeDeleted, "+c.what, st.PurgeDeleted(ctx, c.ws, c.id, c.now), secrets.ErrNotFound)
	}
	wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: now}, []secrets.Deleted{e2}, 1)
	wantBin(t, st, "other", secrets.DeletedQuery{Limit: 10, Now: now}, []secrets.Deleted{e3}, 1)
}

// binEntries bins n secrets named prefix0… of ws, purged at purgeAt(i), and
// returns their IDs.
func binEntries(t *testing.T, st secrets.Store, ws, prefix string, n int, purgeAt func(i int) time.Time) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range n {
		name := fmt.Sprint(prefix, i)
		r := mustCreateSecret(t, st, ws, name, t0)
		mustUpdateValue(t, st, ws, name, name+" v2", t0, 10) // two versions each
		ids[i] = r.ID
		if err := st.DeleteSecret(ctx, ws, name, binDelete(fmt.Sprint("bin-", ws, "-", name), t0, purgeAt(i))); err != nil {
			t.Fatalf("DeleteSecret(%s/%s) to the bin: %v", ws, name, err)
		}
	}
	return ids
}

// storedIDs returns the IDs of the secrets ScanVersions finds, in order.
func storedIDs(t *testing.T, st secrets.Store) []int64 {
	t.Helper()
	all, err := st.ScanVersions(ctx, secrets.VersionKey{}, 1<<20)
	wantErr(t, "ScanVersions", err, nil)
	var ids []int64
	for _, v := range all {
		if len(ids) == 0 || ids[len(ids)-1] != v.SecretID {
			ids = append(ids, v.SecretID)
		}
	}
	return ids
}

func testBinPurgeExpired(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateWorkspace(t, st, "other", t0)
	now := t0.Add(retention)
	// Expired: PurgeAt at or before now, in both workspaces.
	expired := binEntries(t, st, "ws", "old", 3, func(i int) time.Time { return now.Add(-time.Duration(i) * time.Hour) })
	expired = append(expired, binEntries(t, st, "other", "old", 2, func(i int) time.Time { return now.Add(-time.Duration(i) * time.Microsecond) })...)
	kept := binEntries(t, st, "ws", "new", 2, func(i int) time.Time { return now.Add(time.Microsecond + time.Duration(i)*time.Hour) })
	live := mustCreateSecret(t, st, "ws", "live", t0)
	all := append(append(slices.Clone(expired), kept...), live.ID)
	slices.Sort(all)

	n, err := st.PurgeExpired(ctx, now.Add(-3*time.Hour), 100) // nothing expired yet
	if err != nil || n != 0 {
		t.Fatalf("PurgeExpired before any PurgeAt = %d, %v; want 0", n, err)
	}
	if got := storedIDs(t, st); !slices.Equal(got, all) {
		t.Fatalf("secrets stored %v, want %v", got, all)
	}
	total := 0
	for _, want := range []int{2, 2, 1, 0, 0} {
		n, err := st.PurgeExpired(ctx, now, 2)
		wantErr(t, "PurgeExpired", err, nil)
		if n != want {
			t.Fatalf("PurgeExpired(limit 2) erased %d after %d, want %d", n, total, want)
		}
		total += n
	}
	want := append(slices.Clone(kept), live.ID)
	if got := storedIDs(t, st); !slices.Equal(got, want) {
		t.Fatalf("secrets stored after the purge %v, want %v (the unexpired entries and the live secret)", got, want)
	}
	q := secrets.DeletedQuery{Limit: 10, Now: t0}
	for ws, n := range map[string]int{"ws": 2, "other": 0} {
		_, total, err := st.ListDeleted(ctx, ws, q)
		if err != nil || total != n {
			t.Fatalf("ListDeleted(%s) at deletion: total %d, %v; want %d", ws, total, err, n)
		}
	}
}

// testBinPurgeExpiredConcurrent purges from several goroutines at once, as
// replicas do: each entry is erased by exactly one of them.
func testBinPurgeExpiredConcurrent(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	now := t0.Add(retention)
	binEntries(t, st, "ws", "old", 40, func(i int) time.Time { return now.Add(-time.Duration(i) * time.Second) })
	kept := binEntries(t, st, "ws", "new", 3, func(i int) time.Time { return now.Add(time.Hour) })
	const purgers = 4
	counts := make([]int, purgers)
	ops := make([]func() error, purgers)
	for p := range ops {
		ops[p] = func() error {
			for {
				n, err := st.PurgeExpired(ctx, now, 3)
				if err != nil || n == 0 {
					return err
				}
				if n > 3 {
					return fmt.Errorf("PurgeExpired(limit 3) erased %d", n)
				}
				counts[p] += n
			}
		}
	}
	runAtOnce(t, ops)
	sum := 0
	for _, n := range counts {
		sum += n
	}
	if sum != 40 {
		t.Fatalf("the purgers erased %v entries, %d in all; want 40 in all", counts, sum)
	}
	if n, err := st.PurgeExpired(ctx, now, 100); err != nil || n != 0 {
		t.Fatalf("PurgeExpired afterwards = %d, %v; want 0", n, err)
	}
	if got := storedIDs(t, st); !slices.Equal(got, kept) {
		t.Fatalf("secrets stored %v, want the unexpired entries %v", got, kept)
	}
}

// testBinDeleteWorkspace deletes a workspace: its bin goes with it.
func testBinDeleteWorkspace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "gone", t0)
	mustCreateWorkspace(t, st, "kept", t0)
	binEntries(t, st, "gone", "s", 3, func(int) time.Time { return t0.Add(retention) })
	kept := binEntries(t, st, "kept", "s", 1, func(int) time.Time { return t0.Add(retention) })
	wantErr(t, "DeleteWorkspace", st.DeleteWorkspace(ctx, "gone"), nil)
	if got := storedIDs(t, st); !slices.Equal(got, kept) {
		t.Fatalf("secrets stored %v, want only the other workspace's entry %v", got, kept)
	}
	mustCreateWorkspace(t, st, "gone", t0)
	wantBin(t, st, "gone", secrets.DeletedQuery{Limit: 10, Now: t0}, nil, 0)
	wantNoDeleted(t, st, "gone", "bin-gone-s0", t0)
	if n, err := st.PurgeExpired(ctx, t0.Add(retention), 100); err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v; want 1 (the other workspace's entry)", n, err)
	}
}

// testBinRestoreCreateRace restores entries while creating secrets of their
// names at once: for each name exactly one of the two succeeds, the other
// finds the name live, and there is exactly one live secret.
func testBinRestoreCreateRace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	const n = 20
	ids := binEntries(t, st, "ws", "s", n, func(int) time.Time { return t0.Add(retention) })
	restoreErrs, createErrs := make([]error, n), make([]error, n)
	var ops []func() error
	for i := range n {
		ops = append(ops, func() error {
			_, restoreErrs[i] = st.RestoreDeleted(ctx, "ws", fmt.Sprint("bin-ws-s", i), secrets.BinRestore{UpdatedAt: t0, Now: t0})
			return nil
		}, func() error {
			_, createErrs[i] = st.CreateSecret(ctx, newRecord("ws", fmt.Sprint("s", i), t0))
			return nil
		})
	}
	runAtOnce(t, ops)
	for i := range n {
		name := fmt.Sprint("s", i)
		got := mustGetSecret(t, st, "ws", name)
		switch {
		case restoreErrs[i] == nil && errors.Is(createErrs[i], secrets.ErrAlreadyExists):
			if got.ID != ids[i] {
				t.Fatalf("%s: the restore won, the live secret has ID %d, want %d", name, got.ID, ids[i])
			}
			wantNoDeleted(t, st, "ws", fmt.Sprint("bin-ws-s", i), t0)
		case createErrs[i] == nil && errors.Is(restoreErrs[i], secrets.ErrAlreadyExists):
			if got.ID == ids[i] || got.Version != 1 {
				t.Fatalf("%s: the create won, the live secret has ID %d version %d", name, got.ID, got.Version)
			}
			_, _, err := st.GetDeleted(ctx, "ws", fmt.Sprint("bin-ws-s", i), t0)
			wantErr(t, name+": GetDeleted of the entry not restored", err, nil)
		default:
			t.Fatalf("%s: restore %v, create %v; want one nil and one ErrAlreadyExists", name, restoreErrs[i], createErrs[i])
		}
	}
	wantTotals(t, st, "after the race", totalCase{"ws", "", n})
}

// testBinRestoreTwiceRace restores each entry twice at once, under its old
// name and under a new one: exactly one restore succeeds, and the other
// finds no entry.
func testBinRestoreTwiceRace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	const n = 20
	binEntries(t, st, "ws", "s", n, func(int) time.Time { return t0.Add(retention) })
	errs := make([][2]error, n)
	var ops []func() error
	for i := range n {
		id := fmt.Sprint("bin-ws-s", i)
		_, stored, err := st.GetDeleted(ctx, "ws", id, t0)
		wantErr(t, "GetDeleted", err, nil)
		rename := secrets.BinRestore{Name: fmt.Sprint("new", i), Reseals: resealsFor(stored, fmt.Sprint("new", i)), UpdatedAt: t0, Now: t0}
		ops = append(ops, func() error {
			_, errs[i][0] = st.RestoreDeleted(ctx, "ws", id, secrets.BinRestore{UpdatedAt: t0, Now: t0})
			return nil
		}, func() error {
			_, errs[i][1] = st.RestoreDeleted(ctx, "ws", id, rename)
			return nil
		})
	}
	runAtOnce(t, ops)
	for i, e := range errs {
		old, renamed := fmt.Sprint("s", i), fmt.Sprint("new", i)
		_, errOld := st.GetSecret(ctx, "ws", old)
		_, errNew := st.GetSecret(ctx, "ws", renamed)
		switch {
		case e[0] == nil && errors.Is(e[1], secrets.ErrNotFound):
			wantErr(t, old+": restored under its name", errOld, nil)
			wantErr(t, old+": not under the new name", errNew, secrets.ErrNotFound)
		case e[1] == nil && errors.Is(e[0], secrets.ErrNotFound):
			wantErr(t, old+": restored under the new name", errNew, nil)
			wantErr(t, old+": not under its name", errOld, secrets.ErrNotFound)
		default:
			t.Fatalf("%s: restores %v and %v; want one nil and one ErrNotFound", old, e[0], e[1])
		}
	}
	wantTotals(t, st, "after the race", totalCase{"ws", "", n})
}

// testBinRestoreResealRace re-seals the versions of bin entries (a rotation)
// while they are restored, read before either write. Under a new name the
// restore re-seals the same versions, so exactly one of the two writes
// wins and the other gets ErrRevisionChanged, whichever commits first:
// neither overwrites the other. Under the old name the restore keeps the
// ciphertexts as they are, so both succeed and the rotation is kept.
func testBinRestoreResealRace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	const n = 20
	binEntries(t, st, "ws", "s", n, func(int) time.Time { return t0.Add(retention) })
	read := make([][]secrets.StoredVersion, n)
	var batch []secrets.Reseal // in ScanVersions order, as rotation writes
	for i := range n {
		_, stored, err := st.GetDeleted(ctx, "ws", fmt.Sprint("bin-ws-s", i), t0)
		wantErr(t, "GetDeleted", err, nil)
		read[i] = stored
		for _, v := range stored {
			batch = append(batch, reseal(v, sealed("k2", fmt.Sprint("rotated s", i, " v", v.Version))))
		}
	}
	var resealErrs []error
	restoreErrs := make([]error, n)
	ops := []func() error{func() (err error) { resealErrs, err = st.ResealVersions(ctx, batch); return err }}
	for i := range n {
		r := secrets.BinRestore{UpdatedAt: t0, Now: t0}
		if i%2 == 0 {
			r.Name = fmt.Sprint("new", i)
			r.Reseals = resealsFor(read[i], r.Name)
		}
		ops = append(ops, func() error {
			_, restoreErrs[i] = st.RestoreDeleted(ctx, "ws", fmt.Sprint("bin-ws-s", i), r)
			return nil
		})
	}
	runAtOnce(t, ops)

	for i := range n {
		rotation := batch[2*i : 2*i+2] // two versions each
		for _, e := range resealErrs[2*i : 2*i+2] {
			if e != nil && !errors.Is(e, secrets.ErrRevisionChanged) {
				t.Fatalf("s%d: re-seal outcome %v", i, e)
			}
		}
		rotated := resealErrs[2*i] == nil
		if (resealErrs[2*i] == nil) != (resealErrs[2*i+1] == nil) {
			t.Fatalf("s%d: re-seal outcomes %v and %v; a restore changes both versions or neither", i, resealErrs[2*i], resealErrs[2*i+1])
		}
		name, values := fmt.Sprint("s", i), rotation
		switch {
		case i%2 == 1: // old name: both apply
			wantErr(t, name+": restore", restoreErrs[i], nil)
			if !rotated {
				t.Fatalf("%s: the re-seal was refused by a restore that keeps the ciphertexts", name)
			}
		case rotated: // the rotation won, the entry stays in the bin
			wantErr(t, name+": restore after the re-seal", restoreErrs[i], secrets.ErrRevisionChanged)
			_, stored, err := st.GetDeleted(ctx, "ws", fmt.Sprint("bin-ws-s", i), t0)
			wantErr(t, name+": GetDeleted", err, nil)
			for k, v := range stored {
				same(t, name+": binned value", showSealed, v.Sealed, rotation[k].Sealed)
			}
			continue
		default: // the restore won
			wantErr(t, name+": restore", restoreErrs[i], nil)
			name, values = fmt.Sprint("new", i), resealsFor(read[i], fmt.Sprint("new", i))
		}
		for _, v := range values {
			wantVersion(t, st, "ws", name, v.Version, v.Sealed)
		}
	}
}
