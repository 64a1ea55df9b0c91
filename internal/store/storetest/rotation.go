package storetest

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Rotation walks every stored version (ScanVersions), re-seals it and
// writes it back guarded by the ciphertext it read (ResealVersions); these
// tests hold the walk to exactly the versions that still have a ciphertext,
// live or in the recycle bin, and the write to never losing a change.
var rotationTests = []test{
	{"ScanVersions", testScanVersions},
	{"ScanVersionsPages", testScanVersionsPages},
	{"GetStoredVersion", testGetStoredVersion},
	{"ResealVersion", testResealVersion},
	{"ResealVersionStale", testResealVersionStale},
	{"ResealVersionUnrelatedChanges", testResealVersionUnrelatedChanges},
	{"ResealVersionGone", testResealVersionGone},
	{"ResealVersionsMixed", testResealVersionsMixed},
	{"ResealVersionsAllOrNothing", testResealVersionsAllOrNothing},
	{"ResealVersionsRacingUpdates", testResealVersionsRacingUpdates},
	{"ResealVersionsOverlapping", testResealVersionsOverlapping},
	{"CountSealed", testCountSealed},
}

// scanFixture creates seven secrets s0…s6 spread over three workspaces, in
// creation (and so ID) order, and gives them every state a version can be
// in; it returns the stored versions ScanVersions must return, in order,
// and the records as created.
//
//	s0: versions 1-3 stored
//	s1: version 1
//	s2: version 1 pruned (keep 1), version 2 stored
//	s3: erased (DeleteSecret without a bin id): nothing
//	s4: versions 1-2 in the recycle bin (Deleted)
//	s5: version 1 destroyed, version 2 stored
//	s6: version 1
func scanFixture(t *testing.T, st secrets.Store) ([]secrets.StoredVersion, []secrets.Record) {
	t.Helper()
	base := secrets.Now()
	wss := []string{"w1", "w2", "w3"}
	for _, ws := range wss {
		mustCreateWorkspace(t, st, ws, base)
	}
	var recs []secrets.Record
	for i := range 7 {
		// Later records get earlier timestamps: the scan order is by ID only.
		recs = append(recs, mustCreateSecret(t, st, wss[i%3], fmt.Sprint("s", i), base.Add(-time.Duration(i)*time.Second)))
	}
	var want []secrets.StoredVersion
	add := func(r secrets.Record, deleted bool) { want = append(want, storedVersion(r, deleted)) }
	next := func(r secrets.Record, keep int) secrets.Record {
		t.Helper()
		u, v := mustUpdateValue(t, st, r.Workspace, r.Name, fmt.Sprint(r.Name, " v", r.Version+1), base, keep)
		u.Sealed = v
		return u
	}

	add(recs[0], false)
	s0v2 := next(recs[0], 10)
	add(s0v2, false)
	add(next(s0v2, 10), false)
	add(recs[1], false)
	add(next(recs[2], 1), false)
	wantErr(t, "DeleteSecret s3", st.DeleteSecret(ctx, recs[3].Workspace, recs[3].Name, secrets.SecretDelete{}), nil)
	s4v2 := next(recs[4], 10)
	add(recs[4], true)
	add(s4v2, true)
	wantErr(t, "DeleteSecret s4 to the bin", st.DeleteSecret(ctx, recs[4].Workspace, recs[4].Name, binDelete("bin-s4", base, base.Add(time.Hour))), nil)
	add(next(recs[5], 10), false)
	wantErr(t, "DestroyVersion s5 v1", st.DestroyVersion(ctx, recs[5].Workspace, recs[5].Name, 1, secrets.Cond{}), nil)
	add(recs[6], false)
	return want, recs
}

func testScanVersions(t *testing.T, st secrets.Store) {
	all, recs := scanFixture(t, st)
	wantScan(t, st, all)
	// s4's versions are in the bin: a name the same as a live one does not
	// hide them, and the live one is scanned too.
	s4 := mustCreateSecret(t, st, recs[4].Workspace, recs[4].Name, secrets.Now())
	wantScan(t, st, append(all, storedVersion(s4, false)))
}

