package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

var valueTests = []test{
	{"Timestamps", testTimestamps},
	{"TimestampsOnUpdate", testTimestampsOnUpdate},
	{"TimestampsInBin", testTimestampsInBin},
	{"Blobs", testBlobs},
	{"Text", testText},
}

// timeCases are inputs and the instants a store must return for them: the
// same instant in UTC, truncated (not rounded) to the microsecond.
func timeCases() map[string][2]time.Time {
	india := time.FixedZone("UTC+05:30", 5*3600+1800)
	now := secrets.Now()
	return map[string][2]time.Time{
		"now in another zone": {now.In(india), now},
		"micros in another zone": {time.Date(2026, 5, 1, 18, 4, 56, 123456000, india),
			time.Date(2026, 5, 1, 12, 34, 56, 123456000, time.UTC)},
		"nanoseconds truncated": {time.Date(2026, 5, 1, 12, 34, 56, 999999999, time.UTC),
			time.Date(2026, 5, 1, 12, 34, 56, 999999000, time.UTC)},
		"before 1970": {time.Date(1969, 12, 31, 23, 59, 59, 1000, time.UTC),
			time.Date(1969, 12, 31, 23, 59, 59, 1000, time.UTC)},
		"one microsecond": {time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC),
			time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC)},
	}
}

func testTimestamps(t *testing.T, st secrets.Store) {
	i := 0
	for name, c := range timeCases() {
		t.Run(name, func(t *testing.T) {
			in, want := c[0], c[1]
			ws := fmt.Sprint("ws", i)
			i++
			w := newWorkspace(ws, in)
			if err := st.CreateWorkspace(ctx, w, ""); err != nil {
				t.Fatalf("CreateWorkspace: %v", err)
			}
			got, err := st.GetWorkspace(ctx, ws)
			wantErr(t, "GetWorkspace", err, nil)
			same(t, "workspace created_at", showTime, got.CreatedAt, want)
			rec := mustCreateSecret(t, st, ws, "s", in)
			same(t, "CreateSecret created_at", showTime, rec.CreatedAt, want)
			same(t, "GetSecret updated_at", showTime, mustGetSecret(t, st, ws, "s").UpdatedAt, want)
		})
	}
}

func testTimestampsOnUpdate(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	mustCreateSecret(t, st, "ws", "s", secrets.Now())
	for name, c := range timeCases() {
		t.Run(name, func(t *testing.T) {
			in, want := c[0], c[1]
			w, err := st.UpdateWorkspace(ctx, "ws", secrets.WorkspaceUpdate{UpdatedAt: in})
			wantErr(t, "UpdateWorkspace", err, nil)
			same(t, "UpdateWorkspace updated_at", showTime, w.UpdatedAt, want)
			v := sealed("k1", name)
			s, err := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{Sealed: &v, UpdatedAt: in, Keep: 10})
			wantErr(t, "UpdateSecret", err, nil)
			same(t, "UpdateSecret updated_at", showTime, s.UpdatedAt, want)
			same(t, "GetSecret updated_at", showTime, mustGetSecret(t, st, "ws", "s").UpdatedAt, want)
			vs, _, err := st.ListVersions(ctx, "ws", "s", secrets.VersionQuery{Limit: 1})
			wantErr(t, "ListVersions", err, nil)
			same(t, "the new version's created_at", showTime, vs[0].CreatedAt, want)
		})
	}
}

// testTimestampsInBin deletes secrets to the bin at each time case: the
// entry's deleted_at and purge_at come back as every other time does, and
// visibility compares instants, not zones.
func testTimestampsInBin(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	for name, c := range timeCases() {
		t.Run(name, func(t *testing.T) {
			in, want := c[0], c[1]
			purge := in.Add(time.Hour + 999*time.Nanosecond)
			mustCreateSecret(t, st, "ws", "s", secrets.Now())
			d := secrets.SecretDelete{BinID: "bin-" + name, DeletedAt: in, PurgeAt: purge}
			wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "s", d), nil)
			got, _, err := st.GetDeleted(ctx, "ws", d.BinID, in)
			wantErr(t, "GetDeleted", err, nil)
			same(t, "deleted_at", showTime, got.DeletedAt, want)
			same(t, "purge_at", showTime, got.PurgeAt, utcMicros(purge))
			if got.DeletedBy != nil {
				t.Fatalf("deleted_by %s, want <nil>", showStr(got.DeletedBy))
			}
			_, _, err = st.GetDeleted(ctx, "ws", d.BinID, utcMicros(purge).In(time.FixedZone("Y", -3*3600)))
			wantErr(t, "GetDeleted at purge_at in another zone", err, secrets.ErrNotFound)
			wantErr(t, "PurgeDeleted", st.PurgeDeleted(ctx, "ws", d.BinID, in), nil)
		})
	}
}

