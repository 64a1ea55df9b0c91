package secrets

import (
	"context"
	"errors"
	"math"
	"slices"
)

// EnsureBuiltins creates the built-in workspaces that do not exist yet. It
// runs at startup before the listener opens and is safe when several
// replicas start together.
func (s *Service) EnsureBuiltins(ctx context.Context) error {
	for _, b := range BuiltinWorkspaces {
		if err := s.ensureWorkspace(ctx, b.Name, &b.Description); err != nil {
			return err
		}
	}
	return nil
}

// CreateWorkspace creates a workspace; actor is the effective principal id
// or nil. A non-empty admin is bound as the workspace's Admin in the same
// transaction (docs/auth.md "Roles").
func (s *Service) CreateWorkspace(ctx context.Context, name string, description *string, actor *string, admin string) (Workspace, error) {
	now := Now()
	w := Workspace{ID: newWorkspaceID(), Name: name, Description: description,
		CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor}
	err := s.store.CreateWorkspace(ctx, w, admin)
	switch {
	case errors.Is(err, ErrAlreadyExists):
		return Workspace{}, errf(KindConflict, "Workspace '"+name+"' already exists")
	case err != nil:
		return Workspace{}, internal(MsgUnexpected, err)
	}
	return w, nil
}

// GetWorkspace returns one workspace.
func (s *Service) GetWorkspace(ctx context.Context, name string) (Workspace, error) {
	w, err := s.store.GetWorkspace(ctx, name)
	return w, workspaceErr(name, err)
}

// ListWorkspaces returns one page of workspaces in the given sort order.
// visible, when not nil, keeps only the workspaces the caller may see; the
// totals then count those only.
func (s *Service) ListWorkspaces(ctx context.Context, sort string, page, pageSize int, visible func(string) bool) ([]Workspace, Page, error) {
	p := Page{Page: page, PageSize: pageSize}
	q := WorkspaceQuery{Sort: sort, Offset: p.Offset(), Limit: pageSize}
	if visible != nil {
		// Workspaces number in the hundreds: filtering the sorted list in
		// memory keeps the store contract small.
		q.Offset, q.Limit = 0, math.MaxInt32
	}
	items, total, err := s.store.ListWorkspaces(ctx, q)
	if err != nil {
		return nil, p, internal(MsgUnexpected, err)
	}
	if visible != nil {
		items = slices.DeleteFunc(items, func(w Workspace) bool { return !visible(w.Name) })
		total = len(items)
		start := min(p.Offset(), total)
		items = items[start : start+min(pageSize, total-start)]
	}
	p.TotalResults = total
	return items, p, nil
}

// UpdateWorkspace replaces a workspace's description when it is non-nil and
// always records who changed it and when.
func (s *Service) UpdateWorkspace(ctx context.Context, name string, description *string, actor *string) (Workspace, error) {
	w, err := s.store.UpdateWorkspace(ctx, name, WorkspaceUpdate{Description: description, UpdatedAt: Now(), UpdatedBy: actor})
	return w, workspaceErr(name, err)
}

// DeleteWorkspace deletes a workspace with its secrets and role bindings.
func (s *Service) DeleteWorkspace(ctx context.Context, name string) error {
	if IsBuiltin(name) {
		return errf(KindForbidden, "Cannot delete the built-in workspace '"+name+"'")
	}
	return workspaceErr(name, s.store.DeleteWorkspace(ctx, name))
}

func workspaceErr(name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), !storable(name):
		return workspaceNotFound(name)
	default:
		return internal(MsgUnexpected, err)
	}
}
