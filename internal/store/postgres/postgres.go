// Package postgres is the PostgreSQL implementation of secrets.Store, for
// several Coffer replicas sharing one database (docs/storage.md).
//
// It uses pgx's own pool rather than database/sql: pgx caches a prepared
// statement per connection for every query text, so each operation is a
// single round trip without a parse on the server.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Store is a secrets.Store on a PostgreSQL database. It is safe for
// concurrent use, also by several processes on one database.
type Store struct {
	pool *pgxpool.Pool
	db   dbtx // pool, or the transaction of an audited write (audited)
	log  *slog.Logger
}

// dbtx is what the store's methods run their statements on: the pool, or
// a transaction (then pgx.BeginFunc on it opens a savepoint).
type dbtx interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

var _ secrets.Store = (*Store)(nil)

// Open connects to dsn with at most maxConns connections (pgx's default,
// max(4, CPUs), when maxConns <= 0) and applies pending migrations. Tables
// live in the first schema of the search_path. A nil log discards messages.
func Open(ctx context.Context, dsn string, maxConns int, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err // pgx's parse errors never contain the password
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(min(maxConns, 1<<20))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, pool, log); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, db: pool, log: log}, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool, waiting for acquired connections to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// PostgreSQL error codes the Store contract gives a meaning to.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// mapErr turns constraint violations into the errors the Store contract
// names. It also drops the detail of every server error, whose text
// (Error) leaves it out but whose value keeps it: a violated CHECK or NOT
// NULL reports the failing row there, which may hold a sealed value.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	clean := *pe
	clean.Detail, clean.Where, clean.InternalQuery = "", "", ""
	switch pe.Code {
	case uniqueViolation:
		return fmt.Errorf("%w: %w", secrets.ErrAlreadyExists, &clean)
	case foreignKeyViolation:
		return fmt.Errorf("%w: %w", secrets.ErrNoWorkspace, &clean)
	}
	return &clean
}

// notFound maps pgx.ErrNoRows to secrets.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return secrets.ErrNotFound
	}
	return err
}

// ts is the stored form of a timestamp: PostgreSQL keeps microseconds, and
// truncating here (as SQLite does) rather than letting the server round
// keeps both backends identical.
func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// utc returns a scanned timestamp in UTC; pgx returns the local zone.
func utc(t time.Time) time.Time { return t.UTC() }

// blob keeps an empty value a zero-length bytea rather than NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// affected turns "no row changed" into ErrNotFound.
func affected(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return secrets.ErrNotFound
	}
	return nil
}
