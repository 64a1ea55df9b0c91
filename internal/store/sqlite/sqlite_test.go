package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/storetest"
)

var ctx = context.Background()

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) secrets.Store { return openTemp(t) })
}

// openTemp opens a store on a new file that is closed when t ends.
func openTemp(t *testing.T) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "coffer.db"))
}

// openAt opens the store at path, closed when t ends.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	st, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

func workspace(name string) secrets.Workspace {
	now := secrets.Now()
	return secrets.Workspace{ID: "workspace-" + name, Name: name, CreatedAt: now, UpdatedAt: now}
}

func mustCreate(t *testing.T, st *Store, name string) {
	t.Helper()
	if err := st.CreateWorkspace(ctx, workspace(name), ""); err != nil {
		t.Fatalf("CreateWorkspace(%q): %v", name, err)
	}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	first, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustCreate(t, first, "kept")
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := openAt(t, path)
	if _, err := st.GetWorkspace(ctx, "kept"); err != nil {
		t.Fatalf("GetWorkspace after reopen: %v", err)
	}
	var n, v int
	if err := st.reader.QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	ms, _ := loadMigrations()
	if n != len(ms) || v != ms[len(ms)-1].Version {
		t.Fatalf("schema_migrations has %d rows up to %d, want %d up to %d", n, v, len(ms), ms[len(ms)-1].Version)
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	st := openAt(t, filepath.Join(dir, "coffer.db"))
	mustCreate(t, st, "ws") // makes the WAL files exist
	for path, want := range map[string]os.FileMode{
		dir: 0o700, filepath.Join(dir, "coffer.db"): 0o600,
		filepath.Join(dir, "coffer.db-wal"): 0o600, filepath.Join(dir, "coffer.db-shm"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", filepath.Base(path), got, want)
		}
	}
}

func TestPragmas(t *testing.T) {
	st := openTemp(t)
	for _, c := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{st.writer, "journal_mode", "wal"},
		{st.writer, "synchronous", "2"}, // FULL
		{st.writer, "foreign_keys", "1"},
		{st.writer, "busy_timeout", "5000"},
		{st.writer, "query_only", "0"},
		{st.writer, "secure_delete", "1"},
		{st.reader, "query_only", "1"},
		{st.reader, "busy_timeout", "5000"},
	} {
		var got string
		if err := c.db.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s = %s, want %s", c.pragma, got, c.want)
		}
	}
	if _, err := st.reader.Exec(`DELETE FROM workspaces`); err == nil {
		t.Error("a reader connection accepted a write")
	}
}

