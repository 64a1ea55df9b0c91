package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// CreateSecret inserts r with revision 1 and returns the stored record.
func (s *Store) CreateSecret(ctx context.Context, r secrets.Record) (secrets.Record, error) {
	var rec secrets.Record
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		row := tx.StmtContext(ctx, s.w.createSecret).QueryRowContext(ctx, r.Workspace, r.Name, r.Description,
			blob(r.Sealed.Ciphertext), blob(r.Sealed.WrappedDEK), r.Sealed.Provider, r.Sealed.Format,
			micros(r.CreatedAt), micros(r.UpdatedAt), r.CreatedBy, r.UpdatedBy)
		var err error
		rec, err = scanRecord(row)
		return mapErr(err)
	})
	if err != nil {
		return secrets.Record{}, err
	}
	return rec, nil
}

// ImportSecret inserts r with revision 1, or when (workspace, name) exists
// and replace is set overwrites it and increments its revision, in one
// upsert statement. stored is false when an existing secret was kept.
func (s *Store) ImportSecret(ctx context.Context, r secrets.Record, replace bool) (bool, error) {
	stored := false
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.w.importSecret).ExecContext(ctx, r.Workspace, r.Name, r.Description,
			blob(r.Sealed.Ciphertext), blob(r.Sealed.WrappedDEK), r.Sealed.Provider, r.Sealed.Format,
			micros(r.CreatedAt), micros(r.UpdatedAt), r.CreatedBy, r.UpdatedBy, replace)
		if err != nil {
			return mapErr(err)
		}
		n, err := res.RowsAffected()
		stored = n > 0
		return err
	})
	return stored && err == nil, err
}

// GetSecret returns a record or ErrNotFound, from the read cache when no
// transaction has committed since it was last read (cache.go).
func (s *Store) GetSecret(ctx context.Context, ws, name string) (secrets.Record, error) {
	return cached(s.cache, &s.cache.records, recordKey{ws, name}, func() (secrets.Record, error) {
		return s.getSecret(ctx, ws, name)
	})
}

// getSecret is GetSecret's query. It is the access and get path, so it runs
// without the caller's cancellation: with a cancellable context (every HTTP
// request has one) database/sql and the driver each start a goroutine per
// query to watch it, which costs more than this unique-index lookup, which a
// cancellation could not usefully shorten. A reader never waits for the
// writer in WAL mode; any other lock wait is still bounded by busy_timeout.
//
// The statement does not select workspace and name: they are the lookup
// keys, and the row found holds exactly those bytes. Every column costs the
// driver and database/sql work and allocations on each read.
func (s *Store) getSecret(ctx context.Context, ws, name string) (secrets.Record, error) {
	r := secrets.Record{Secret: secrets.Secret{Workspace: ws, Name: name}}
	var created, updated int64
	err := s.r.getSecret.QueryRowContext(context.WithoutCancel(ctx), ws, name).Scan(&r.ID, &r.Description,
		&r.Sealed.Ciphertext, &r.Sealed.WrappedDEK, &r.Sealed.Provider, &r.Sealed.Format, &created, &updated,
		&r.CreatedBy, &r.UpdatedBy, &r.Revision)
	if err != nil {
		return secrets.Record{}, notFound(err)
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	r.Sealed.Ciphertext, r.Sealed.WrappedDEK = blob(r.Sealed.Ciphertext), blob(r.Sealed.WrappedDEK)
	return r, nil
}

// ListSecrets returns one page of a workspace's secrets and the total, both
// without q.Exclude; ErrNoWorkspace if the workspace is missing. Pages come
// from the read cache like GetSecret's records.
func (s *Store) ListSecrets(ctx context.Context, ws string, q secrets.SecretQuery) ([]secrets.Secret, int, error) {
	key := pageKey{ws: ws, exclude: q.Exclude, limit: max(q.Limit, 0), offset: max(q.Offset, 0)}
	p, err := cached(s.cache, &s.cache.pages, key, func() (cachedPage, error) {
		items, total, err := s.listSecrets(ctx, key)
		return cachedPage{items: slices.Clip(items), total: total}, err
	})
	return p.items, p.total, err
}

// listSecrets is ListSecrets' query.
func (s *Store) listSecrets(ctx context.Context, q pageKey) ([]secrets.Secret, int, error) {
	rows, err := s.r.listSecrets.QueryContext(ctx, q.ws, q.exclude, q.limit, q.offset)
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
func scanListRow(rows *sql.Rows, total *int) (sec secrets.Secret, ok bool, err error) {
	var name, ws sql.NullString
	var created, updated sql.NullInt64
	err = rows.Scan(total, &name, &ws, &sec.Description, &created, &updated, &sec.CreatedBy, &sec.UpdatedBy)
	if err != nil || !name.Valid {
		return sec, false, err
	}
	sec.Name, sec.Workspace = name.String, ws.String
	sec.CreatedAt, sec.UpdatedAt = fromMicros(created.Int64), fromMicros(updated.Int64)
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
	var sec secrets.Secret
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		row := tx.StmtContext(ctx, s.w.updateSecret).QueryRowContext(ctx, ws, name, u.Description,
			ct, dek, provider, format, micros(u.UpdatedAt), u.UpdatedBy)
		var err error
		sec, err = scanMeta(row)
		return notFound(err)
	})
	if err != nil {
		return secrets.Secret{}, err
	}
	return sec, nil
}

