package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"github.com/coffer-dev/coffer/internal/store/migration"
	"log/slog"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func loadMigrations() ([]migration.Migration, error) {
	return migration.Load(migrationFiles, "migrations")
}

// migrate applies the pending migrations in one transaction. The writer's
// BEGIN IMMEDIATE takes the write lock first, so two processes opening the
// same file apply each migration once. A plain read comes first: on an
// up-to-date file (every start but the first after an upgrade) there is
// nothing to do, and Open then takes no write lock and commits nothing.
func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if upToDate(ctx, db, ms) {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if err := apply(ctx, tx, m); err != nil {
			return err
		}
		log.Info("storage: applied migration", "backend", "sqlite", "version", m.Version)
	}
	return tx.Commit()
}

// upToDate reports whether the file already has the last of ms. Any error
// (a new file has no schema_migrations table) means "not known to be", and
// the locked path, which re-reads the version, decides.
func upToDate(ctx context.Context, db *sql.DB, ms []migration.Migration) bool {
	var current int
	err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current)
	return err == nil && len(ms) > 0 && current >= ms[len(ms)-1].Version
}

// apply runs one migration and records it.
func apply(ctx context.Context, tx *sql.Tx, m migration.Migration) error {
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %d: %w", m.Version, err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at)
		VALUES (?1, ?2)`, m.Version, micros(time.Now()))
	if err != nil {
		return fmt.Errorf("migration %d: %w", m.Version, err)
	}
	return nil
}