// TestReadsDoNotWaitForTheWriter holds the only writer connection inside an
// open write transaction, then reads through the store.
func TestReadsDoNotWaitForTheWriter(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "committed")
	conn, err := st.writer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('x', 'pending', 0, 0)`); err != nil {
		t.Fatal(err)
	}

	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := st.GetWorkspace(rctx, "committed"); err != nil {
		t.Fatalf("read during a write transaction: %v", err)
	}
	if _, err := st.GetWorkspace(rctx, "pending"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("uncommitted workspace: %v, want ErrNotFound", err)
	}
	if _, total, err := st.ListWorkspaces(rctx, secrets.WorkspaceQuery{Sort: "created_at", Limit: 10}); err != nil || total != 1 {
		t.Fatalf("list during a write transaction: total %d, err %v; want 1", total, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := st.CreateWorkspace(wctx, workspace("queued"), ""); err == nil {
		t.Fatal("a write went through while the writer was held")
	}
}

func TestDeleteWorkspaceCascadesToRoleBindings(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "gone")
	mustCreate(t, st, "kept")
	for _, ws := range []string{"gone", "kept"} {
		_, err := st.writer.Exec(`INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at)
			VALUES (?1, '*', 'Viewer', 'system', 0)`, ws)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.writer.Exec(`INSERT INTO seeds (key, seeded_at) VALUES ('gone/*/Viewer', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteWorkspace(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	var bindings, seeds int
	err := st.reader.QueryRow(`SELECT (SELECT group_concat(workspace) FROM role_bindings) = 'kept',
		(SELECT count(*) FROM seeds)`).Scan(&bindings, &seeds)
	if err != nil || bindings != 1 || seeds != 1 {
		t.Fatalf("after delete: only kept's binding left %v, seeds %d, err %v; want true, 1 (seeds outlive workspaces)",
			bindings == 1, seeds, err)
	}
}

// TestConcurrentOpen opens one new file from several goroutines, as two
// processes restarting over each other would.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, path, nil) })
	}
	wg.Wait()
	for i, st := range stores {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		if err := st.CreateWorkspace(ctx, workspace(fmt.Sprint("ws", i)), ""); err != nil {
			t.Errorf("store %d: %v", i, err)
		}
		st.Close()
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notADB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notADB, []byte("this is not an SQLite database, just text long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"directory": dir, "not a database": notADB} {
		if st, err := Open(ctx, path, nil); err == nil {
			st.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

// TestOnlineBackup runs the backup commands docs/storage.md recommends
// against a database the store has open, and opens the copies.
func TestOnlineBackup(t *testing.T) {
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("sqlite3 shell not installed")
	}
	dir := t.TempDir()
	st := openAt(t, filepath.Join(dir, "coffer.db"))
	mustCreate(t, st, "backed-up") // still in the WAL: nothing has checkpointed it
	for name, cmd := range map[string]string{
		"backup.db": ".backup " + filepath.Join(dir, "backup.db"),
		"vacuum.db": "VACUUM INTO '" + filepath.Join(dir, "vacuum.db") + "'",
	} {
		if out, err := exec.Command(bin, filepath.Join(dir, "coffer.db"), cmd).CombinedOutput(); err != nil {
			t.Fatalf("sqlite3 %q: %v\n%s", cmd, err, out)
		}
		if _, err := openAt(t, filepath.Join(dir, name)).GetWorkspace(ctx, "backed-up"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMigrationKeepsBindingOrder upgrades a version 1 database that holds
// role bindings: migration 2 copies the table and must keep every binding
// in insertion order, and later grants must come after them.
func TestMigrationKeepsBindingOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	// Insertion order differs from (principal, role) order and granted_at.
	migratedTo(t, path, 1, `INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('w', 'ws', 0, 0);
		INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at) VALUES
			('ws', 'b', 'Viewer', 'x', 30), ('ws', 'a', 'Admin', NULL, 20), ('ws', 'b', 'Editor', 'x', 10)`)

	st := openAt(t, path)
	if err := st.GrantRoles(ctx, "ws", "b", []string{"Admin"}, nil, secrets.Now()); err != nil {
		t.Fatal(err)
	}
	roles, err := st.RolesOf(ctx, "ws", []string{"a", "b"})
	if err != nil || fmt.Sprint(roles) != "map[a:[Admin] b:[Viewer Editor Admin]]" {
		t.Fatalf("RolesOf after migration = %v, %v", roles, err)
	}
	var n int
	if err := st.reader.QueryRow(`SELECT count(*) FROM role_bindings WHERE granted_by IS NULL`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("bindings with a NULL granted_by: %d, %v; want 2", n, err)
	}
}

// TestMigrationCountsExistingSecrets upgrades a version 2 database that
// holds secrets: migration 3 must start each workspace's count at its
// number of secrets, and the triggers keep it from there.
func TestMigrationCountsExistingSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	migratedTo(t, path, 2, `INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('1', 'a', 0, 0), ('2', 'b', 0, 0), ('3', 'empty', 0, 0);
		WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 30)
		INSERT INTO secrets (workspace, name, ciphertext, wrapped_dek, provider, format_version, created_at, updated_at, revision)
		SELECT CASE WHEN i <= 20 THEN 'a' ELSE 'b' END, 's' || i, x'00', x'00', 'k', 2, i, i, 1 FROM seq`)
	storetest.CheckMigratedCounts(t, openAt(t, path))
}

// migratedTo creates the database at path as a Coffer of schema version
// left it: migrations 1 to version applied, then fixture (SQL) run, in one
// transaction. Opening it afterwards runs the later migrations.
func migratedTo(t *testing.T, path string, version int, fixture string) {
	t.Helper()
	db, err := openDB(path, writerParams(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:version] {
		if err := apply(ctx, tx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(fixture); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestReopenSeededDoesNotWrite reopens a migrated and seeded file while
// another connection (another process, a backup) holds its write lock: a
// start on an up-to-date, seeded database must neither migrate nor seed
// through the writer, so it neither waits for that lock nor commits.
func TestReopenSeededDoesNotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	first := openAt(t, path)
	mustCreate(t, first, "ws")
	b := secrets.Binding{Workspace: "ws", Principal: "*", Role: "Viewer", GrantedAt: secrets.Now()}
	if seeded, err := first.Seed(ctx, "k", b); err != nil || !seeded {
		t.Fatalf("first Seed = %v, %v; want true", seeded, err)
	}

	other, err := openDB(path, writerParams(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	began := time.Now()
	st := openAt(t, path)
	if seeded, err := st.Seed(ctx, "k", b); err != nil || seeded {
		t.Fatalf("Seed of a recorded key = %v, %v; want false", seeded, err)
	}
	if waited := time.Since(began); waited > busyTimeout/2 {
		t.Errorf("Open and Seed took %v: they waited for the write lock", waited)
	}
	if n := st.commit.commits.Load() + st.commit.writes.Load(); n != 0 {
		t.Errorf("the committer ran %d commits and writes", n)
	}
}

// TestWALIsCheckpointed guards disk usage: SQLite must move committed pages
// from the WAL into the main file as writes go on. Writes that committed
// inside the reset of an autocommit statement with RETURNING once skipped
// the automatic checkpoint, so the main file stayed at 4 KiB while the WAL
// grew by ~20 KiB per write (docs/performance.md, observation 2).
func TestWALIsCheckpointed(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(ctx, filepath.Join(dir, "coffer.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mustCreate(t, st, "bench")
	const writers, perWriter = 16, 250 // 4,000 writes: 27 MiB of WAL and a 4 KiB main file without checkpoints
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				name := fmt.Sprintf("w%02d-%04d", w, i)
				if _, err := st.CreateSecret(ctx, benchRecord(name, int64(i))); err != nil {
					t.Errorf("CreateSecret(%s): %v", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	size := func(name string) int64 {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return info.Size()
	}
	// SQLite checkpoints every 1,000 pages (4 MiB) and then reuses the WAL
	// from its start, so the WAL stays near that size.
	if db, wal := size("coffer.db"), size("coffer.db-wal"); db < 1<<20 || wal > 16<<20 {
		t.Fatalf("after 4,000 writes coffer.db is %d bytes and its WAL %d: the WAL is not being checkpointed", db, wal)
	}
}