// DeleteSecret removes a secret or returns ErrNotFound.
func (s *Store) DeleteSecret(ctx context.Context, ws, name string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return affected(tx.StmtContext(ctx, s.w.deleteSecret).ExecContext(ctx, ws, name))
	})
}

// ScanSecrets returns up to limit records with ID > afterID by ascending ID.
func (s *Store) ScanSecrets(ctx context.Context, afterID int64, limit int) ([]secrets.Record, error) {
	rows, err := s.r.scan.QueryContext(ctx, afterID, max(limit, 0))
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
	rec, err := scanRecord(s.r.getByID.QueryRowContext(ctx, id))
	return rec, notFound(err)
}

// ResealSecrets re-seals the batch as one write of the committer, so one
// savepoint and one commit (one fsync) for all of it. A record the guarded
// UPDATE misses is told changed from deleted by a second read in the same
// transaction. A statement error returns from the write, whose savepoint is
// then rolled back: nothing of the batch stays.
func (s *Store) ResealSecrets(ctx context.Context, rs []secrets.Reseal) ([]error, error) {
	if err := secrets.CheckReseals(rs); err != nil {
		return nil, err
	}
	errs := make([]error, len(rs))
	if len(rs) == 0 {
		return errs, nil
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		reseal, exists := tx.StmtContext(ctx, s.w.reseal), tx.StmtContext(ctx, s.w.secretExists)
		for i, r := range rs {
			var err error
			if errs[i], err = resealOne(ctx, reseal, exists, r); err != nil {
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

// resealOne runs one record of a batch: outcome is its own result (nil,
// ErrRevisionChanged, ErrNotFound), err a failure of the whole batch.
func resealOne(ctx context.Context, reseal, exists *sql.Stmt, r secrets.Reseal) (outcome, err error) {
	res, err := reseal.ExecContext(ctx, r.ID, r.Revision, blob(r.Sealed.Ciphertext),
		blob(r.Sealed.WrappedDEK), r.Sealed.Provider, r.Sealed.Format)
	if err := affected(res, err); !errors.Is(err, secrets.ErrNotFound) {
		return nil, err
	}
	var n int
	if err := exists.QueryRowContext(ctx, r.ID).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return secrets.ErrRevisionChanged, nil
	}
	return secrets.ErrNotFound, nil
}

// CountByProvider returns the number of stored secrets per provider name.
func (s *Store) CountByProvider(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.countByProvider.QueryContext(ctx)
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
func scanRecord(row scanner) (secrets.Record, error) {
	var r secrets.Record
	var created, updated int64
	err := row.Scan(&r.ID, &r.Workspace, &r.Name, &r.Description, &r.Sealed.Ciphertext,
		&r.Sealed.WrappedDEK, &r.Sealed.Provider, &r.Sealed.Format, &created, &updated,
		&r.CreatedBy, &r.UpdatedBy, &r.Revision)
	if err != nil {
		return secrets.Record{}, err
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	r.Sealed.Ciphertext, r.Sealed.WrappedDEK = blob(r.Sealed.Ciphertext), blob(r.Sealed.WrappedDEK)
	return r, nil
}

// scanMeta reads the metaCols columns.
func scanMeta(row scanner) (secrets.Secret, error) {
	var sec secrets.Secret
	var created, updated int64
	err := row.Scan(&sec.Name, &sec.Workspace, &sec.Description, &created, &updated,
		&sec.CreatedBy, &sec.UpdatedBy)
	if err != nil {
		return secrets.Secret{}, err
	}
	sec.CreatedAt, sec.UpdatedAt = fromMicros(created), fromMicros(updated)
	return sec, nil
}
