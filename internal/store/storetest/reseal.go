package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// resealOne re-seals r's version r.Version, read as r.Sealed, with s in a
// batch of one and returns its outcome, or the error of the whole call.
func resealOne(st secrets.Store, r secrets.Record, s envelope.Sealed) error {
	return resealKey(st, secrets.VersionKey{SecretID: r.ID, Version: r.Version}, r.Sealed.Ciphertext, s)
}

// resealKey re-seals one version guarded by old in a batch of one.
func resealKey(st secrets.Store, k secrets.VersionKey, old []byte, s envelope.Sealed) error {
	errs, err := st.ResealVersions(ctx, []secrets.Reseal{{VersionKey: k, Old: old, Sealed: s}})
	if err != nil {
		return fmt.Errorf("whole call failed: %w", err)
	}
	if len(errs) != 1 {
		return fmt.Errorf("%d outcomes for one version", len(errs))
	}
	return errs[0]
}

// reseal is the Reseal of sv with s, guarded by what sv holds.
func reseal(sv secrets.StoredVersion, s envelope.Sealed) secrets.Reseal {
	return secrets.Reseal{VersionKey: sv.VersionKey, Old: sv.Sealed.Ciphertext, Sealed: s}
}

// mustCreateSecrets creates n secrets s0… in ws and returns them.
func mustCreateSecrets(t *testing.T, st secrets.Store, ws string, n int) []secrets.Record {
	t.Helper()
	recs := make([]secrets.Record, n)
	for i := range recs {
		recs[i] = mustCreateSecret(t, st, ws, fmt.Sprint("s", i), secrets.Now())
	}
	return recs
}

// testResealVersionsMixed re-seals one batch in which versions succeed,
// have another ciphertext (re-sealed since they were read) or are gone, in
// any order; versions in the recycle bin are re-sealed like live ones.
func testResealVersionsMixed(t *testing.T, st secrets.Store) {
	all, recs := scanFixture(t, st) // see scanFixture for the states
	before := map[secrets.VersionKey]secrets.StoredVersion{}
	for _, v := range all {
		before[v.VersionKey] = v
	}
	at := func(i int, v int64) secrets.StoredVersion { // the stored version v of s<i>
		t.Helper()
		sv, ok := before[secrets.VersionKey{SecretID: recs[i].ID, Version: v}]
		if !ok {
			t.Fatalf("s%d version %d is not stored", i, v)
		}
		return sv
	}
	// s1 was re-sealed by someone else since it was "read".
	wantErr(t, "ResealVersions of s1", resealOne(st, recs[1], sealed("k3", "other rotation")), nil)
	s1 := at(1, 1)
	s1.Sealed = sealed("k3", "other rotation")

	gone := func(id, v int64, old []byte) secrets.Reseal {
		return secrets.Reseal{VersionKey: secrets.VersionKey{SecretID: id, Version: v}, Old: old, Sealed: sealed("k2", "gone")}
	}
	live := map[string]secrets.Record{}
	for _, i := range []int{0, 1, 2, 5, 6} {
		live[recs[i].Name] = mustGetSecret(t, st, recs[i].Workspace, recs[i].Name)
	}

	batch := []secrets.Reseal{
		reseal(at(0, 2), sealed("k2", "s0 v2")),
		reseal(at(1, 1), sealed("k2", "lost")),                                                                  // stale
		gone(recs[3].ID, 1, recs[3].Sealed.Ciphertext),                                                          // erased secret
		reseal(at(4, 1), sealed("k2", "s4 v1 in bin")),                                                          // in the recycle bin
		gone(recs[5].ID, 1, recs[5].Sealed.Ciphertext),                                                          // destroyed version
		reseal(at(0, 3), sealed("k2", "s0 v3")),                                                                 // same secret, other version
		gone(recs[6].ID+1000, 1, recs[6].Sealed.Ciphertext),                                                     // never existed
		{VersionKey: at(6, 1).VersionKey, Old: sealed("k1", "not it").Ciphertext, Sealed: sealed("k2", "lost")}, // stale
		reseal(at(2, 2), sealed("k2", "s2 v2")),
	}
	errs, err := st.ResealVersions(ctx, batch)
	wantErr(t, "ResealVersions", err, nil)
	want := []error{nil, secrets.ErrRevisionChanged, secrets.ErrNotFound, nil, secrets.ErrNotFound, nil,
		secrets.ErrNotFound, secrets.ErrRevisionChanged, nil}
	if len(errs) != len(want) {
		t.Fatalf("%d outcomes for %d versions", len(errs), len(want))
	}
	for i, w := range want {
		wantErr(t, fmt.Sprint("outcome ", i), errs[i], w)
	}
	after := slices.Clone(all)
	for i, v := range after {
		switch {
		case v.VersionKey == s1.VersionKey:
			after[i] = s1
		default:
			for j, r := range batch {
				if r.VersionKey == v.VersionKey && errs[j] == nil {
					after[i].Sealed = r.Sealed
				}
			}
		}
	}
	wantScan(t, st, after)
	// Nothing but the sealed values changed: no revision, no timestamp.
	for name, r := range live {
		same(t, name+" after the batch", showRecord, unsealed(mustGetSecret(t, st, r.Workspace, name)), unsealed(r))
	}

	errs, err = st.ResealVersions(ctx, nil)
	if err != nil || len(errs) != 0 {
		t.Fatalf("empty batch: %v, %v; want no outcomes", errs, err)
	}
}

