package storetest

import (
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

var importTests = []test{
	{"ImportSecret", testImportSecret},
	{"ImportSecretNoWorkspace", testImportSecretNoWorkspace},
}

// imported returns a format 1 record as crypto.md §7 imports it, with
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
	importOK := func(r secrets.Record, replace, want bool) {
		t.Helper()
		stored, err := st.ImportSecret(ctx, r, replace)
		if err != nil || stored != want {
			t.Fatalf("ImportSecret(%s, replace=%v) = %v, %v; want %v", r.Name, replace, stored, err, want)
		}
	}

	first := imported("ws", "s", "first", now)
	first.ID, first.Revision = 999, 7 // ignored
	importOK(first, false, true)
	got := mustGetSecret(t, st, "ws", "s")
	if got.ID <= 0 || got.ID == 999 {
		t.Fatalf("ID %d, want one the store assigned", got.ID)
	}
	want := storedRecord(first, got.ID)
	same(t, "imported record", showRecord, got, want)

	// Skipped without replace: nothing changes.
	second := imported("ws", "s", "second", now.Add(time.Hour))
	second.Description, second.Sealed.Provider = ptr("second"), "other"
	importOK(second, false, false)
	same(t, "record after a skipped import", showRecord, mustGetSecret(t, st, "ws", "s"), want)

	// Replaced: every imported field, a new revision, the same id.
	second.Description, second.CreatedBy, second.UpdatedBy = nil, nil, ptr("")
	importOK(second, true, true)
	want = storedRecord(second, got.ID)
	want.Revision = 2
	same(t, "replaced record", showRecord, mustGetSecret(t, st, "ws", "s"), want)
	third := imported("ws", "s", "third", now)
	third.Sealed.Format, third.Sealed.Provider = 2, ""
	importOK(third, true, true)
	want = storedRecord(third, got.ID)
	want.Revision = 3
	same(t, "replaced again", showRecord, mustGetSecret(t, st, "ws", "s"), want)

	// replace on a new name creates it; another workspace's name is separate.
	mustCreateWorkspace(t, st, "other", now)
	fresh := imported("other", "s", "fresh", now)
	fresh.Description, fresh.CreatedBy, fresh.UpdatedBy = nil, nil, nil
	importOK(fresh, true, true)
	rec := mustGetSecret(t, st, "other", "s")
	same(t, "created with replace", showRecord, rec, storedRecord(fresh, rec.ID))
	same(t, "first workspace untouched", showRecord, mustGetSecret(t, st, "ws", "s"), want)
}

func testImportSecretNoWorkspace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	for _, replace := range []bool{false, true} {
		stored, err := st.ImportSecret(ctx, imported("missing", "s", "x", secrets.Now()), replace)
		wantErr(t, "ImportSecret in a missing workspace", err, secrets.ErrNoWorkspace)
		if stored {
			t.Fatal("ImportSecret reported stored with an error")
		}
	}
	if recs, err := st.ScanSecrets(ctx, 0, 10); err != nil || len(recs) != 0 {
		t.Fatalf("ScanSecrets = %d records, %v; want none", len(recs), err)
	}
}
