package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The recycle bin is the secrets rows whose deleted_id is set (migration
// 4). An entry whose purge_at has passed is invisible to every call but
// PurgeExpired, which erases it.

// GetDeleted returns a bin entry of ws visible at now with its stored
// versions in ascending order, or ErrNotFound.
func (s *Store) GetDeleted(ctx context.Context, ws, id string, now time.Time) (secrets.Deleted, []secrets.StoredVersion, error) {
	rows, err := s.r.getDeleted.QueryContext(ctx, ws, id, micros(now))
	if err != nil {
		return secrets.Deleted{}, nil, err
	}
	defer rows.Close()
	var d secrets.Deleted
	found, versions := false, []secrets.StoredVersion{}
	for rows.Next() {
		var secretID int64
		var r deletedRow
		var number sql.NullInt64
		var v nullSealed
		dest := append(append([]any{&secretID}, r.dest()...), &number, &v.ciphertext, &v.dek, &v.provider, &v.format)
		if err := rows.Scan(dest...); err != nil {
			return secrets.Deleted{}, nil, err
		}
		d, found = r.entry(ws)
		if sealed, ok := v.sealed(); ok {
			versions = append(versions, secrets.StoredVersion{
				VersionKey: secrets.VersionKey{SecretID: secretID, Version: number.Int64},
				Workspace:  ws, Name: d.Name, Sealed: sealed, Deleted: true,
			})
		}
	}
	if err := rows.Err(); err != nil {
		return secrets.Deleted{}, nil, err
	}
	if !found {
		return secrets.Deleted{}, nil, secrets.ErrNotFound
	}
	return d, versions, nil
}

// RestoreDeleted makes a visible bin entry of ws live again, renamed and
// re-sealed when r.Name is set, and returns the record without Sealed.
// Every failure returns from the write, whose savepoint is rolled back, so
// a refused restore changes nothing.
func (s *Store) RestoreDeleted(ctx context.Context, ws, id string, r secrets.BinRestore) (secrets.Record, error) {
	if err := secrets.CheckReseals(r.Reseals); err != nil {
		return secrets.Record{}, err
	}
	var rec secrets.Record
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var secretID int64
		err := tx.StmtContext(ctx, s.w.binEntry).QueryRowContext(ctx, ws, id, micros(r.Now)).Scan(&secretID)
		if err != nil {
			return notFound(err)
		}
		// First the row, so that a live name clash (the unique index) is
		// the answer rather than a re-seal retry that would clash again.
		if rec, err = s.unbin(ctx, tx, secretID, ws, r); err != nil || r.Name == "" {
			return err
		}
		return s.resealEntry(ctx, tx, secretID, r.Reseals)
	})
	if err != nil {
		return secrets.Record{}, err
	}
	return rec, nil
}

// unbin makes bin entry id live under r.Name (or its old name).
func (s *Store) unbin(ctx context.Context, tx *sql.Tx, id int64, ws string, r secrets.BinRestore) (secrets.Record, error) {
	var name *string
	if r.Name != "" {
		name = &r.Name
	}
	rec := secrets.Record{ID: id, Secret: secrets.Secret{Workspace: ws,
		UpdatedAt: fromMicros(micros(r.UpdatedAt)), UpdatedBy: r.UpdatedBy}}
	var created int64
	err := tx.StmtContext(ctx, s.w.unbin).QueryRowContext(ctx, id, name, micros(r.UpdatedAt), r.UpdatedBy).Scan(
		&rec.Name, &rec.Description, &created, &rec.CreatedBy, &rec.Revision, &rec.Version)
	if err != nil {
		return secrets.Record{}, mapErr(err)
	}
	rec.CreatedAt = fromMicros(created)
	return rec, nil
}

// resealEntry writes a renaming restore's re-seals of entry id, each
// guarded by the ciphertext read (ErrRevisionChanged when it moved), and
// checks that they covered every stored version: one left sealed under the
// old name could never be opened under the new one.
func (s *Store) resealEntry(ctx context.Context, tx *sql.Tx, id int64, rs []secrets.Reseal) error {
	reseal := tx.StmtContext(ctx, s.w.reseal)
	for _, r := range rs {
		if r.SecretID != id {
			return fmt.Errorf("sqlite: restore re-seals version %d of record %d, which is not the entry restored", r.Version, r.SecretID)
		}
		res, err := reseal.ExecContext(ctx, r.SecretID, r.Version, blob(r.Old), blob(r.Sealed.Ciphertext),
			blob(r.Sealed.WrappedDEK), r.Sealed.Provider, r.Sealed.Format)
		if err := affected(res, err); errors.Is(err, secrets.ErrNotFound) {
			return secrets.ErrRevisionChanged
		} else if err != nil {
			return err
		}
	}
	var n int
	if err := tx.StmtContext(ctx, s.w.storedCount).QueryRowContext(ctx, id).Scan(&n); err != nil {
		return err
	}
	if n != len(rs) {
		return fmt.Errorf("sqlite: restore under a new name re-seals %d of the entry's %d stored versions", len(rs), n)
	}
	return nil
}

// PurgeDeleted erases a bin entry of ws visible at now with its versions,
// or returns ErrNotFound.
func (s *Store) PurgeDeleted(ctx context.Context, ws, id string, now time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return affected(tx.StmtContext(ctx, s.w.purgeDeleted).ExecContext(ctx, ws, id, micros(now)))
	})
}

// PurgeExpired erases up to limit bin entries whose purge_at is at or
// before now, oldest first, and returns how many. Several processes on one
// file take turns at the write lock, so each entry is erased once. Erased
// values may still be in the WAL afterwards: see Checkpoint.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.w.purgeExpired).ExecContext(ctx, micros(now), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// errCheckpointBusy reports a checkpoint that could not finish because a
// reader (of this or another process) still used the WAL.
var errCheckpointBusy = errors.New("sqlite: WAL checkpoint incomplete: the log is still in use; the next one retries")

// Checkpoint copies every committed page from the WAL into the database
// file and truncates the WAL to zero bytes (PRAGMA wal_checkpoint(TRUNCATE)).
//
// Erasing a value (a destroyed or pruned version, a hard delete, a purge)
// overwrites its bytes in the page (secure_delete is on), but the WAL still
// holds the frames written before, with the ciphertext, until SQLite happens
// to write over them. The server's purge pass calls Checkpoint after every
// PurgeExpired pass, so an erased ciphertext leaves the disk within one
// purge interval (docs/lifecycle.md). PurgeExpired does not checkpoint by
// itself: a pass calls it once per batch.
//
// It runs on the writer connection between two of the committer's
// transactions (database/sql hands the single connection to one user at a
// time), and waits, up to busy_timeout, for readers still in the old WAL,
// which are short; writes queue meanwhile.
func (s *Store) Checkpoint(ctx context.Context) error {
	var busy, logged, done int
	err := s.writer.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &done)
	switch {
	case err != nil:
		return fmt.Errorf("sqlite: WAL checkpoint: %w", err)
	case busy != 0:
		return errCheckpointBusy
	}
	return nil
}
