package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
)

// TestMigrationMovesValuesToVersions upgrades a version 3 schema holding
// secrets in several workspaces, whose newest secret was deleted: migration
// 4 must keep every id, revision, timestamp and author, make each sealed
// value version 1 unchanged (created when and by whom it was last written),
// keep the live counts, drop the value columns from secrets, and never hand
// out an old id again (an ETag hashes the id).
func TestMigrationMovesValuesToVersions(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	// Values differ per secret and contain 0x00; providers, formats,
	// descriptions and authors vary; timestamps have microseconds.
	migratedTo(t, dsn, 3, `INSERT INTO workspaces (id, name, created_at, updated_at)
			VALUES ('1', 'a', now(), now()), ('2', 'b', now(), now()), ('3', 'empty', now(), now());
		INSERT INTO secrets (workspace, name, description, ciphertext, wrapped_dek, provider, format_version,
				created_at, updated_at, created_by, updated_by, revision)
			SELECT (ARRAY['a', 'b', 'a'])[i % 3 + 1], 's' || i,
				CASE WHEN i % 2 = 0 THEN 'about ' || i END,
				'\x0200'::bytea || sha256(i::text::bytea), '\x00'::bytea || md5(i::text)::bytea,
				(ARRAY['k1', '', 'vault'])[i % 3 + 1], 1 + i % 2,
				timestamptz '2025-01-02 03:04:05.123456+00' + i * interval '1 hour',
				timestamptz '2025-06-07 08:09:10.654321+00' + i * interval '1 minute',
				CASE WHEN i % 2 = 0 THEN 'alice' END, CASE WHEN i % 2 = 0 THEN 'bob' END, 1 + i % 4
			FROM generate_series(0, 11) AS i ORDER BY i;
		INSERT INTO secrets (workspace, name, ciphertext, wrapped_dek, provider, format_version,
				created_at, updated_at, revision)
			VALUES ('b', 'gone', '\x00', '\x00', 'k1', 2, now(), now(), 1);
		DELETE FROM secrets WHERE name = 'gone'`)
	before := oldRecords(t, dsn)
	if len(before) != 12 {
		t.Fatalf("fixture holds %d secrets, want 12", len(before))
	}

	st := openDSN(t, dsn)
	var maxID int64
	for _, old := range before {
		maxID = max(maxID, old.ID)
		want := old
		want.Version = 1
		for what, get := range map[string]func() (secrets.Record, error){
			"GetSecret":    func() (secrets.Record, error) { return st.GetSecret(ctx, old.Workspace, old.Name) },
			"GetVersion 1": func() (secrets.Record, error) { return st.GetVersion(ctx, old.Workspace, old.Name, 1) },
		} {
			got, err := get()
			if err != nil || showMigrated(got) != showMigrated(want) {
				t.Errorf("%s(%s/%s) after the migration:\n got  %s, %v\n want %s", what, old.Workspace, old.Name,
					showMigrated(got), err, showMigrated(want))
			}
		}
		vs, total, err := st.ListVersions(ctx, old.Workspace, old.Name, secrets.VersionQuery{Limit: 10})
		if err != nil || total != 1 || len(vs) != 1 || vs[0].Number != 1 || vs[0].Destroyed ||
			!vs[0].CreatedAt.Equal(old.UpdatedAt) || showPtr(vs[0].CreatedBy) != showPtr(old.UpdatedBy) {
			t.Errorf("ListVersions(%s/%s) = %+v, %d, %v; want version 1 created at the last update, by its author",
				old.Workspace, old.Name, vs, total, err)
		}
	}
	for ws, want := range map[string]int{"a": 8, "b": 4, "empty": 0} {
		if _, total, err := st.ListSecrets(ctx, ws, secrets.SecretQuery{Limit: 1}); err != nil || total != want {
			t.Errorf("ListSecrets(%s) total = %d, %v; want %d", ws, total, err, want)
		}
	}
	var valueCols int
	err := st.pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()
		AND table_name = 'secrets' AND column_name IN ('ciphertext', 'wrapped_dek', 'provider', 'format_version')`).Scan(&valueCols)
	if err != nil || valueCols != 0 {
		t.Errorf("secrets keeps %d value columns (%v), want 0", valueCols, err)
	}

	created, err := st.CreateSecret(ctx, secrets.Record{Secret: secrets.Secret{Workspace: "b", Name: "new",
		CreatedAt: secrets.Now(), UpdatedAt: secrets.Now()}, Sealed: benchSealed(1)})
	if err != nil || created.ID <= maxID+1 {
		t.Fatalf("CreateSecret after the migration: id %d, %v; want one after %d, the deleted newest secret", created.ID, err, maxID+1)
	}
	if _, total, err := st.ListSecrets(ctx, "b", secrets.SecretQuery{Limit: 1}); err != nil || total != 5 {
		t.Errorf("ListSecrets(b) after a create = %d, %v; want 5: the count triggers still count", total, err)
	}
}

// oldRecords reads every secret of a version 3 schema, value included.
func oldRecords(t *testing.T, dsn string) []secrets.Record {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id, workspace, name, description, ciphertext, wrapped_dek, provider,
		format_version, created_at, updated_at, created_by, updated_by, revision FROM secrets ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (secrets.Record, error) {
		var r secrets.Record
		err := row.Scan(&r.ID, &r.Workspace, &r.Name, &r.Description, &r.Sealed.Ciphertext, &r.Sealed.WrappedDEK,
			&r.Sealed.Provider, &r.Sealed.Format, &r.CreatedAt, &r.UpdatedAt, &r.CreatedBy, &r.UpdatedBy, &r.Revision)
		r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
		return r, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// showMigrated renders what the migration must keep of a record.
func showMigrated(r secrets.Record) string {
	return fmt.Sprintf("{ID:%d Rev:%d Version:%d %s/%s desc:%s by:%s/%s at:%s/%s sealed:%x/%x/%q/%d}",
		r.ID, r.Revision, r.Version, r.Workspace, r.Name, showPtr(r.Description), showPtr(r.CreatedBy),
		showPtr(r.UpdatedBy), r.CreatedAt.Format(time.RFC3339Nano), r.UpdatedAt.Format(time.RFC3339Nano),
		r.Sealed.Ciphertext, r.Sealed.WrappedDEK, r.Sealed.Provider, r.Sealed.Format)
}

func showPtr(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *p)
}