// testResealVersionsAllOrNothing fails a batch on its last version (a
// format the schema refuses) and on a repeated key: either leaves every
// version of the batch as it was.
func testResealVersionsAllOrNothing(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	recs := mustCreateSecrets(t, st, "ws", 3)
	r0v2, v2 := mustUpdateValue(t, st, "ws", "s0", "s0 v2", secrets.Now(), 10)
	r0v2.Sealed = v2
	before, err := st.ScanVersions(ctx, secrets.VersionKey{}, 100)
	wantErr(t, "ScanVersions", err, nil)
	bad := sealed("k2", "bad")
	bad.Format = 3
	rs := func(r secrets.Record, s envelope.Sealed) secrets.Reseal { return reseal(storedVersion(r, false), s) }
	for name, last := range map[string]secrets.Reseal{
		"invalid format": rs(recs[2], bad),
		"repeated key":   rs(recs[0], sealed("k2", "again")),
	} {
		batch := []secrets.Reseal{
			rs(recs[0], sealed("k2", "s0")),
			rs(r0v2, sealed("k2", "s0 v2")), // the same secret's other version is no repeat
			rs(recs[1], sealed("k2", "s1")),
			last,
		}
		errs, err := st.ResealVersions(ctx, batch)
		if err == nil || errs != nil {
			t.Fatalf("%s: outcomes %v, error %v; want the whole call to fail", name, errs, err)
		}
		wantScan(t, st, before)
	}
}

