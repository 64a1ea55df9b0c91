package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// createWorkspace inserts w and, when admin is not "", binds admin as its
// Admin in the same statement; ErrAlreadyExists if the name is taken.
func (s *Store) createWorkspace(ctx context.Context, w secrets.Workspace, admin string) error {
	if !secrets.StorableText(admin) {
		return secrets.ErrUnstorableText
	}
	_, err := s.db.Exec(ctx, qCreateWorkspace, w.ID, w.Name, w.Description,
		ts(w.CreatedAt), w.CreatedBy, ts(w.UpdatedAt), w.UpdatedBy, admin, secrets.RoleAdmin)
	return mapErr(err)
}

// GetWorkspace returns the named workspace or ErrNotFound.
func (s *Store) GetWorkspace(ctx context.Context, name string) (secrets.Workspace, error) {
	w, err := scanWorkspace(s.db.QueryRow(ctx, qGetWorkspace, name))
	return w, notFound(err)
}

// ListWorkspaces returns one page in the order of q.Sort and the total.
func (s *Store) ListWorkspaces(ctx context.Context, q secrets.WorkspaceQuery) ([]secrets.Workspace, int, error) {
	query, ok := listWorkspaces[q.Sort]
	if !ok {
		return nil, 0, fmt.Errorf("postgres: unknown workspace sort %q", q.Sort)
	}
	rows, err := s.db.Query(ctx, query, int64(max(q.Limit, 0)), int64(max(q.Offset, 0)))
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	items := []secrets.Workspace{}
	var total int
	for rows.Next() {
		w, ok, err := scanWorkspaceRow(rows, &total)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			items = append(items, w)
		}
	}
	return items, total, rows.Err()
}

// scanWorkspaceRow reads the total and one page item; ok is false for the
// NULL row that stands for an empty page.
func scanWorkspaceRow(rows pgx.Rows, total *int) (w secrets.Workspace, ok bool, err error) {
	var id, name *string
	var created, updated *time.Time
	err = rows.Scan(total, &id, &name, &w.Description, &created, &w.CreatedBy, &updated, &w.UpdatedBy)
	if err != nil || id == nil {
		return w, false, err
	}
	w.ID, w.Name, w.CreatedAt, w.UpdatedAt = *id, *name, utc(*created), utc(*updated)
	return w, true, nil
}

// updateWorkspace applies u and returns the result, or ErrNotFound.
func (s *Store) updateWorkspace(ctx context.Context, name string, u secrets.WorkspaceUpdate) (secrets.Workspace, error) {
	row := s.db.QueryRow(ctx, qUpdateWorkspace, name, u.Description, ts(u.UpdatedAt), u.UpdatedBy)
	w, err := scanWorkspace(row)
	return w, notFound(err)
}

// deleteWorkspace removes the workspace; foreign keys cascade to its secrets
// and role bindings in the same statement.
func (s *Store) deleteWorkspace(ctx context.Context, name string) error {
	return affected(s.db.Exec(ctx, qDeleteWorkspace, name))
}

// scanWorkspace reads the wsCols columns.
func scanWorkspace(row pgx.Row) (secrets.Workspace, error) {
	var w secrets.Workspace
	err := row.Scan(&w.ID, &w.Name, &w.Description, &w.CreatedAt, &w.CreatedBy, &w.UpdatedAt, &w.UpdatedBy)
	if err != nil {
		return secrets.Workspace{}, err
	}
	w.CreatedAt, w.UpdatedAt = utc(w.CreatedAt), utc(w.UpdatedAt)
	return w, nil
}
