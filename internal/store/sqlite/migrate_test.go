package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// TestMigrationMovesValuesToVersions upgrades a version 3 database holding
// secrets in several workspaces, whose newest secret was deleted: migration
// 4 rebuilds secrets and must keep every id, revision and timestamp, make
// each value version 1 unchanged (created when and by whom it was last
// written), keep the live counts, and never hand out an old id again, not
// even the deleted newest one (an ETag hashes the id).
func TestMigrationMovesValuesToVersions(t *testing.T) {
	type old struct {
		id               int64
		ws, name         string
		desc, by         *string
		created, updated int64 // microseconds
		revision         int64
		sealed           envelope.Sealed
	}
	var fixture []old
	var sql strings.Builder
	sql.WriteString(`INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('1', 'a', 0, 0), ('2', 'b', 0, 0), ('3', 'empty', 0, 0);`)
	for i := range 12 {
		o := old{id: int64(i + 1), ws: []string{"a", "b", "a"}[i%3], name: fmt.Sprint("s", i),
			created: int64(1000 + i), updated: int64(5000 + 7*i), revision: int64(1 + i%4),
			sealed: envelope.Sealed{Ciphertext: randomBytes(40 + i), WrappedDEK: randomBytes(60),
				Provider: []string{"k1", "", "vault"}[i%3], Format: 1 + i%2}}
		if i%2 == 0 {
			o.desc, o.by = new(fmt.Sprint("about ", i)), new("alice")
		}
		fixture = append(fixture, o)
		fmt.Fprintf(&sql, `INSERT INTO secrets (id, workspace, name, description, ciphertext, wrapped_dek, provider,
			format_version, created_at, updated_at, created_by, updated_by, revision)
			VALUES (%d, '%s', '%s', %s, x'%x', x'%x', '%s', %d, %d, %d, %s, %s, %d);`,
			o.id, o.ws, o.name, sqlText(o.desc), o.sealed.Ciphertext, o.sealed.WrappedDEK, o.sealed.Provider,
			o.sealed.Format, o.created, o.updated, sqlText(o.by), sqlText(o.by), o.revision)
	}
	// The newest secret (id 13) was deleted: sqlite_sequence remembers 13.
	sql.WriteString(`INSERT INTO secrets (id, workspace, name, ciphertext, wrapped_dek, provider, format_version,
		created_at, updated_at, revision) VALUES (13, 'b', 'gone', x'00', x'00', 'k1', 2, 1, 1, 1);
		DELETE FROM secrets WHERE id = 13;`)
	path := filepath.Join(t.TempDir(), "coffer.db")
	migratedTo(t, path, 3, sql.String())
	st := openAt(t, path)

	for _, o := range fixture {
		want := secrets.Record{ID: o.id, Revision: o.revision, Sealed: o.sealed, Secret: secrets.Secret{
			Workspace: o.ws, Name: o.name, Description: o.desc, CreatedBy: o.by, UpdatedBy: o.by,
			CreatedAt: fromMicros(o.created), UpdatedAt: fromMicros(o.updated), Version: 1}}
		for what, get := range map[string]func() (secrets.Record, error){
			"GetSecret":    func() (secrets.Record, error) { return st.GetSecret(ctx, o.ws, o.name) },
			"GetVersion 1": func() (secrets.Record, error) { return st.GetVersion(ctx, o.ws, o.name, 1) },
		} {
			got, err := get()
			if err != nil || showMigrated(got) != showMigrated(want) {
				t.Errorf("%s(%s/%s) after the migration:\n got  %s, %v\n want %s", what, o.ws, o.name,
					showMigrated(got), err, showMigrated(want))
			}
		}
		vs, total, err := st.ListVersions(ctx, o.ws, o.name, secrets.VersionQuery{Limit: 10})
		if err != nil || total != 1 || len(vs) != 1 || vs[0].Number != 1 || vs[0].Destroyed ||
			!vs[0].CreatedAt.Equal(fromMicros(o.updated)) || showPtr(vs[0].CreatedBy) != showPtr(o.by) {
			t.Errorf("ListVersions(%s/%s) = %+v, %d, %v; want version 1 created at the last update, by its author", o.ws, o.name, vs, total, err)
		}
	}
	for ws, want := range map[string]int{"a": 8, "b": 4, "empty": 0} {
		if _, total, err := st.ListSecrets(ctx, ws, secrets.SecretQuery{Limit: 1}); err != nil || total != want {
			t.Errorf("ListSecrets(%s) total = %d, %v; want %d", ws, total, err, want)
		}
	}
	var check string
	if err := st.reader.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
	if rows, err := st.reader.Query(`PRAGMA foreign_key_check`); err != nil || rows.Next() {
		t.Fatalf("foreign_key_check found a violation (or failed: %v)", err)
	} else {
		rows.Close()
	}

	created, err := st.CreateSecret(ctx, secret("b", "new", "v"))
	if err != nil || created.ID != 14 {
		t.Fatalf("CreateSecret after the migration: id %d, %v; want 14, after the deleted 13", created.ID, err)
	}
	if _, total, err := st.ListSecrets(ctx, "b", secrets.SecretQuery{Limit: 1}); err != nil || total != 5 {
		t.Errorf("ListSecrets(b) after a create = %d, %v; want 5: the count triggers are back", total, err)
	}
}

// showMigrated renders what the migration must keep of a record.
func showMigrated(r secrets.Record) string {
	return fmt.Sprintf("{ID:%d Rev:%d Version:%d %s/%s desc:%s by:%s/%s at:%s/%s sealed:%x/%x/%q/%d}",
		r.ID, r.Revision, r.Version, r.Workspace, r.Name, showPtr(r.Description), showPtr(r.CreatedBy), showPtr(r.UpdatedBy),
		r.CreatedAt.Format(time.RFC3339Nano), r.UpdatedAt.Format(time.RFC3339Nano),
		r.Sealed.Ciphertext, r.Sealed.WrappedDEK, r.Sealed.Provider, r.Sealed.Format)
}

func showPtr(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *p)
}

// sqlText is p as an SQL literal (test data only: no quotes inside).
func sqlText(p *string) string {
	if p == nil {
		return "NULL"
	}
	return "'" + *p + "'"
}