// testResealVersionsRacingUpdates re-seals version 1 of secrets read
// before concurrent PATCHes of their values. A PATCH adds a version and
// leaves version 1 alone, so the re-seal applies and the PATCH is not lost;
// a PATCH that prunes version 1 (keep 1) either comes after the re-seal or
// makes it ErrNotFound, and version 1 ends up erased either way (a re-seal
// never brings a pruned value back).
func testResealVersionsRacingUpdates(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	recs := mustCreateSecrets(t, st, "ws", 42)
	batch := make([]secrets.Reseal, len(recs))
	for i, r := range recs {
		batch[i] = reseal(storedVersion(r, false), sealed("k2", r.Name))
	}
	var errs []error
	ops := []func() error{func() (err error) { errs, err = st.ResealVersions(ctx, batch); return err }}
	for i, r := range recs {
		if i%3 == 0 { // not patched
			continue
		}
		keep := 10
		if i%3 == 2 {
			keep = 1
		}
		ops = append(ops, func() error {
			v := sealed("k1", "patched "+r.Name)
			_, err := st.UpdateSecret(ctx, "ws", r.Name, secrets.SecretUpdate{Sealed: &v, UpdatedAt: secrets.Now(), Keep: keep})
			return err
		})
	}
	runAtOnce(t, ops)
	for i, r := range recs {
		got := mustGetSecret(t, st, "ws", r.Name)
		wantCurrent, wantVersion, wantRevision := batch[i].Sealed, int64(1), int64(1)
		if i%3 != 0 {
			wantCurrent, wantVersion, wantRevision = sealed("k1", "patched "+r.Name), 2, 2
		}
		if showSealed(got.Sealed) != showSealed(wantCurrent) || got.Version != wantVersion || got.Revision != wantRevision {
			t.Fatalf("%s: current %s version %d revision %d, want %s version %d revision %d", r.Name,
				showSealed(got.Sealed), got.Version, got.Revision, showSealed(wantCurrent), wantVersion, wantRevision)
		}
		v1, err := st.GetVersion(ctx, "ws", r.Name, 1)
		switch i % 3 {
		case 0, 1:
			wantErr(t, r.Name+": outcome", errs[i], nil)
			wantErr(t, r.Name+": GetVersion 1", err, nil)
			same(t, r.Name+": version 1", showSealed, v1.Sealed, batch[i].Sealed)
		case 2:
			if errs[i] != nil && !errors.Is(errs[i], secrets.ErrNotFound) {
				t.Fatalf("%s: outcome %v, want nil or ErrNotFound", r.Name, errs[i])
			}
			wantErr(t, r.Name+": GetVersion 1 (pruned)", err, secrets.ErrVersionNotFound)
		}
	}
}

// testResealVersionsOverlapping runs two batches over the same versions in
// opposite orders at once, as two rotations started together would: both
// calls succeed, and each version is re-sealed by exactly one of them.
func testResealVersionsOverlapping(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	for _, r := range mustCreateSecrets(t, st, "ws", 100) {
		mustUpdateValue(t, st, "ws", r.Name, r.Name+" v2", secrets.Now(), 10)
	}
	for round := range 10 {
		read, err := st.ScanVersions(ctx, secrets.VersionKey{}, 1000)
		wantErr(t, "ScanVersions", err, nil)
		if len(read) != 200 {
			t.Fatalf("round %d: %d stored versions, want 200", round, len(read))
		}
		// Each round's values differ from the last: a re-seal to the bytes a
		// version already holds would not be a change either batch could see.
		batches := make([][]secrets.Reseal, 2)
		for _, v := range read {
			for k, p := range []string{"a", "b"} {
				batches[k] = append(batches[k], reseal(v, sealed(p, fmt.Sprint(v.Name, v.Version, " round ", round))))
			}
		}
		slices.Reverse(batches[1])
		outcomes := make([][]error, 2)
		var wg sync.WaitGroup
		var callErrs [2]error
		for k := range batches {
			wg.Go(func() { outcomes[k], callErrs[k] = st.ResealVersions(ctx, batches[k]) })
		}
		wg.Wait()
		if err := errors.Join(callErrs[:]...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		slices.Reverse(outcomes[1])
		slices.Reverse(batches[1])
		for i, v := range read {
			a, b := outcomes[0][i], outcomes[1][i]
			if (a == nil) == (b == nil) || !errors.Is(a, secrets.ErrRevisionChanged) && !errors.Is(b, secrets.ErrRevisionChanged) {
				t.Fatalf("round %d, %+v: outcomes %v and %v; want one nil and one ErrRevisionChanged", round, v.VersionKey, a, b)
			}
			winner := batches[0][i]
			if b == nil {
				winner = batches[1][i]
			}
			got, err := st.GetStoredVersion(ctx, v.VersionKey)
			wantErr(t, "GetStoredVersion", err, nil)
			same(t, fmt.Sprintf("round %d, %+v", round, v.VersionKey), showSealed, got.Sealed, winner.Sealed)
		}
	}
}
