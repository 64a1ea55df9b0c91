package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Rotation walks every stored version, live or in the bin, and re-seals it
// guarded by the ciphertext it read.

// ScanVersions returns up to limit stored versions with a key after after,
// in key order.
func (s *Store) ScanVersions(ctx context.Context, after secrets.VersionKey, limit int) ([]secrets.StoredVersion, error) {
	rows, err := s.db.Query(ctx, qScanVersions, after.SecretID, after.Version, int64(max(limit, 0)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []secrets.StoredVersion{}
	for rows.Next() {
		sv, err := scanStored(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sv)
	}
	return out, rows.Err()
}

// GetStoredVersion returns one stored version, or ErrNotFound when it is
// gone or erased.
func (s *Store) GetStoredVersion(ctx context.Context, key secrets.VersionKey) (secrets.StoredVersion, error) {
	sv, err := scanStored(s.db.QueryRow(ctx, qGetStoredVersion, key.SecretID, key.Version))
	return sv, notFound(err)
}

// scanStored reads the storedCols columns of a stored version.
func scanStored(row pgx.Row) (secrets.StoredVersion, error) {
	var sv secrets.StoredVersion
	var v nullableValue
	err := row.Scan(&sv.SecretID, &sv.Version, &sv.Workspace, &sv.Name, &v.ciphertext, &v.dek, &v.provider,
		&v.format, &sv.Deleted)
	if err != nil {
		return secrets.StoredVersion{}, err
	}
	sv.Sealed, err = v.sealed()
	return sv, err
}

// ResealVersions re-seals the batch in one transaction and one round trip:
// qLockReseal and qReseal pipelined in one pgx.Batch, which runs as one
// implicit transaction. qReseal is a single statement, so a failure leaves
// nothing of the batch. The secrets' revisions do not change.
func (s *Store) ResealVersions(ctx context.Context, rs []secrets.Reseal) ([]error, error) {
	if err := secrets.CheckReseals(rs); err != nil {
		return nil, err
	}
	return reseal(ctx, s.db, rs)
}

// batchSender is a pool or a transaction.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// reseal runs qLockReseal and qReseal for rs, checked by CheckReseals, on
// to (a pool: their own implicit transaction) and returns each version's
// outcome.
func reseal(ctx context.Context, to batchSender, rs []secrets.Reseal) ([]error, error) {
	errs := make([]error, len(rs))
	if len(rs) == 0 {
		return errs, nil
	}
	a := resealColumns(rs)
	b := &pgx.Batch{}
	b.Queue(qLockReseal, a.ids, a.versions)
	b.Queue(qReseal, a.ids, a.versions, a.olds, a.ciphertexts, a.deks, a.providers, a.formats).
		Query(func(rows pgx.Rows) error { return scanResealed(rows, errs) })
	if err := to.SendBatch(ctx, b).Close(); err != nil {
		return nil, mapErr(err)
	}
	return errs, nil
}

// resealArrays is a batch of reseals as one array per column, the
// parameters of qReseal.
type resealArrays struct {
	ids, versions           []int64
	olds, ciphertexts, deks [][]byte
	providers               []string
	formats                 []int32
}

func resealColumns(rs []secrets.Reseal) resealArrays {
	var a resealArrays
	for _, r := range rs {
		a.ids, a.versions = append(a.ids, r.SecretID), append(a.versions, r.Version)
		a.olds = append(a.olds, blob(r.Old))
		a.ciphertexts, a.deks = append(a.ciphertexts, blob(r.Sealed.Ciphertext)), append(a.deks, blob(r.Sealed.WrappedDEK))
		a.providers, a.formats = append(a.providers, r.Sealed.Provider), append(a.formats, int32(r.Sealed.Format))
	}
	return a
}

// scanResealed reads qReseal's rows, one per version in batch order, into
// errs.
func scanResealed(rows pgx.Rows, errs []error) error {
	i := 0
	for ; rows.Next(); i++ {
		var resealed, stored bool
		if err := rows.Scan(&resealed, &stored); err != nil {
			return err
		}
		switch {
		case i >= len(errs):
			return fmt.Errorf("postgres: reseal returned more than %d rows", len(errs))
		case !stored:
			errs[i] = secrets.ErrNotFound
		case !resealed:
			errs[i] = secrets.ErrRevisionChanged
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if i != len(errs) {
		return fmt.Errorf("postgres: reseal returned %d rows for %d versions", i, len(errs))
	}
	return nil
}

// CountSealed returns the number of stored versions, live and in the bin,
// per provider and format.
func (s *Store) CountSealed(ctx context.Context) ([]secrets.SealedCount, error) {
	rows, err := s.db.Query(ctx, qCountSealed)
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

// CountSecrets returns the number of live secrets in all workspaces (the
// recycle bin does not count), from the sharded counts the triggers of
// migrations 3 and 4 keep: a few rows per workspace are read, whatever the
// number of secrets.
func (s *Store) CountSecrets(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(n), 0)::bigint FROM secret_counts`).Scan(&n)
	return n, err
}
