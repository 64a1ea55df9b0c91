package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// CreateSecret inserts r with revision 1 and returns the stored record.
func (s *Store) CreateSecret(ctx context.Context, r secrets.Record) (secrets.Record, error) {
	row := s.pool.QueryRow(ctx, qCreateSecret, r.Workspace, r.Name, r.Description,
		blob(r.Sealed.Ciphertext), blob(r.Sealed.WrappedDEK), r.Sealed.Provider, r.Sealed.Format,
		ts(r.CreatedAt), ts(r.UpdatedAt), r.CreatedBy, r.UpdatedBy)
	rec, err := scanRecord(row)
	return rec, mapErr(err)
}

// ImportSecret inserts r with revision 1, or when (workspace, name) exists
// and replace is set overwrites it and increments its revision, in one
// upsert statement. stored is false when an existing secret was kept.
func (s *Store) ImportSecret(ctx context.Context, r secrets.Record, replace bool) (bool, error) {
	tag, err := s.pool.Exec(ctx, qImportSecret, r.Workspace, r.Name, r.Description,
		blob(r.Sealed.Ciphertext), blob(r.Sealed.WrappedDEK), r.Sealed.Provider, r.Sealed.Format,
		ts(r.CreatedAt), ts(r.UpdatedAt), r.CreatedBy, r.UpdatedBy, replace)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() > 0, nil
}

// GetSecret returns a record or ErrNotFound.
func (s *Store) GetSecret(ctx context.Context, ws, name string) (secrets.Record, error) {
	rec, err := scanRecord(s.pool.QueryRow(ctx, qGetSecret, ws, name))
	return rec, notFound(err)
}

