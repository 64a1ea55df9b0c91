package postgres

import (
	"context"
	"embed"
	"fmt"
	"github.com/coffer-dev/coffer/internal/store/migration"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func loadMigrations() ([]migration.Migration, error) {
	return migration.Load(migrationFiles, "migrations")
}

// migrationLock is the first key of the advisory lock that serialises
// migrations; the second is a hash of the schema, so replicas of one
// deployment wait for each other while deployments in other schemas don't.
const migrationLock = 0x636f6666 // "coff"

// migrate applies the pending migrations in one transaction that first takes
// a transaction-scoped advisory lock: replicas starting together queue on
// it, and each then sees the versions the previous one committed. The lock
// is released by the commit or rollback, even if the process dies.
func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		current, err := lockAndVersion(ctx, tx)
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		for _, m := range ms {
			if m.Version <= current {
				continue
			}
			if err := apply(ctx, tx, m); err != nil {
				return err
			}
			log.Info("storage: applied migration", "backend", "postgres", "version", m.Version)
		}
		return nil
	})
}

// lockAndVersion takes the migration lock and returns the schema version.
func lockAndVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, migrationLock)
	if err != nil {
		return 0, err
	}
	_, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer NOT NULL PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return 0, err
	}
	var current int
	err = tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current)
	return current, err
}

// apply runs one migration and records it.
func apply(ctx context.Context, tx pgx.Tx, m migration.Migration) error {
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %d: %w", m.Version, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
		return fmt.Errorf("migration %d: %w", m.Version, err)
	}
	return nil
}
