package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	sql     string
}

// loadMigrations returns the embedded migrations in version order. A file
// is named NNNN_description.sql.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", base)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{v, string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies the pending migrations in one transaction. The writer's
// BEGIN IMMEDIATE takes the write lock first, so two processes opening the
// same file apply each migration once.
func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
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
		if m.version <= current {
			continue
		}
		if err := apply(ctx, tx, m); err != nil {
			return err
		}
		log.Info("storage: applied migration", "backend", "sqlite", "version", m.version)
	}
	return tx.Commit()
}

// apply runs one migration and records it.
func apply(ctx context.Context, tx *sql.Tx, m migration) error {
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %d: %w", m.version, err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at)
		VALUES (?1, ?2)`, m.version, micros(time.Now()))
	if err != nil {
		return fmt.Errorf("migration %d: %w", m.version, err)
	}
	return nil
}
