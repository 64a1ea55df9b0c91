package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// ListVersions returns one page of a live secret's versions created within
// q's bounds, erased ones included, newest first unless q.Ascending, and
// how many match.
func (s *Store) ListVersions(ctx context.Context, ws, name string, q secrets.VersionQuery) ([]secrets.Version, int, error) {
	query, args := versionListQuery(ws, name, q)
	rows, err := s.r.lists.query(ctx, query, args)
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
	if errors.Is(err, secrets.ErrNoWorkspace) { // scanPage's "no row": here no live secret
		err = secrets.ErrNotFound
	}
	return items, total, err
}

// versionListQuery returns the SQL and arguments of a page of a live
// secret's versions, in one statement (one snapshot); no row means no live
// secret. Without bounds the total is the current version: versions are
// never removed, so a secret has exactly the versions 1 to current.
func versionListQuery(ws, name string, q secrets.VersionQuery) (string, []any) {
	args := queryArgs{}
	args.add(ws)
	args.add(name)
	args.add(max(q.Limit, 0))
	args.add(max(q.Offset, 0))
	var bounds strings.Builder
	timeTerms(&bounds, &args, "created_at", q.CreatedFrom, q.CreatedTo)
	dir := "DESC"
	if q.Ascending {
		dir = "ASC"
	}
	total := `s.current_version`
	if bounds.Len() > 0 {
		total = `(SELECT count(*) FROM secret_versions WHERE secret_id = s.id` + bounds.String() + `)`
	}
	return `WITH s AS (SELECT id, current_version FROM secrets WHERE ` + liveByName + `),
			page AS (SELECT version, created_at, created_by, ciphertext IS NULL AS erased
				FROM secret_versions WHERE secret_id = (SELECT id FROM s)` + bounds.String() + `
				ORDER BY version ` + dir + ` LIMIT ?3 OFFSET ?4)
		SELECT ` + total + `, page.* FROM s LEFT JOIN page ON true ORDER BY page.version ` + dir, args
}

// RestoreVersion copies version's sealed value, as stored, into a new
// current version, as UpdateSecret does with a new value.
func (s *Store) RestoreVersion(ctx context.Context, ws, name string, version int64, u secrets.SecretUpdate) (secrets.Record, error) {
	var rec secrets.Record
	u.Description = nil
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		l, err := s.liveSecret(ctx, tx, ws, name, u.Cond)
		if err != nil {
			return err
		}
		// The copy comes first: it finds no row for a version that never
		// existed or was erased, before anything changed, and the UPDATE
		// after it may prune the version copied.
		res, err := tx.StmtContext(ctx, s.w.copyVersion).ExecContext(ctx, l.id, version, l.version+1,
			micros(u.UpdatedAt), u.UpdatedBy)
		if err := affected(res, err); errors.Is(err, secrets.ErrNotFound) {
			return secrets.ErrVersionNotFound
		} else if err != nil {
			return err
		}
		row, err := res.LastInsertId()
		if err != nil {
			return err
		}
		var updated bool
		if rec, updated, err = s.updateMeta(ctx, tx, l, u, &row); err == nil && !updated {
			err = errChangedInWrite
		}
		secrets.SetAuditVersion(ctx, rec.Version)
		return err
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
		l, err := s.liveSecret(ctx, tx, ws, name, cond)
		switch {
		case err != nil:
			return err
		case version < 1 || version > l.version:
			return secrets.ErrVersionNotFound
		case version == l.version:
			return secrets.ErrCurrentVersion
		}
		res, err := tx.StmtContext(ctx, s.w.destroy).ExecContext(ctx, l.id, version)
		if err := affected(res, err); errors.Is(err, secrets.ErrNotFound) {
			return nil // erased already: nothing a client could see changed
		} else if err != nil {
			return err
		}
		_, err = tx.StmtContext(ctx, s.w.touch).ExecContext(ctx, l.id)
		return err
	})
}
