package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// CreateWorkspace inserts w and, when admin is not "", binds admin as its
// Admin in the same transaction; ErrAlreadyExists if the name is taken.
func (s *Store) CreateWorkspace(ctx context.Context, w secrets.Workspace, admin string) error {
	if admin != "" && !secrets.StorableText(admin) {
		return secrets.ErrUnstorableText
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, s.w.createWorkspace).ExecContext(ctx, w.ID, w.Name, w.Description,
			micros(w.CreatedAt), w.CreatedBy, micros(w.UpdatedAt), w.UpdatedBy)
		if err != nil || admin == "" {
			return mapErr(err)
		}
		_, err = tx.StmtContext(ctx, s.w.grantRole).ExecContext(ctx, w.Name, admin, secrets.RoleAdmin,
			admin, micros(w.CreatedAt))
		return mapErr(err)
	})
}

// GetWorkspace returns the named workspace or ErrNotFound.
func (s *Store) GetWorkspace(ctx context.Context, name string) (secrets.Workspace, error) {
	w, err := scanWorkspace(s.r.getWorkspace.QueryRowContext(ctx, name))
	return w, notFound(err)
}

// ListWorkspaces returns one page in the order of q.Sort and the total.
func (s *Store) ListWorkspaces(ctx context.Context, q secrets.WorkspaceQuery) ([]secrets.Workspace, int, error) {
	st, ok := s.r.listWorkspaces[q.Sort]
	if !ok {
		return nil, 0, fmt.Errorf("sqlite: unknown workspace sort %q", q.Sort)
	}
	rows, err := st.QueryContext(ctx, max(q.Limit, 0), max(q.Offset, 0))
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
func scanWorkspaceRow(rows *sql.Rows, total *int) (w secrets.Workspace, ok bool, err error) {
	var id, name sql.NullString
	var created, updated sql.NullInt64
	err = rows.Scan(total, &id, &name, &w.Description, &created, &w.CreatedBy, &updated, &w.UpdatedBy)
	if err != nil || !id.Valid {
		return w, false, err
	}
	w.ID, w.Name = id.String, name.String
	w.CreatedAt, w.UpdatedAt = fromMicros(created.Int64), fromMicros(updated.Int64)
	return w, true, nil
}

// UpdateWorkspace applies u and returns the result, or ErrNotFound.
func (s *Store) UpdateWorkspace(ctx context.Context, name string, u secrets.WorkspaceUpdate) (secrets.Workspace, error) {
	var w secrets.Workspace
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		row := tx.StmtContext(ctx, s.w.updateWorkspace).QueryRowContext(ctx, name, u.Description,
			micros(u.UpdatedAt), u.UpdatedBy)
		var err error
		w, err = scanWorkspace(row)
		return notFound(err)
	})
	if err != nil {
		return secrets.Workspace{}, err
	}
	return w, nil
}

// DeleteWorkspace removes the workspace; foreign keys cascade to its secrets
// and role bindings in the same statement.
func (s *Store) DeleteWorkspace(ctx context.Context, name string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return affected(tx.StmtContext(ctx, s.w.deleteWorkspace).ExecContext(ctx, name))
	})
}

// affected turns "no row changed" into ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return secrets.ErrNotFound
	}
	return nil
}

// scanWorkspace reads the wsCols columns.
func scanWorkspace(row scanner) (secrets.Workspace, error) {
	var w secrets.Workspace
	var created, updated int64
	err := row.Scan(&w.ID, &w.Name, &w.Description, &created, &w.CreatedBy, &updated, &w.UpdatedBy)
	if err != nil {
		return secrets.Workspace{}, err
	}
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	return w, nil
}
