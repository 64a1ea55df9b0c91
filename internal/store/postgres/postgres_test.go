package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
	"github.com/coffer-dev/coffer/internal/store/storetest"
)

var ctx = context.Background()

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) secrets.Store { return openFresh(t) })
}

// openFresh opens a store on a new schema, closed when t ends.
func openFresh(t testing.TB) *Store {
	t.Helper()
	return openDSN(t, pgtest.NewDSN(t))
}

// openDSN opens a store on dsn, closed when t ends.
func openDSN(t testing.TB, dsn string) *Store {
	t.Helper()
	st, err := Open(ctx, dsn, 4, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func workspace(name string) secrets.Workspace {
	now := secrets.Now()
	return secrets.Workspace{ID: "workspace-" + name, Name: name, CreatedAt: now, UpdatedAt: now}
}

func mustCreate(t testing.TB, st *Store, name string) {
	t.Helper()
	if err := st.CreateWorkspace(ctx, workspace(name), ""); err != nil {
		t.Fatalf("CreateWorkspace(%q): %v", name, err)
	}
}

// TestConcurrentOpen starts several replicas on one empty schema at once:
// the advisory lock must let exactly one of them create the tables.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, dsn, 2, nil) })
	}
	wg.Wait()
	for i, st := range stores {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { st.Close() })
		if err := st.CreateWorkspace(ctx, workspace(fmt.Sprint("ws", i)), ""); err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	var n0, v int
	err := stores[0].pool.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n0, &v)
	ms, _ := loadMigrations()
	if err != nil || n0 != len(ms) || v != ms[len(ms)-1].Version {
		t.Fatalf("schema_migrations: %d rows up to %d (err %v), want %d up to %d", n0, v, err, len(ms), ms[len(ms)-1].Version)
	}
}

