package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Rotation reads and re-seals stored versions, live and in the bin, in key
// order. Erased versions are never returned: they hold nothing to re-seal.

// ScanVersions returns up to limit stored versions with a key after after,
// in ascending key order. The partial index of stored versions (migration
// 4) is that order, so a page skips erased versions without visiting them.
func (s *Store) ScanVersions(ctx context.Context, after secrets.VersionKey, limit int) ([]secrets.StoredVersion, error) {
	rows, err := s.r.scanVersions.QueryContext(ctx, after.SecretID, after.Version, max(limit, 0))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vs := []secrets.StoredVersion{}
	for rows.Next() {
		v, err := scanStored(rows)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// GetStoredVersion returns one stored version, or ErrNotFound when it is
// gone or erased.
func (s *Store) GetStoredVersion(ctx context.Context, key secrets.VersionKey) (secrets.StoredVersion, error) {
	v, err := scanStored(s.r.getStored.QueryRowContext(ctx, key.SecretID, key.Version))
	return v, notFound(err)
}

// scanStored reads the storedCols columns.
func scanStored(row scanner) (secrets.StoredVersion, error) {
	var v secrets.StoredVersion
	err := row.Scan(&v.SecretID, &v.Version, &v.Workspace, &v.Name, &v.Sealed.Ciphertext, &v.Sealed.WrappedDEK,
		&v.Sealed.Provider, &v.Sealed.Format, &v.Deleted)
	if err != nil {
		return secrets.StoredVersion{}, err
	}
	v.Sealed = stored(v.Sealed)
	return v, nil
}

// ResealVersions re-seals the batch as one write of the committer, so one
// savepoint and one commit (one fsync) for all of it, without touching any
// revision. A version the guarded UPDATE misses is told changed from gone
// by a second read in the same transaction. A statement error returns from
// the write, whose savepoint is then rolled back: nothing of the batch
// stays.
func (s *Store) ResealVersions(ctx context.Context, rs []secrets.Reseal) ([]error, error) {
	if err := secrets.CheckReseals(rs); err != nil {
		return nil, err
	}
	errs := make([]error, len(rs))
	if len(rs) == 0 {
		return errs, nil
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		reseal, held := tx.StmtContext(ctx, s.w.reseal), tx.StmtContext(ctx, s.w.versionHeld)
		for i, r := range rs {
			var err error
			if errs[i], err = resealOne(ctx, reseal, held, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// resealOne runs one version of a batch: outcome is its own result (nil,
// ErrRevisionChanged, ErrNotFound), err a failure of the whole batch.
func resealOne(ctx context.Context, reseal, held *sql.Stmt, r secrets.Reseal) (outcome, err error) {
	res, err := reseal.ExecContext(ctx, r.SecretID, r.Version, blob(r.Old), blob(r.Sealed.Ciphertext),
		blob(r.Sealed.WrappedDEK), r.Sealed.Provider, r.Sealed.Format)
	if err := affected(res, err); !errors.Is(err, secrets.ErrNotFound) {
		return nil, err
	}
	var stored bool
	switch err := held.QueryRowContext(ctx, r.SecretID, r.Version).Scan(&stored); {
	case errors.Is(err, sql.ErrNoRows):
		return secrets.ErrNotFound, nil
	case err != nil:
		return nil, err
	case !stored:
		return secrets.ErrNotFound, nil // erased
	}
	return secrets.ErrRevisionChanged, nil
}

// countSealedSQL counts stored versions per (provider, format) in one pass
// over the versions, each joined to its secret by primary key to tell the
// current version, a kept one and the bin apart.
const countSealedSQL = `SELECT v.provider, v.format_version,
		sum(CASE WHEN s.deleted_id IS NULL AND v.version = s.current_version THEN 1 ELSE 0 END),
		sum(CASE WHEN s.deleted_id IS NULL AND v.version <> s.current_version THEN 1 ELSE 0 END),
		sum(CASE WHEN s.deleted_id IS NOT NULL THEN 1 ELSE 0 END)
	FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id
	WHERE v.ciphertext IS NOT NULL
	GROUP BY v.provider, v.format_version ORDER BY v.provider, v.format_version`

// CountSealed returns the number of stored versions, live and in the bin,
// per provider and format.
func (s *Store) CountSealed(ctx context.Context) ([]secrets.SealedCount, error) {
	rows, err := s.r.countSealed.QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := []secrets.SealedCount{}
	for rows.Next() {
		var c secrets.SealedCount
		if err := rows.Scan(&c.Provider, &c.Format, &c.Current, &c.Kept, &c.Binned); err != nil {
			return nil, err
		}
		counts = append(counts, c)
	}
	return counts, rows.Err()
}
