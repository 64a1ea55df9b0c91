package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/envelope"
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

// ResealSecret replaces the sealed value if the revision is unchanged. When
// nothing was updated, a second read tells a changed revision from a
// deleted record; it changes nothing, so it needs no transaction.
func (s *Store) ResealSecret(ctx context.Context, id, revision int64, sealed envelope.Sealed) error {
	tag, err := s.pool.Exec(ctx, qReseal, id, revision, blob(sealed.Ciphertext),
		blob(sealed.WrappedDEK), sealed.Provider, sealed.Format)
	if err := affected(tag, err); !errors.Is(err, secrets.ErrNotFound) {
		return err
	}
	var n int
	if err := s.pool.QueryRow(ctx, qSecretExists, id).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return secrets.ErrRevisionChanged
	}
	return secrets.ErrNotFound
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
