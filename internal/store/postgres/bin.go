package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The recycle bin: secrets rows with a deleted_id, their versions kept.
// An entry is visible until its purge_at; PurgeExpired erases it after.

// GetDeleted returns the entry id of ws's bin visible at now, with its
// stored versions in ascending order, or ErrNotFound.
func (s *Store) GetDeleted(ctx context.Context, ws, id string, now time.Time) (secrets.Deleted, []secrets.StoredVersion, error) {
	rows, err := s.db.Query(ctx, qGetDeleted, ws, id, ts(now))
	if err != nil {
		return secrets.Deleted{}, nil, err
	}
	defer rows.Close()
	var d secrets.Deleted
	versions := []secrets.StoredVersion{}
	found := false
	for rows.Next() {
		sv, stored, err := scanDeletedRow(rows, &d)
		if err != nil {
			return secrets.Deleted{}, nil, err
		}
		if stored {
			versions = append(versions, sv)
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return secrets.Deleted{}, nil, err
	}
	if !found {
		return secrets.Deleted{}, nil, secrets.ErrNotFound
	}
	return d, versions, nil
}

// scanDeletedRow reads one row of qGetDeleted: the entry into d and the
// version it carries, if any (stored false: the entry has none).
func scanDeletedRow(rows pgx.Rows, d *secrets.Deleted) (sv secrets.StoredVersion, stored bool, err error) {
	var r secrets.Record
	var version *int64
	var v nullableValue
	err = rows.Scan(&d.ID, &r.ID, &r.Workspace, &r.Name, &r.Description, &r.CreatedAt, &r.UpdatedAt,
		&r.CreatedBy, &r.UpdatedBy, &r.Revision, &r.Version, &d.DeletedAt, &d.DeletedBy, &d.PurgeAt,
		&version, &v.ciphertext, &v.dek, &v.provider, &v.format)
	if err != nil {
		return sv, false, err
	}
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	d.Secret, d.DeletedAt, d.PurgeAt = r.Secret, utc(d.DeletedAt), utc(d.PurgeAt)
	if version == nil {
		return sv, false, nil
	}
	sv = secrets.StoredVersion{VersionKey: secrets.VersionKey{SecretID: r.ID, Version: *version},
		Workspace: r.Workspace, Name: r.Name, Deleted: true}
	sv.Sealed, err = v.sealed()
	return sv, err == nil, err
}

// restoreDeleted makes the entry id of ws's bin live again, under r.Name
// when it is not "" (its versions re-sealed as r.Reseals say), and returns
// the record without its sealed value. ErrNotFound if no such entry is
// visible at r.Now, ErrAlreadyExists if the name is live,
// ErrRevisionChanged if a re-seal found another ciphertext than the one it
// was read with, or a version it does not cover (then nothing changed).
func (s *Store) restoreDeleted(ctx context.Context, ws, id string, r secrets.BinRestore) (secrets.Record, error) {
	if err := secrets.CheckReseals(r.Reseals); err != nil {
		return secrets.Record{}, err
	}
	var rec secrets.Record
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var secretID int64
		if err := tx.QueryRow(ctx, qLockBin, ws, id, ts(r.Now)).Scan(&secretID); err != nil {
			return notFound(err)
		}
		var name *string
		if r.Name != "" {
			name = &r.Name
			if err := resealAll(ctx, tx, secretID, r.Reseals); err != nil {
				return err
			}
		}
		var err error
		rec, err = scanRecord(tx.QueryRow(ctx, qRestoreDeleted, secretID, name, ts(r.UpdatedAt), r.UpdatedBy))
		return err
	})
	if err != nil {
		return secrets.Record{}, mapErr(err)
	}
	return rec, nil
}

// resealAll re-seals every stored version of the bin entry secretID (its
// row locked) as rs say: ErrRevisionChanged unless each re-seal applies
// and together they cover every stored version, since a version left
// sealed under the old name could not be opened under the new one.
func resealAll(ctx context.Context, tx pgx.Tx, secretID int64, rs []secrets.Reseal) error {
	for _, r := range rs {
		if r.SecretID != secretID {
			return fmt.Errorf("postgres: restore of record %d re-seals record %d", secretID, r.SecretID)
		}
	}
	errs, err := reseal(ctx, tx, rs)
	if err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("%w: a version of the deleted secret changed", secrets.ErrRevisionChanged)
		}
	}
	var stored int
	if err := tx.QueryRow(ctx, qStoredCount, secretID).Scan(&stored); err != nil {
		return err
	}
	if stored != len(rs) {
		return fmt.Errorf("%w: %d versions re-sealed of %d stored", secrets.ErrRevisionChanged, len(rs), stored)
	}
	return nil
}

// purgeDeleted erases the entry id of ws's bin visible at now, or returns
// ErrNotFound.
func (s *Store) purgeDeleted(ctx context.Context, ws, id string, now time.Time) error {
	return affected(s.db.Exec(ctx, qPurgeDeleted, ws, id, ts(now)))
}

// PurgeExpired erases up to limit bin entries whose purge_at is at or
// before now and returns how many it erased. Concurrent calls (several
// replicas) take disjoint entries.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qPickExpired, ts(now), int64(max(limit, 0)))
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, qLockVersionsOf, ids); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, qDeleteIDs, ids)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