func testScanVersionsPages(t *testing.T, st secrets.Store) {
	all, recs := scanFixture(t, st)
	for _, limit := range []int{1, 2, 3, 4, len(all), 100} {
		var paged []secrets.StoredVersion
		var after secrets.VersionKey
		for pages := 0; ; pages++ {
			page, err := st.ScanVersions(ctx, after, limit)
			wantErr(t, "ScanVersions", err, nil)
			if len(page) > limit || pages > len(all) {
				t.Fatalf("limit %d: page %d after %+v has %d versions", limit, pages, after, len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			after = page[len(page)-1].VersionKey
		}
		sameList(t, fmt.Sprint("ScanVersions by pages of ", limit), showStored, paged, all)
	}

	// A key is after another when its secret is, or its version within the
	// same secret; a key need not name a stored version.
	s0, s2 := recs[0].ID, recs[2].ID
	for _, c := range []struct {
		after    secrets.VersionKey
		limit    int
		from, to int // all[from:to]
	}{
		{secrets.VersionKey{SecretID: s0, Version: 0}, 2, 0, 2},
		{secrets.VersionKey{SecretID: s0, Version: 1}, 2, 1, 3},
		{secrets.VersionKey{SecretID: s0, Version: 3}, 1, 3, 4},
		{secrets.VersionKey{SecretID: s0, Version: math.MaxInt64}, 1, 3, 4},
		{secrets.VersionKey{SecretID: s2, Version: 1}, 1, 4, 5}, // version 1 is pruned
		{secrets.VersionKey{SecretID: recs[3].ID, Version: 0}, 2, 5, 7},
		{secrets.VersionKey{SecretID: recs[6].ID, Version: 1}, 10, len(all), len(all)},
		{secrets.VersionKey{SecretID: math.MaxInt64, Version: math.MaxInt64}, 10, len(all), len(all)},
	} {
		got, err := st.ScanVersions(ctx, c.after, c.limit)
		wantErr(t, "ScanVersions", err, nil)
		sameList(t, fmt.Sprintf("ScanVersions after %+v limit %d", c.after, c.limit), showStored, got, all[c.from:c.to])
	}
}

func testGetStoredVersion(t *testing.T, st secrets.Store) {
	all, recs := scanFixture(t, st)
	for _, v := range all {
		got, err := st.GetStoredVersion(ctx, v.VersionKey)
		wantErr(t, fmt.Sprintf("GetStoredVersion(%+v)", v.VersionKey), err, nil)
		same(t, "GetStoredVersion", showStored, got, v)
	}
	for _, k := range []secrets.VersionKey{
		{SecretID: 0, Version: 0},
		{SecretID: recs[0].ID, Version: 0},
		{SecretID: recs[0].ID, Version: 4},                // after the current version
		{SecretID: recs[2].ID, Version: 1},                // pruned
		{SecretID: recs[3].ID, Version: 1},                // erased secret
		{SecretID: recs[5].ID, Version: 1},                // destroyed
		{SecretID: recs[6].ID + 1000, Version: 1},         // never existed
		{SecretID: math.MaxInt64, Version: math.MaxInt64}, // never existed
	} {
		_, err := st.GetStoredVersion(ctx, k)
		wantErr(t, fmt.Sprintf("GetStoredVersion(%+v)", k), err, secrets.ErrNotFound)
	}
}

func testResealVersion(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	orig := mustCreateSecret(t, st, "ws", "s", secrets.Now())
	next := sealed("k2", "resealed")
	wantErr(t, "ResealVersions", resealOne(st, orig, next), nil)
	// Only the sealed value changes: a re-seal is not a change a client
	// sees, so the revision (and the ETag) stays.
	want := orig
	want.Sealed = next
	same(t, "GetSecret after reseal", showRecord, mustGetSecret(t, st, "ws", "s"), want)
	wantScan(t, st, []secrets.StoredVersion{storedVersion(want, false)})
}

// testResealVersionStale re-seals with an Old that is not what the version
// holds: a value read before another re-seal, or never stored.
func testResealVersionStale(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	orig := mustCreateSecret(t, st, "ws", "s", secrets.Now())
	first := sealed("k2", "first rotation")
	wantErr(t, "ResealVersions", resealOne(st, orig, first), nil)
	current := mustGetSecret(t, st, "ws", "s")
	key := secrets.VersionKey{SecretID: orig.ID, Version: 1}
	for name, old := range map[string][]byte{
		"read before the other re-seal": orig.Sealed.Ciphertext,
		"the new value":                 sealed("k2", "lost").Ciphertext,
		"the wrapped DEK":               first.WrappedDEK,
		"a prefix of the ciphertext":    first.Ciphertext[:len(first.Ciphertext)-1],
	} {
		errs, err := st.ResealVersions(ctx, []secrets.Reseal{{VersionKey: key, Old: old, Sealed: sealed("k2", "lost")}})
		wantErr(t, name+": ResealVersions", err, nil)
		wantErr(t, name+": outcome", errs[0], secrets.ErrRevisionChanged)
	}
	same(t, "GetSecret after refused reseals", showRecord, mustGetSecret(t, st, "ws", "s"), current)
}

// testResealVersionUnrelatedChanges re-seals version 1 after PATCHes that
// did not touch its ciphertext (a description, a new version): the re-seal
// applies, and neither PATCH is lost.
func testResealVersionUnrelatedChanges(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	orig := mustCreateSecret(t, st, "ws", "s", now)
	_, err := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{Description: ptr("patched"), UpdatedAt: now, Keep: 10})
	wantErr(t, "UpdateSecret", err, nil)
	_, v2 := mustUpdateValue(t, st, "ws", "s", "v2", now, 10)
	before := mustGetSecret(t, st, "ws", "s")
	resealedV1 := sealed("k2", "s v1")
	wantErr(t, "ResealVersions of version 1", resealOne(st, orig, resealedV1), nil)
	same(t, "GetSecret after the reseal", showRecord, mustGetSecret(t, st, "ws", "s"), before)
	if before.Revision != 3 || before.Version != 2 || *before.Description != "patched" {
		t.Fatalf("revision %d version %d description %s, want 3, 2, \"patched\"", before.Revision, before.Version, showStr(before.Description))
	}
	wantVersion(t, st, "ws", "s", 1, resealedV1)
	wantVersion(t, st, "ws", "s", 2, v2)
}

// testResealVersionGone re-seals versions that have no ciphertext: the
// outcome is ErrNotFound and the version stays erased (a re-seal never
// brings a value back).
func testResealVersionGone(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	erased := mustCreateSecret(t, st, "ws", "erased", now)
	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "erased", secrets.SecretDelete{}), nil)
	pruned := mustCreateSecret(t, st, "ws", "pruned", now)
	mustUpdateValue(t, st, "ws", "pruned", "pruned v2", now, 1)
	destroyed := mustCreateSecret(t, st, "ws", "destroyed", now)
	mustUpdateValue(t, st, "ws", "destroyed", "destroyed v2", now, 10)
	wantErr(t, "DestroyVersion", st.DestroyVersion(ctx, "ws", "destroyed", 1, secrets.Cond{}), nil)
	before, err := st.ScanVersions(ctx, secrets.VersionKey{}, 100)
	wantErr(t, "ScanVersions", err, nil)

	for name, r := range map[string]secrets.Record{
		"erased secret":     erased,
		"pruned version":    pruned,
		"destroyed version": destroyed,
	} {
		wantErr(t, name, resealOne(st, r, sealed("k2", "x")), secrets.ErrNotFound)
	}
	for _, k := range []secrets.VersionKey{
		{SecretID: erased.ID + 1000, Version: 1}, {SecretID: 0, Version: 1},
		{SecretID: pruned.ID, Version: 0}, {SecretID: pruned.ID, Version: 3},
	} {
		errs, err := st.ResealVersions(ctx, []secrets.Reseal{{VersionKey: k, Old: erased.Sealed.Ciphertext, Sealed: sealed("k2", "x")}})
		wantErr(t, "ResealVersions", err, nil)
		wantErr(t, fmt.Sprintf("ResealVersions(%+v)", k), errs[0], secrets.ErrNotFound)
	}
	wantScan(t, st, before)
	for _, name := range []string{"pruned", "destroyed"} {
		_, err := st.GetVersion(ctx, "ws", name, 1)
		wantErr(t, name+": GetVersion 1", err, secrets.ErrVersionNotFound)
	}
}

