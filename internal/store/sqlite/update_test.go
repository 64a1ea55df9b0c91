package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// TestUpdateFromStaleRead: UpdateSecret's write starts from a row read
// before it on the reader pool. When another write changed the secret in
// between, the write must not trust that read: it reads again, returns the
// secret as it now is, and judges If-Match by the current ETag, not the one
// read (which would let a write through against a state the client never
// saw).
func TestUpdateFromStaleRead(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")
	created, err := st.CreateSecret(ctx, secret("ws", "s", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	stale, ok := st.peekLive(ctx, "ws", "s")
	if !ok {
		t.Fatal("peekLive found no secret")
	}
	desc := "changed in between"
	v2 := value("v2")
	if _, err := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{Description: &desc, Sealed: &v2, UpdatedAt: secrets.Now(), Keep: 10}); err != nil {
		t.Fatal(err)
	}
	staleTag := secrets.ParseIfMatch([]string{secrets.ETag(created.ID, created.Revision)})
	update := func(u secrets.SecretUpdate) (secrets.Record, error) {
		var rec secrets.Record
		err := st.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var err error
			rec, err = st.updateFrom(ctx, tx, stale, true, "ws", "s", u)
			return err
		})
		return rec, err
	}

	v3 := value("v3")
	_, err = update(secrets.SecretUpdate{Sealed: &v3, UpdatedAt: secrets.Now(), Keep: 10, Cond: staleTag})
	if !errors.Is(err, secrets.ErrPreconditionFailed) {
		t.Fatalf("update If-Match the ETag read before a change: %v, want ErrPreconditionFailed", err)
	}
	rec, err := update(secrets.SecretUpdate{Sealed: &v3, UpdatedAt: secrets.Now(), Keep: 10})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Revision != 3 || rec.Version != 3 || rec.Description == nil || *rec.Description != desc {
		t.Errorf("update from a stale read returned revision %d, version %d, description %v; want 3, 3, %q",
			rec.Revision, rec.Version, rec.Description, desc)
	}
	got, err := st.GetVersion(ctx, "ws", "s", 3)
	if err != nil || string(got.Sealed.Ciphertext) != "v3" || got.Revision != 3 {
		t.Errorf("GetVersion 3 = %q, revision %d, %v; want v3 at revision 3", got.Sealed.Ciphertext, got.Revision, err)
	}
}
