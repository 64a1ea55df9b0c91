// Package sqlite is the SQLite implementation of secrets.Store, the default
// backend for a single Coffer process (docs/storage.md).
//
// It keeps one writer connection and a separate pool of read-only
// connections. The pure-Go driver degrades badly when several connections
// compete for SQLite's single write lock, so all writes queue in Go for one
// connection instead, where a committer runs them in group transactions
// (committer.go); in WAL mode readers see the last committed state and never
// wait for that writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Store is a secrets.Store on one SQLite file. It is safe for concurrent use.
type Store struct {
	writer *sql.DB    // exactly one connection: SQLite allows one writer anyway
	commit *committer // the only user of writer once open
	reader *sql.DB    // query_only connections, never blocked by the writer in WAL mode
	pin    *sql.Conn  // held from open to Close so the -shm file the cache maps stays (pinWALIndex)
	pinDB  *sql.DB    // pin's own pool, outside the reader pool
	w      writeStmts // run by writes inside the committer's transactions
	r      readStmts
	cache  *readCache // answers of GetSecret, ListSecrets and RolesOf until the next commit
	log    *slog.Logger

	onCommit func(batch int, d time.Duration) // WithCommitHook; nil: none
}

var _ secrets.Store = (*Store)(nil)

// busyTimeout bounds how long a connection waits for a lock held by another
// process (a backup, the sqlite3 shell) before failing (docs/storage.md).
const busyTimeout = 5 * time.Second

// Option adjusts a Store at Open.
type Option func(*Store)

// WithCommitHook has the store call f after each group commit with the
// number of writes it committed and how long it took, from BEGIN to the end
// of COMMIT (docs/operations.md, "Metrics"). f runs on the committer's
// goroutine, between commits: it must be quick.
func WithCommitHook(f func(batch int, d time.Duration)) Option {
	return func(s *Store) { s.onCommit = f }
}