// testCountSealed follows the counts per (provider, format) through every
// way a version is added, re-sealed, moved to the bin or erased.
func testCountSealed(t *testing.T, st secrets.Store) {
	n := func(provider string, format, current, kept, binned int) secrets.SealedCount {
		return secrets.SealedCount{Provider: provider, Format: format, Current: current, Kept: kept, Binned: binned}
	}
	check := func(what string, want ...secrets.SealedCount) {
		t.Helper()
		got, err := st.CountSealed(ctx)
		wantErr(t, "CountSealed", err, nil)
		if want == nil {
			want = []secrets.SealedCount{}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: CountSealed = %+v, want %+v", what, got, want)
		}
	}
	check("empty store")
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustCreateWorkspace(t, st, "tmp", now)
	var recs []secrets.Record
	for i, p := range []string{"", "k1", "k1", "vault"} {
		r := newRecord([]string{"ws", "tmp"}[i%2], fmt.Sprint("s", i), now) // s0, s2 in ws
		r.Sealed.Provider = p
		recs = append(recs, mustCreateRecord(t, st, r))
	}
	imported := newRecord("ws", "imported", now)
	imported.Sealed.Format = 1
	mustCreateRecord(t, st, imported)
	check("created", n("", 2, 1, 0, 0), n("k1", 1, 1, 0, 0), n("k1", 2, 2, 0, 0), n("vault", 2, 1, 0, 0))
	wantErr(t, "ResealVersions", resealOne(st, recs[0], sealed("k1", "x")), nil)
	check("re-sealed", n("k1", 1, 1, 0, 0), n("k1", 2, 3, 0, 0), n("vault", 2, 1, 0, 0))

	// Every stored version counts, older ones as kept; pruned and
	// destroyed ones do not count.
	vault := sealed("vault", "v")
	update := func(name string, keep int) {
		t.Helper()
		_, err := st.UpdateSecret(ctx, "ws", name, secrets.SecretUpdate{Sealed: &vault, UpdatedAt: now, Keep: keep})
		wantErr(t, "UpdateSecret", err, nil)
	}
	update("s2", 10)
	check("a second version", n("k1", 1, 1, 0, 0), n("k1", 2, 2, 1, 0), n("vault", 2, 2, 0, 0))
	update("s2", 1) // prunes versions 1 (k1) and 2 (vault)
	check("pruned", n("k1", 1, 1, 0, 0), n("k1", 2, 2, 0, 0), n("vault", 2, 2, 0, 0))
	mustCreateSecret(t, st, "ws", "s4", now) // k1
	update("s4", 10)
	update("s4", 10)
	check("more versions", n("k1", 1, 1, 0, 0), n("k1", 2, 2, 1, 0), n("vault", 2, 3, 1, 0))
	wantErr(t, "DestroyVersion", st.DestroyVersion(ctx, "ws", "s4", 1, secrets.Cond{}), nil)
	check("destroyed", n("k1", 1, 1, 0, 0), n("k1", 2, 2, 0, 0), n("vault", 2, 3, 1, 0))

	// The bin holds its versions, current and kept alike, until they are
	// purged.
	wantErr(t, "DeleteSecret to the bin", st.DeleteSecret(ctx, "ws", "s0", binDelete("bin-s0", now, now.Add(time.Hour))), nil)
	wantErr(t, "DeleteSecret to the bin", st.DeleteSecret(ctx, "ws", "s4", binDelete("bin-s4", now, now.Add(time.Hour))), nil)
	check("in the bin", n("k1", 1, 1, 0, 0), n("k1", 2, 1, 0, 1), n("vault", 2, 2, 0, 2))
	wantErr(t, "DeleteWorkspace", st.DeleteWorkspace(ctx, "tmp"), nil) // s1 (k1) and s3 (vault)
	check("workspace deleted", n("k1", 1, 1, 0, 0), n("k1", 2, 0, 0, 1), n("vault", 2, 1, 0, 2))
	wantErr(t, "PurgeDeleted", st.PurgeDeleted(ctx, "ws", "bin-s0", now), nil)
	check("purged", n("k1", 1, 1, 0, 0), n("vault", 2, 1, 0, 2))
	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "s2", secrets.SecretDelete{}), nil)
	check("erased", n("k1", 1, 1, 0, 0), n("vault", 2, 0, 0, 2))
}
