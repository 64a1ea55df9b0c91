package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

var importTests = []test{
	{"ImportSecret", testImportSecret},
	{"ImportSecretBin", testImportSecretBin},
	{"ImportSecretNoWorkspace", testImportSecretNoWorkspace},
}

// imported returns a format 1 record as docs/import.md imports it, with
// timestamps in the past, finer than microseconds and not in UTC.
func imported(ws, name, seed string, at time.Time) secrets.Record {
	r := newRecord(ws, name, at)
	r.Sealed = sealed("legacy", seed)
	r.Sealed.Format = 1
	r.CreatedAt = at.Add(-48*time.Hour + 123*time.Nanosecond).In(time.FixedZone("X", -7200))
	r.UpdatedAt = at.Add(-24*time.Hour + 456*time.Nanosecond)
	r.CreatedBy, r.UpdatedBy = ptr("nmp-user"), ptr("nmp-editor")
	return r
}

func testImportSecret(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	importOK := func(r secrets.Record, replace bool, keep int, want bool) {
		t.Helper()
		stored, err := st.ImportSecret(ctx, r, replace, keep)
		if err != nil || stored != want {
			t.Fatalf("ImportSecret(%s, replace=%v, keep=%d) = %v, %v; want %v", r.Name, replace, keep, stored, err, want)
		}
	}

	first := imported("ws", "s", "first", now)
	first.ID, first.Revision, first.Version = 999, 7, 5 // ignored
	importOK(first, false, 10, true)
	got := mustGetSecret(t, st, "ws", "s")
	if got.ID <= 0 || got.ID == 999 {
		t.Fatalf("ID %d, want one the store assigned", got.ID)
	}
	want := storedRecord(first, got.ID)
	same(t, "imported record", showRecord, got, want)
	// Version 1 is the imported value, created when the record was.
	wantVersions(t, st, "ws", "s", []secrets.Version{{Number: 1, CreatedAt: utcMicros(first.CreatedAt), CreatedBy: first.CreatedBy}})

	// Skipped without replace: nothing changes.
	second := imported("ws", "s", "second", now.Add(time.Hour))
	second.Description, second.Sealed.Provider = ptr("second"), "other"
	importOK(second, false, 10, false)
	same(t, "record after a skipped import", showRecord, mustGetSecret(t, st, "ws", "s"), want)

	// Replaced: every imported field, a new revision and version, the same
	// id; the value replaced stays as version 1, and the new one is created
	// when the record was last updated.
	second.Description, second.CreatedBy, second.UpdatedBy = nil, nil, ptr("")
	importOK(second, true, 10, true)
	want = storedRecord(second, got.ID)
	want.Revision, want.Version = 2, 2
	same(t, "replaced record", showRecord, mustGetSecret(t, st, "ws", "s"), want)
	wantVersion(t, st, "ws", "s", 1, first.Sealed)
	wantVersions(t, st, "ws", "s", []secrets.Version{
		{Number: 2, CreatedAt: utcMicros(second.UpdatedAt), CreatedBy: second.UpdatedBy},
		{Number: 1, CreatedAt: utcMicros(first.CreatedAt), CreatedBy: first.CreatedBy},
	})

	// keep prunes as UpdateSecret does: keeping 2 of 3 erases version 1.
	third := imported("ws", "s", "third", now)
	third.Sealed.Format, third.Sealed.Provider = 2, ""
	importOK(third, true, 2, true)
	want = storedRecord(third, got.ID)
	want.Revision, want.Version = 3, 3
	same(t, "replaced again", showRecord, mustGetSecret(t, st, "ws", "s"), want)
	_, err := st.GetVersion(ctx, "ws", "s", 1)
	wantErr(t, "GetVersion 1 after keep 2", err, secrets.ErrVersionNotFound)
	wantVersion(t, st, "ws", "s", 2, second.Sealed)

	// replace on a new name creates it; another workspace's name is separate.
	mustCreateWorkspace(t, st, "other", now)
	fresh := imported("other", "s", "fresh", now)
	fresh.Description, fresh.CreatedBy, fresh.UpdatedBy = nil, nil, nil
	importOK(fresh, true, 1, true)
	rec := mustGetSecret(t, st, "other", "s")
	same(t, "created with replace", showRecord, rec, storedRecord(fresh, rec.ID))
	same(t, "first workspace untouched", showRecord, mustGetSecret(t, st, "ws", "s"), want)
}

// testImportSecretBin imports a name whose secret is in the recycle bin:
// the bin does not count, so the import creates a new secret, and the bin
// entry stays as it was.
func testImportSecretBin(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	binned := mustCreateSecret(t, st, "ws", "s", now)
	entry := mustBin(t, st, binned, "bin-1", now)
	for _, replace := range []bool{false, true} {
		t.Run(fmt.Sprint("replace ", replace), func(t *testing.T) {
			r := imported("ws", "s", fmt.Sprint("imported ", replace), now)
			stored, err := st.ImportSecret(ctx, r, replace, 10)
			if err != nil || !stored {
				t.Fatalf("ImportSecret = %v, %v; want true, nil", stored, err)
			}
			got := mustGetSecret(t, st, "ws", "s")
			if got.ID == binned.ID {
				t.Fatalf("the import took the binned secret's ID %d", got.ID)
			}
			same(t, "imported record", showRecord, got, storedRecord(r, got.ID))
			wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: now}, []secrets.Deleted{entry}, 1)
			wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "s", secrets.SecretDelete{}), nil)
		})
	}
}

func testImportSecretNoWorkspace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	for _, replace := range []bool{false, true} {
		stored, err := st.ImportSecret(ctx, imported("missing", "s", "x", secrets.Now()), replace, 10)
		wantErr(t, "ImportSecret in a missing workspace", err, secrets.ErrNoWorkspace)
		if stored {
			t.Fatal("ImportSecret reported stored with an error")
		}
	}
	wantScan(t, st, nil)
}