// Open opens or creates the database file at path (mode 0600, parent
// directory 0700 if it must be created) and applies pending migrations. A nil
// log discards messages.
func Open(ctx context.Context, path string, log *slog.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := createFile(path)
	if err != nil {
		return nil, err
	}
	s := &Store{log: log}
	for _, o := range opts {
		o(s)
	}
	if err := s.open(ctx, abs); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// open connects the writer, migrates, then connects the readers: WAL mode is
// a property of the file, set by the writer before any reader exists.
func (s *Store) open(ctx context.Context, path string) error {
	var err error
	if s.writer, err = openDB(path, writerParams(), 1); err != nil {
		return err
	}
	if err := enableWAL(ctx, s.writer); err != nil {
		return err
	}
	if err := migrate(ctx, s.writer, s.log); err != nil {
		return err
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	if s.reader, err = openDB(path, readerParams(), readers); err != nil {
		return err
	}
	if err := s.w.prepare(ctx, s.writer); err != nil {
		return err
	}
	if err := s.r.prepare(ctx, s.reader); err != nil {
		return err
	}
	if err := s.pinWALIndex(ctx, path); err != nil {
		return err
	}
	s.cache = newReadCache(s.openWALIndex(path), s.log)
	s.commit, err = newCommitter(ctx, s.writer, s.onCommit, s.cache, s.insertAudit)
	return err
}

// CacheStats returns how many read-cache lookups were answered from the
// cache (hits) and how many went to the database (misses) since Open. With
// the cache off (no wal-index) both stay 0.
func (s *Store) CacheStats() (hits, misses uint64) {
	return s.cache.hits.Load(), s.cache.misses.Load()
}

// CountSecrets returns the number of live secrets in all workspaces (the
// recycle bin does not count), from the per-workspace counts the triggers of
// migrations 3 and 4 keep: one row per workspace is read, whatever the
// number of secrets.
func (s *Store) CountSecrets(ctx context.Context) (int64, error) {
	var n int64
	err := s.reader.QueryRowContext(ctx, `SELECT coalesce(sum(secret_count), 0) FROM workspaces`).Scan(&n)
	return n, err
}

// pinWALIndex opens a connection that stays open, unused, until Close.
//
// SQLite deletes the -shm file when the last connection of all processes
// closes, and truncates and reinitialises it when the first one opens. The
// pools may close every connection they hold (database/sql drops a
// connection that fails), and another process may then come and go; the
// read cache's mapping would then show a file that no longer changes, or
// fault. A connection that has read the database in WAL mode keeps a shared
// lock on the database file and on the wal-index for its whole life, so
// while the pin is open neither happens, whoever else opens and closes the
// database (docs/storage.md, "Read cache").
func (s *Store) pinWALIndex(ctx context.Context, path string) error {
	var err error
	if s.pinDB, err = openDB(path, readerParams(), 1); err != nil {
		return err
	}
	if s.pin, err = s.pinDB.Conn(ctx); err != nil {
		return err
	}
	var v int
	return s.pin.QueryRowContext(ctx, `PRAGMA schema_version`).Scan(&v)
}

// openWALIndex maps the wal-index for the read cache. Without it Coffer
// still works, only every read goes to SQLite.
func (s *Store) openWALIndex(path string) *walIndex {
	wal, err := openWALIndex(path + "-shm")
	if err != nil {
		s.log.Warn("SQLite read cache off", "error", err.Error())
		return nil
	}
	return wal
}

// write runs fn as one write: in its own savepoint of the committer's next
// transaction, returning once that transaction committed (committer.do).
// When ctx carries a pending audit draft (secrets.PendingAudit) its event
// is inserted in the same transaction if fn succeeded, so the change and
// its event commit together; if the insert fails the write fails and
// nothing of it is stored (committer.go).
func (s *Store) write(ctx context.Context, fn writeFunc) error {
	d := secrets.PendingAudit(ctx)
	if d == nil {
		return s.commit.do(ctx, fn)
	}
	err := s.commit.doWithEvent(ctx, fn, d)
	if err == nil {
		d.MarkCommitted()
	}
	return err
}

// createFile creates path with mode 0600 if it is missing, so the database
// (and the WAL files SQLite derives from its mode) is never world-readable.
func createFile(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	return abs, f.Close()
}

// writerParams are the DSN parameters of the writer connection. _pragma
// parameters are applied by the driver to every new connection, so a
// reconnect keeps the settings.
func writerParams() url.Values {
	return url.Values{
		"_txlock": {"immediate"}, // take the write lock at BEGIN: no deadlock on lock upgrade
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"foreign_keys(1)",
			"synchronous(FULL)", // an acknowledged write survives power loss
			// Erasing a value (a destroyed or pruned version, a deleted
			// secret) must remove its bytes from the file, not only unlink
			// them: freed cells and pages are overwritten with zeros.
			// Checkpoint clears the copies left in the WAL.
			"secure_delete(1)",
			// The group commit runs each write in a savepoint, and SQLite
			// copies every page a savepoint first changes into a statement
			// journal, which spills to a temporary file past 64 KiB: a
			// pwrite per page, about 20 per write. In memory it is a copy,
			// and emptied at each RELEASE (docs/storage.md).
			"temp_store(2)",
		},
	}
}

// enableWAL switches the file to WAL mode, which is stored in the file and
// so is set once here rather than per connection: switching needs an
// exclusive lock and SQLite answers SQLITE_BUSY at once, without the busy
// timeout, when another process opens the file at the same moment. It
// retries for up to busyTimeout.
func enableWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		switch {
		case err == nil && mode != "wal":
			return fmt.Errorf("cannot enable WAL mode: journal mode is %q", mode)
		case err == nil || !isBusy(err) || time.Now().After(deadline):
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isBusy reports a lock held by another connection.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// readerParams are the DSN parameters of the read-only pool.
func readerParams() url.Values {
	return url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"foreign_keys(1)",
			"query_only(1)",
			// 512 KiB of pages per reader instead of SQLite's 2 MiB: the
			// readers' caches were most of the server's memory beyond the
			// Go heap, and a page they miss is a pread from the kernel's
			// page cache (docs/storage.md, docs/performance.md "Writes,
			// round two").
			"cache_size(-512)",
		},
	}
}

// openDB opens a pool of at most conns connections that are kept open: a
// new connection costs a file open and the pragmas.
func openDB(path string, params url.Values, conns int) (*sql.DB, error) {
	dsn := (&url.URL{Scheme: "file", Path: path, RawQuery: params.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// Ping checks that the database file can be read.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	return s.r.ping.QueryRowContext(ctx).Scan(&n)
}

// Close waits for the writes already queued to commit, refuses new ones and
// closes every connection. Closing the writer last lets SQLite checkpoint
// the WAL into the main file.
func (s *Store) Close() error {
	var errs []error
	if s.commit != nil {
		errs = append(errs, s.commit.close())
	}
	if s.cache != nil {
		errs = append(errs, s.cache.close()) // before the pin: see pinWALIndex
	}
	errs = append(errs, s.r.close(), s.w.close())
	if s.pin != nil {
		errs = append(errs, s.pin.Close())
	}
	for _, db := range []*sql.DB{s.reader, s.pinDB, s.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// mapErr turns constraint violations into the errors the Store contract
// names, by the driver's extended result code rather than message text.
func mapErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %v", secrets.ErrAlreadyExists, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %v", secrets.ErrNoWorkspace, err)
	}
	return err
}

// notFound maps sql.ErrNoRows to secrets.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return secrets.ErrNotFound
	}
	return err
}

// micros is the stored form of a timestamp: whole microseconds since the
// epoch, truncated like secrets.Now and PostgreSQL's encoding.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros reverses micros; returned times are always in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// blob binds b as a zero-length blob rather than NULL when it is empty.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
