package sqlite

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// TestErasedValuesLeaveTheFile: every way a value is erased (a destroyed
// version, a version pruned by Keep, a hard delete, a purge from the bin, an
// expired bin entry, a version 1 made by migration 4 and destroyed) must
// remove its ciphertext and wrapped DEK from the database file and the WAL,
// not only unlink them (docs/lifecycle.md, erasure).
// Values are random, so finding one is never chance; half are larger than a
// page, so overflow pages are covered as well as b-tree cells. A kept value
// shows that the search finds what is there.
func TestErasedValuesLeaveTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	migrated := eraseValue(300)
	migratedTo(t, path, 3, `INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('w', 'ws', 0, 0);
		INSERT INTO secrets (workspace, name, ciphertext, wrapped_dek, provider, format_version, created_at, updated_at, revision)
		VALUES ('ws', 'migrated', x'`+hexOf(migrated.Ciphertext)+`', x'`+hexOf(migrated.WrappedDEK)+`', 'k1', 2, 1, 1, 1)`)
	st, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	t0 := secrets.Now()
	erased, kept := map[string]envelope.Sealed{"migrated v1": migrated}, map[string]envelope.Sealed{}
	create := func(name string, size int) envelope.Sealed {
		t.Helper()
		r := secrets.Record{Secret: secrets.Secret{Workspace: "ws", Name: name, CreatedAt: t0, UpdatedAt: t0}, Sealed: eraseValue(size)}
		if _, err := st.CreateSecret(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.Sealed
	}
	update := func(name string, keep, size int) envelope.Sealed {
		t.Helper()
		v := eraseValue(size)
		if _, err := st.UpdateSecret(ctx, "ws", name, secrets.SecretUpdate{Sealed: &v, UpdatedAt: t0, Keep: keep}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for size, suffix := range map[int]string{200: " small", 9000: " large"} {
		sz := func(name string) string { return name + suffix }

		erased[sz("destroyed")] = create(sz("destroyed"), size)
		kept[sz("destroyed v2")] = update(sz("destroyed"), 10, size)
		must("DestroyVersion", st.DestroyVersion(ctx, "ws", sz("destroyed"), 1, secrets.Cond{}))

		erased[sz("pruned")] = create(sz("pruned"), size)
		kept[sz("pruned v2")] = update(sz("pruned"), 1, size)

		erased[sz("deleted")] = create(sz("deleted"), size)
		must("DeleteSecret", st.DeleteSecret(ctx, "ws", sz("deleted"), secrets.SecretDelete{}))

		erased[sz("purged")] = create(sz("purged"), size)
		must("DeleteSecret to the bin", st.DeleteSecret(ctx, "ws", sz("purged"), binned(sz("bin purged"), t0.Add(time.Hour))))
		must("PurgeDeleted", st.PurgeDeleted(ctx, "ws", sz("bin purged"), t0))

		erased[sz("expired")] = create(sz("expired"), size)
		must("DeleteSecret to the bin", st.DeleteSecret(ctx, "ws", sz("expired"), binned(sz("bin expired"), t0)))

		kept[sz("binned")] = create(sz("binned"), size)
		must("DeleteSecret to the bin", st.DeleteSecret(ctx, "ws", sz("binned"), binned(sz("bin kept"), t0.Add(time.Hour))))
	}
	if n, err := st.PurgeExpired(ctx, t0.Add(time.Minute), 10); err != nil || n != 2 {
		t.Fatalf("PurgeExpired = %d, %v; want the 2 expired entries", n, err)
	}
	kept["migrated v2"] = update("migrated", 10, 300)
	must("DestroyVersion of the migrated version", st.DestroyVersion(ctx, "ws", "migrated", 1, secrets.Cond{}))

	must("Checkpoint", st.Checkpoint(ctx))
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() != 0 {
		t.Fatalf("WAL after Checkpoint: %v, %v; want an empty file", fi, err)
	}
	checkErased(t, "open, after Checkpoint", path, erased, kept)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("a WAL is left after Close: %v", err)
	}
	checkErased(t, "closed", path, erased, kept)
}

// checkErased fails if any piece of an erased value is in the database or
// its WAL, or if no piece of a kept value is found there.
func checkErased(t *testing.T, when, path string, erased, kept map[string]envelope.Sealed) {
	t.Helper()
	var files []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	for name, v := range erased {
		for _, part := range [][]byte{v.Ciphertext, v.WrappedDEK} {
			if n := piecesIn(files, part); n > 0 {
				t.Errorf("%s: %d pieces of the erased %s are still in the files", when, n, name)
			}
		}
	}
	for name, v := range kept {
		if piecesIn(files, v.Ciphertext) == 0 {
			t.Errorf("%s: the kept %s is not found: the search is broken", when, name)
		}
	}
}

// piecesIn counts the 32-byte pieces of v found in b. A value larger than a
// page is split over overflow pages, so it is never found whole.
func piecesIn(b, v []byte) int {
	n := 0
	for i := 0; i+32 <= len(v); i += 32 {
		if bytes.Contains(b, v[i:i+32]) {
			n++
		}
	}
	return n
}

// eraseValue is a random sealed value with a ciphertext of size bytes.
func eraseValue(size int) envelope.Sealed {
	return envelope.Sealed{Ciphertext: randomBytes(size), WrappedDEK: randomBytes(64), Provider: "k1", Format: 2}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func hexOf(b []byte) string { return fmt.Sprintf("%x", b) }

// binned moves a secret to the bin under id, to be purged at purgeAt.
func binned(id string, purgeAt time.Time) secrets.SecretDelete {
	return secrets.SecretDelete{BinID: id, DeletedAt: purgeAt.Add(-time.Hour), PurgeAt: purgeAt}
}