// ListSecrets returns one page of a workspace's secrets and the total, both
// without q.Exclude; ErrNoWorkspace if the workspace is missing.
func (s *Store) ListSecrets(ctx context.Context, ws string, q secrets.SecretQuery) ([]secrets.Secret, int, error) {
	rows, err := s.pool.Query(ctx, qListSecrets, ws, q.Exclude, int64(max(q.Limit, 0)), int64(max(q.Offset, 0)))
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	items := []secrets.Secret{}
	total, found := 0, false
	for rows.Next() {
		sec, ok, err := scanListRow(rows, &total)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			items = append(items, sec)
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if !found {
		return nil, 0, secrets.ErrNoWorkspace
	}
	return items, total, nil
}

// scanListRow reads the total and one page item; ok is false for the NULL
// row that stands for an empty page.
func scanListRow(rows pgx.Rows, total *int) (sec secrets.Secret, ok bool, err error) {
	var name, ws *string
	var created, updated *time.Time
	err = rows.Scan(total, &name, &ws, &sec.Description, &created, &updated, &sec.CreatedBy, &sec.UpdatedBy)
	if err != nil || name == nil {
		return sec, false, err
	}
	sec.Name, sec.Workspace, sec.CreatedAt, sec.UpdatedAt = *name, *ws, utc(*created), utc(*updated)
	return sec, true, nil
}

// UpdateSecret applies u, increments the revision and returns the metadata.
func (s *Store) UpdateSecret(ctx context.Context, ws, name string, u secrets.SecretUpdate) (secrets.Secret, error) {
	var ct, dek []byte
	var provider *string
	var format *int
	if u.Sealed != nil {
		ct, dek, provider, format = blob(u.Sealed.Ciphertext), blob(u.Sealed.WrappedDEK), &u.Sealed.Provider, &u.Sealed.Format
	}
	row := s.pool.QueryRow(ctx, qUpdateSecret, ws, name, u.Description, ct, dek, provider, format,
		ts(u.UpdatedAt), u.UpdatedBy)
	sec, err := scanMeta(row)
	return sec, notFound(err)
}

// DeleteSecret removes a secret or returns ErrNotFound.
func (s *Store) DeleteSecret(ctx context.Context, ws, name string) error {
	return affected(s.pool.Exec(ctx, qDeleteSecret, ws, name))
}

// ScanSecrets returns up to limit records with ID > afterID by ascending ID.
func (s *Store) ScanSecrets(ctx context.Context, afterID int64, limit int) ([]secrets.Record, error) {
	rows, err := s.pool.Query(ctx, qScan, afterID, int64(max(limit, 0)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recs := []secrets.Record{}
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, rows.Err()
}

// GetSecretByID returns a record by internal ID or ErrNotFound.
func (s *Store) GetSecretByID(ctx context.Context, id int64) (secrets.Record, error) {
	rec, err := scanRecord(s.pool.QueryRow(ctx, qGetByID, id))
	return rec, notFound(err)
}

// ResealSecrets re-seals the batch in one transaction and one round trip:
// qLockReseal and qReseal pipelined in one pgx.Batch, which runs as one
// implicit transaction. qReseal is a single statement, so a failure leaves
// nothing of the batch.
func (s *Store) ResealSecrets(ctx context.Context, rs []secrets.Reseal) ([]error, error) {
	if err := secrets.CheckReseals(rs); err != nil {
		return nil, err
	}
	errs := make([]error, len(rs))
	if len(rs) == 0 {
		return errs, nil
	}
	b := &pgx.Batch{}
	cols := resealColumns(rs)
	b.Queue(qLockReseal, cols.ids)
	b.Queue(qReseal, cols.ids, cols.revisions, cols.ciphertexts, cols.deks, cols.providers, cols.formats)
	br := s.pool.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		err = scanResealed(br, errs)
	}
	// Close reads the rest, including the implicit commit's outcome.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// resealArrays is a batch of reseals as one array per column, the
// parameters of qReseal.
type resealArrays struct {
	ids, revisions    []int64
	ciphertexts, deks [][]byte
	providers         []string
	formats           []int32
}

func resealColumns(rs []secrets.Reseal) resealArrays {
	var a resealArrays
	for _, r := range rs {
		a.ids, a.revisions = append(a.ids, r.ID), append(a.revisions, r.Revision)
		a.ciphertexts, a.deks = append(a.ciphertexts, blob(r.Sealed.Ciphertext)), append(a.deks, blob(r.Sealed.WrappedDEK))
		a.providers, a.formats = append(a.providers, r.Sealed.Provider), append(a.formats, int32(r.Sealed.Format))
	}
	return a
}

// scanResealed reads qReseal's rows, one per record in batch order, into
// errs.
func scanResealed(br pgx.BatchResults, errs []error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var updated, exists bool
		if err := rows.Scan(&updated, &exists); err != nil {
			return err
		}
		switch {
		case i >= len(errs):
			return fmt.Errorf("postgres: reseal returned more than %d rows", len(errs))
		case !exists:
			errs[i] = secrets.ErrNotFound
		case !updated:
			errs[i] = secrets.ErrRevisionChanged
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if i != len(errs) {
		return fmt.Errorf("postgres: reseal returned %d rows for %d records", i, len(errs))
	}
	return nil
}

// CountByProvider returns the number of stored secrets per provider name.
func (s *Store) CountByProvider(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, qCountByProvider)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var provider string
		var n int
		if err := rows.Scan(&provider, &n); err != nil {
			return nil, err
		}
		counts[provider] = n
	}
	return counts, rows.Err()
}

// scanRecord reads the secretCols columns.
func scanRecord(row pgx.Row) (secrets.Record, error) {
	var r secrets.Record
	err := row.Scan(&r.ID, &r.Workspace, &r.Name, &r.Description, &r.Sealed.Ciphertext,
		&r.Sealed.WrappedDEK, &r.Sealed.Provider, &r.Sealed.Format, &r.CreatedAt, &r.UpdatedAt,
		&r.CreatedBy, &r.UpdatedBy, &r.Revision)
	if err != nil {
		return secrets.Record{}, err
	}
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	r.Sealed.Ciphertext, r.Sealed.WrappedDEK = blob(r.Sealed.Ciphertext), blob(r.Sealed.WrappedDEK)
	return r, nil
}

// scanMeta reads the metaCols columns.
func scanMeta(row pgx.Row) (secrets.Secret, error) {
	var sec secrets.Secret
	err := row.Scan(&sec.Name, &sec.Workspace, &sec.Description, &sec.CreatedAt, &sec.UpdatedAt,
		&sec.CreatedBy, &sec.UpdatedBy)
	if err != nil {
		return secrets.Secret{}, err
	}
	sec.CreatedAt, sec.UpdatedAt = utc(sec.CreatedAt), utc(sec.UpdatedAt)
	return sec, nil
}