// blobCases are byte strings that must round-trip exactly.
func blobCases() map[string][]byte {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	large := bytes.Repeat([]byte("\x00\x01\xfe\xff coffer "), 8<<10) // 96 KiB
	return map[string][]byte{
		"zeros":        {0, 0, 0, 0},
		"every byte":   all,
		"nul at edges": []byte("\x00value\x00"),
		"invalid utf8": {0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1},
		"one byte":     {0},
		"empty":        {},
		"large":        large,
	}
}

func testBlobs(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	for name, b := range blobCases() {
		t.Run(name, func(t *testing.T) {
			r := newRecord("ws", strings.ReplaceAll(name, " ", "-"), secrets.Now())
			r.Sealed = envelope.Sealed{Ciphertext: b, WrappedDEK: reversed(b), Provider: "k1", Format: 2}
			got := mustCreateRecord(t, st, r)
			same(t, "CreateSecret sealed", showSealed, got.Sealed, r.Sealed)
			same(t, "GetSecret sealed", showSealed, mustGetSecret(t, st, "ws", r.Name).Sealed, r.Sealed)

			next := envelope.Sealed{Ciphertext: reversed(b), WrappedDEK: b, Provider: "k2", Format: 1}
			u := secrets.SecretUpdate{Sealed: &next, UpdatedAt: secrets.Now(), Keep: 10}
			_, err := st.UpdateSecret(ctx, "ws", r.Name, u)
			wantErr(t, "UpdateSecret", err, nil)
			same(t, "sealed after UpdateSecret", showSealed, mustGetSecret(t, st, "ws", r.Name).Sealed, next)
			wantVersion(t, st, "ws", r.Name, 1, r.Sealed)

			// The guard compares the bytes exactly, also for these.
			v2 := secrets.VersionKey{SecretID: got.ID, Version: 2}
			wantErr(t, "ResealVersions", resealKey(st, v2, next.Ciphertext, r.Sealed), nil)
			same(t, "sealed after ResealVersions", showSealed, mustGetSecret(t, st, "ws", r.Name).Sealed, r.Sealed)
			sv, err := st.GetStoredVersion(ctx, v2)
			wantErr(t, "GetStoredVersion", err, nil)
			same(t, "GetStoredVersion sealed", showSealed, sv.Sealed, r.Sealed)
			wantVersion(t, st, "ws", r.Name, 1, r.Sealed)
		})
	}
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[len(b)-1-i] = c
	}
	return out
}

func testText(t *testing.T, st secrets.Store) {
	texts := []string{
		"ünïcødé 🔐 秘密",
		`quotes ' " \ and ; DROP TABLE secrets; --`,
		"  leading and trailing spaces  ",
		"line\nbreaks\r\tand tabs",
		strings.Repeat("long ", 2000),
	}
	now := secrets.Now()
	for i, text := range texts {
		ws := fmt.Sprint("ws", i)
		w := newWorkspace(ws, now)
		w.Description, w.CreatedBy, w.UpdatedBy = ptr(text), ptr(text), ptr(text)
		if err := st.CreateWorkspace(ctx, w, ""); err != nil {
			t.Fatalf("CreateWorkspace: %v", err)
		}
		got, err := st.GetWorkspace(ctx, ws)
		wantErr(t, "GetWorkspace", err, nil)
		same(t, "workspace text", showWorkspace, got, storedWorkspace(w))
		r := newRecord(ws, "s", now)
		r.Description, r.CreatedBy, r.UpdatedBy = ptr(text), ptr(text), ptr(text)
		rec := mustCreateRecord(t, st, r)
		same(t, "CreateSecret text", showRecord, rec, storedRecord(r, rec.ID))
		same(t, "GetSecret text", showRecord, mustGetSecret(t, st, ws, "s"), rec)
	}
}
