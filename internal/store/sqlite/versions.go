package sqlite

import (
	"context"
	"database/sql"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// ListVersions returns one page of a live secret's versions, erased ones
// included, newest first unless q.Ascending, and how many there are.
func (s *Store) ListVersions(ctx context.Context, ws, name string, q secrets.VersionQuery) ([]secrets.Version, int, error) {
	st := s.r.listVersionsDesc
	if q.Ascending {
		st = s.r.listVersionsAsc
	}
	rows, err := st.QueryContext(ctx, ws, name, max(q.Limit, 0), max(q.Offset, 0))
	items, total, err := scanPage(rows, err, func(total *int) (secrets.Version, bool, error) {
		var v secrets.Version
		var number, created sql.NullInt64
		var erased sql.NullBool
		if err := rows.Scan(total, &number, &created, &v.CreatedBy, &erased); err != nil || !number.Valid {
			return v, false, err
		}
		v.Number, v.CreatedAt, v.Destroyed = number.Int64, fromMicros(created.Int64), erased.Bool
		return v, true, nil
	})
	if err == secrets.ErrNoWorkspace { // scanPage's "no row": here no live secret
		err = secrets.ErrNotFound
	}
	return items, total, err
}

// RestoreVersion copies version's sealed value, as stored, into a new
// current version, as UpdateSecret does with a new value.
func (s *Store) RestoreVersion(ctx context.Context, ws, name string, version int64, u secrets.SecretUpdate) (secrets.Record, error) {
	var rec secrets.Record
	u.Description = nil
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		l, err := s.lookupLive(ctx, tx, ws, name, u.Cond)
		if err != nil {
			return err
		}
		// The copy comes first: it finds no row for a version that never
		// existed or was erased, before anything changed.
		res, err := tx.StmtContext(ctx, s.w.copyVersion).ExecContext(ctx, l.id, version, l.version+1,
			micros(u.UpdatedAt), u.UpdatedBy)
		if err := affected(res, err); err == secrets.ErrNotFound {
			return secrets.ErrVersionNotFound
		} else if err != nil {
			return err
		}
		if rec, err = s.updateMeta(ctx, tx, ws, name, u, true); err != nil {
			return err
		}
		return s.prune(ctx, tx, rec.ID, rec.Version, u.Keep)
	})
	if err != nil {
		return secrets.Record{}, err
	}
	return rec, nil
}

// DestroyVersion erases one version's value and increments the secret's
// revision; a version already erased is left alone, revision included.
func (s *Store) DestroyVersion(ctx context.Context, ws, name string, version int64, cond secrets.Cond) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		l, err := s.lookupLive(ctx, tx, ws, name, cond)
		switch {
		case err != nil:
			return err
		case version < 1 || version > l.version:
			return secrets.ErrVersionNotFound
		case version == l.version:
			return secrets.ErrCurrentVersion
		}
		res, err := tx.StmtContext(ctx, s.w.destroy).ExecContext(ctx, l.id, version)
		if err := affected(res, err); err == secrets.ErrNotFound {
			return nil // erased already: nothing a client could see changed
		} else if err != nil {
			return err
		}
		_, err = tx.StmtContext(ctx, s.w.touch).ExecContext(ctx, l.id)
		return err
	})
}
