package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// ListVersions returns one page of a live secret's versions created within
// q's bounds, erased ones included, newest first unless q.Ascending, and
// how many match; ErrNotFound without a live secret.
func (s *Store) ListVersions(ctx context.Context, ws, name string, q secrets.VersionQuery) ([]secrets.Version, int, error) {
	query, args := versionListQuery(ws, name, q)
	items, total, err := listPage(ctx, s, query, args, func(rows pgx.Rows, total *int) (secrets.Version, bool, error) {
		var v secrets.Version
		var number *int64
		var created *time.Time
		var erased *bool
		if err := rows.Scan(total, &number, &created, &v.CreatedBy, &erased); err != nil || number == nil {
			return v, false, err
		}
		v.Number, v.CreatedAt, v.Destroyed = *number, utc(*created), *erased
		return v, true, nil
	})
	if errors.Is(err, secrets.ErrNoWorkspace) { // listPage's "no row": here no live secret
		err = secrets.ErrNotFound
	}
	return items, total, err
}

// versionListQuery returns the SQL and arguments of a page of the live
// secret ws/name's versions. No row: no live secret; one row of NULLs: an
// empty page. A secret has exactly the versions 1 to current_version (rows
// are never removed one by one), so without bounds current_version is the
// total.
func versionListQuery(ws, name string, q secrets.VersionQuery) (string, []any) {
	args := queryArgs{ws, name, int64(max(q.Limit, 0)), int64(max(q.Offset, 0))}
	var bounds strings.Builder
	timeTerms(&bounds, &args, "v.created_at", q.CreatedFrom, q.CreatedTo)
	order := "version DESC"
	if q.Ascending {
		order = "version ASC"
	}
	total := "live.current_version"
	if bounds.Len() > 0 {
		total = `(SELECT count(*) FROM secret_versions AS v WHERE v.secret_id = live.id` + bounds.String() + `)`
	}
	return `WITH live AS (SELECT s.id, s.current_version FROM secrets AS s WHERE ` + liveByName + `)
		, page AS (SELECT v.version, v.created_at, v.created_by, v.ciphertext IS NULL AS erased
			FROM secret_versions AS v WHERE v.secret_id = (SELECT id FROM live)` + bounds.String() + `
			ORDER BY v.` + order + ` LIMIT $3 OFFSET $4)
		SELECT ` + total + `, page.* FROM live LEFT JOIN page ON true ORDER BY page.` + order, args
}

// restoreVersion copies version's sealed value, as stored, into a new
// current version, as UpdateSecret does with a new value (u.Description is
// ignored), and returns the record without its sealed value.
func (s *Store) restoreVersion(ctx context.Context, ws, name string, version int64, u secrets.SecretUpdate) (secrets.Record, error) {
	var rec secrets.Record
	err := s.withLive(ctx, qLockLive, ws, name, u.Cond, func(tx pgx.Tx, l live) error {
		var err error
		rec, err = scanRecord(tx.QueryRow(ctx, qRestoreVersion, l.id, version, ts(u.UpdatedAt), u.UpdatedBy))
		if errors.Is(err, pgx.ErrNoRows) {
			return secrets.ErrVersionNotFound
		} else if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, qPrune, ws, name, keep(u.Keep))
		return err
	})
	if err != nil {
		return secrets.Record{}, mapErr(err)
	}
	return rec, nil
}

// destroyVersion erases one version's value and increments the secret's
// revision; a version already erased is left alone, revision included.
func (s *Store) destroyVersion(ctx context.Context, ws, name string, version int64, cond secrets.Cond) error {
	return s.withLive(ctx, qLockLive, ws, name, cond, func(tx pgx.Tx, l live) error {
		switch {
		case version < 1 || version > l.version:
			return secrets.ErrVersionNotFound
		case version == l.version:
			return secrets.ErrCurrentVersion
		}
		_, err := tx.Exec(ctx, qDestroyVersion, l.id, version)
		return mapErr(err)
	})
}