func TestReopenKeepsData(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	first, err := Open(ctx, dsn, 2, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustCreate(t, first, "kept")
	first.Close()
	if _, err := openDSN(t, dsn).GetWorkspace(ctx, "kept"); err != nil {
		t.Fatalf("GetWorkspace after reopen: %v", err)
	}
}

// TestByteOrderCollation checks that every text column the store sorts or
// compares uses the "C" collation, so that list order is byte order as in
// SQLite whatever the database's default collation (the suite alone cannot
// tell when the test database itself uses C or C.UTF-8).
func TestByteOrderCollation(t *testing.T) {
	st := openFresh(t)
	rows, err := st.pool.Query(ctx, `SELECT table_name || '.' || column_name, coalesce(collation_name, '')
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND (table_name, column_name) IN (
			('workspaces', 'name'), ('secrets', 'workspace'), ('secrets', 'name'), ('secrets', 'description'),
			('secrets', 'deleted_id'), ('secret_versions', 'provider'),
			('role_bindings', 'workspace'), ('role_bindings', 'principal'), ('role_bindings', 'role'), ('seeds', 'key'))`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var col, coll string
		if err := rows.Scan(&col, &coll); err != nil {
			t.Fatal(err)
		}
		seen++
		if coll != "C" {
			t.Errorf("%s has collation %q, want C", col, coll)
		}
	}
	if seen != 10 {
		t.Errorf("found %d of the 10 columns", seen)
	}
}

func TestDeleteWorkspaceCascadesToRoleBindings(t *testing.T) {
	st := openFresh(t)
	mustCreate(t, st, "gone")
	mustCreate(t, st, "kept")
	_, err := st.pool.Exec(ctx, `INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at)
		VALUES ('gone', '*', 'Viewer', 'system', now()), ('kept', '*', 'Viewer', 'system', now());
		INSERT INTO seeds (key, seeded_at) VALUES ('gone/*/Viewer', now())`)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteWorkspace(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	var bindings string
	var seeds int
	err = st.pool.QueryRow(ctx, `SELECT (SELECT string_agg(workspace, ',') FROM role_bindings),
		(SELECT count(*) FROM seeds)`).Scan(&bindings, &seeds)
	if err != nil || bindings != "kept" || seeds != 1 {
		t.Fatalf("after delete: bindings of %q, %d seeds, err %v; want kept, 1 (seeds outlive workspaces)", bindings, seeds, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for name, dsn := range map[string]string{
		"unparsable":     "postgres://%zz",
		"missing schema": pgtest.WithSearchPath(pgtest.BaseDSN(), "coffer_no_such_schema"),
	} {
		if st, err := Open(ctx, dsn, 1, nil); err == nil {
			st.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

// TestMigrationKeepsBindingOrder upgrades a version 1 schema that holds
// role bindings: migration 2 numbers them in insertion order, and later
// grants come after them.
func TestMigrationKeepsBindingOrder(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	// Insertion order differs from (principal, role) order and granted_at.
	migratedTo(t, dsn, 1, `INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('w', 'ws', now(), now());
		INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at) VALUES
			('ws', 'b', 'Viewer', 'x', now()), ('ws', 'a', 'Admin', NULL, now() - interval '1 day'),
			('ws', 'b', 'Editor', 'x', now() - interval '2 days')`)

	st := openDSN(t, dsn)
	if err := st.GrantRoles(ctx, "ws", "b", []string{"Admin"}, nil, secrets.Now()); err != nil {
		t.Fatal(err)
	}
	roles, err := st.RolesOf(ctx, "ws", []string{"a", "b"})
	if err != nil || fmt.Sprint(roles) != "map[a:[Admin] b:[Viewer Editor Admin]]" {
		t.Fatalf("RolesOf after migration = %v, %v", roles, err)
	}
}

// TestMigrationCountsExistingSecrets upgrades a version 2 schema that holds
// secrets: migration 3 must start each workspace's count at its number of
// secrets, and the triggers keep it from there.
func TestMigrationCountsExistingSecrets(t *testing.T) {
	dsn := pgtest.NewDSN(t)
	migratedTo(t, dsn, 2, `INSERT INTO workspaces (id, name, created_at, updated_at)
			VALUES ('1', 'a', now(), now()), ('2', 'b', now(), now()), ('3', 'empty', now(), now());
		INSERT INTO secrets (workspace, name, ciphertext, wrapped_dek, provider, format_version, created_at, updated_at, revision)
			SELECT CASE WHEN i <= 20 THEN 'a' ELSE 'b' END, 's' || i, '\x00', '\x00', 'k', 2, now(), now(), 1
			FROM generate_series(1, 30) AS i`)
	st := openDSN(t, dsn)
	storetest.CheckMigratedCounts(t, st)
	var rows int
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM secret_counts WHERE workspace = 'b'`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("deleted workspace has %d count rows (%v), want 0", rows, err)
	}
}

// migratedTo brings the schema of dsn to version as a Coffer of that
// version left it: migrations 1 to version applied, then fixture (SQL) run,
// in one transaction. Opening it afterwards runs the later migrations.
func migratedTo(t *testing.T, dsn string, version int, fixture string) {
	t.Helper()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := lockAndVersion(ctx, tx); err != nil {
			return err
		}
		for _, m := range ms[:version] {
			if err := apply(ctx, tx, m); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, fixture)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestErrorsHoldNoValue fails a write of a sealed value on a CHECK: the
// server reports the failing row, value included, in the error's detail,
// which the store must drop.
func TestErrorsHoldNoValue(t *testing.T) {
	st := openFresh(t)
	mustCreate(t, st, "ws")
	ct := []byte("do-not-leak-this-ciphertext")
	r := secrets.Record{Secret: secrets.Secret{Workspace: "ws", Name: "s", CreatedAt: secrets.Now(), UpdatedAt: secrets.Now()},
		Sealed: benchSealed(1)}
	created, err := st.CreateSecret(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	bad := envelope.Sealed{Ciphertext: ct, WrappedDEK: ct, Provider: "k1", Format: 3}
	_, err = st.ResealVersions(ctx, []secrets.Reseal{{VersionKey: secrets.VersionKey{SecretID: created.ID, Version: 1},
		Old: r.Sealed.Ciphertext, Sealed: bad}})
	_, uerr := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{Sealed: &bad, UpdatedAt: secrets.Now(), Keep: 1})
	for what, err := range map[string]error{"ResealVersions": err, "UpdateSecret": uerr} {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: %v, want the CHECK violation", what, err)
		}
		if all := fmt.Sprintf("%v %+v %#v", err, pe, pe); strings.Contains(all, string(ct)) || strings.Contains(all, fmt.Sprintf("%x", ct)) {
			t.Errorf("%s: the error holds the value: %s", what, all)
		}
	}
}
