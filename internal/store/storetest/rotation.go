package storetest

import (
	"fmt"
	"maps"
	"math"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

var rotationTests = []test{
	{"ScanSecrets", testScanSecrets},
	{"ResealSecret", testResealSecret},
	{"ResealSecretStale", testResealSecretStale},
	{"ResealSecretDeleted", testResealSecretDeleted},
	{"ResealSecretsMixed", testResealSecretsMixed},
	{"ResealSecretsAllOrNothing", testResealSecretsAllOrNothing},
	{"ResealSecretsRacingUpdates", testResealSecretsRacingUpdates},
	{"ResealSecretsOverlapping", testResealSecretsOverlapping},
	{"GetSecretByID", testGetSecretByID},
	{"CountByProvider", testCountByProvider},
}

// scanFixture creates seven secrets spread over three workspaces, in
// creation (and so ID) order, deletes one and returns the rest.
func scanFixture(t *testing.T, st secrets.Store) []secrets.Record {
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
	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, recs[3].Workspace, recs[3].Name), nil)
	return append(recs[:3], recs[4:]...)
}

func testScanSecrets(t *testing.T, st secrets.Store) {
	all := scanFixture(t, st)
	got, err := st.ScanSecrets(ctx, 0, 100)
	wantErr(t, "ScanSecrets", err, nil)
	sameList(t, "ScanSecrets(0, 100)", showRecord, got, all)

	var paged []secrets.Record
	var after int64
	for pages := 0; ; pages++ {
		page, err := st.ScanSecrets(ctx, after, 4)
		wantErr(t, "ScanSecrets", err, nil)
		if len(page) > 4 || pages > len(all) {
			t.Fatalf("page %d after ID %d has %d records, limit 4", pages, after, len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	sameList(t, "ScanSecrets by pages of 4", showRecord, paged, all)

	got, err = st.ScanSecrets(ctx, all[1].ID, 2)
	wantErr(t, "ScanSecrets", err, nil)
	sameList(t, "ScanSecrets after the second ID", showRecord, got, all[2:4])
	got, err = st.ScanSecrets(ctx, math.MaxInt64, 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("ScanSecrets after the last ID: %d records, err %v; want none", len(got), err)
	}
}

func testResealSecret(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	orig := mustCreateSecret(t, st, "ws", "s", secrets.Now())
	next := sealed("k2", "resealed")
	wantErr(t, "ResealSecrets", resealOne(st, orig.ID, orig.Revision, next), nil)
	want := orig
	want.Sealed, want.Revision = next, orig.Revision+1
	same(t, "GetSecret after reseal", showRecord, mustGetSecret(t, st, "ws", "s"), want)
}

func testResealSecretStale(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	orig := mustCreateSecret(t, st, "ws", "s", now)
	// A PATCH between the rotation's read and its write bumps the revision.
	_, err := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{Description: ptr("patched"), UpdatedAt: now})
	wantErr(t, "UpdateSecret", err, nil)
	current := mustGetSecret(t, st, "ws", "s")
	for _, rev := range []int64{orig.Revision, current.Revision + 1} {
		err := resealOne(st, orig.ID, rev, sealed("k2", "lost"))
		wantErr(t, fmt.Sprint("ResealSecrets with revision ", rev), err, secrets.ErrRevisionChanged)
	}
	same(t, "GetSecret after refused reseals", showRecord, mustGetSecret(t, st, "ws", "s"), current)
}

func testResealSecretDeleted(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	orig := mustCreateSecret(t, st, "ws", "s", secrets.Now())
	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "s"), nil)
	for _, id := range []int64{orig.ID, orig.ID + 1000, 0} {
		err := resealOne(st, id, orig.Revision, sealed("k2", "x"))
		wantErr(t, fmt.Sprint("ResealSecrets of missing ID ", id), err, secrets.ErrNotFound)
	}
}

func testGetSecretByID(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	a := mustCreateSecret(t, st, "ws", "a", secrets.Now())
	b := mustCreateSecret(t, st, "ws", "b", secrets.Now())
	for _, r := range []secrets.Record{a, b} {
		got, err := st.GetSecretByID(ctx, r.ID)
		wantErr(t, "GetSecretByID", err, nil)
		same(t, "GetSecretByID", showRecord, got, r)
	}
	for _, id := range []int64{0, -1, b.ID + 1, math.MaxInt64} {
		_, err := st.GetSecretByID(ctx, id)
		wantErr(t, fmt.Sprint("GetSecretByID ", id), err, secrets.ErrNotFound)
	}
}

func testCountByProvider(t *testing.T, st secrets.Store) {
	check := func(want map[string]int) {
		t.Helper()
		got, err := st.CountByProvider(ctx)
		wantErr(t, "CountByProvider", err, nil)
		if !maps.Equal(got, want) {
			t.Fatalf("CountByProvider = %v, want %v", got, want)
		}
	}
	check(map[string]int{})
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustCreateWorkspace(t, st, "tmp", now)
	var recs []secrets.Record
	for i, p := range []string{"", "k1", "k1", "vault"} {
		r := newRecord([]string{"ws", "tmp"}[i%2], fmt.Sprint("s", i), now)
		r.Sealed.Provider = p
		recs = append(recs, mustCreateRecord(t, st, r))
	}
	check(map[string]int{"": 1, "k1": 2, "vault": 1})
	wantErr(t, "ResealSecrets", resealOne(st, recs[0].ID, 1, sealed("k1", "x")), nil)
	check(map[string]int{"k1": 3, "vault": 1})
	wantErr(t, "DeleteWorkspace", st.DeleteWorkspace(ctx, "tmp"), nil) // s1 (k1) and s3 (vault)
	check(map[string]int{"k1": 2})
}
