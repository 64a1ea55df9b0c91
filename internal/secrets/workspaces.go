package secrets

import (
	"context"
	"errors"
)

// EnsureBuiltins creates the built-in workspaces that do not exist yet. It
// runs at startup before the listener opens and is safe when several
// replicas start together.
func (s *Service) EnsureBuiltins(ctx context.Context) error {
	for _, b := range BuiltinWorkspaces {
		if err := s.EnsureWorkspace(ctx, b.Name, b.Description); err != nil {
			return err
		}
	}
	return nil
}

// EnsureWorkspace creates workspace name with description unless it exists.
func (s *Service) EnsureWorkspace(ctx context.Context, name, description string) error {
	if _, err := s.store.GetWorkspace(ctx, name); err == nil {
		return nil
	}
	now := Now()
	err := s.store.CreateWorkspace(ctx, Workspace{ID: newWorkspaceID(), Name: name,
		Description: &description, CreatedAt: now, UpdatedAt: now}, "")
	if err != nil && !errors.Is(err, ErrAlreadyExists) {
		return err
	}
	return nil
}

// CreateWorkspace creates a workspace; actor is the effective principal id or nil.
func (s *Service) CreateWorkspace(ctx context.Context, name string, description *string, actor *string) (Workspace, error) {
	now := Now()
	w := Workspace{ID: newWorkspaceID(), Name: name, Description: description,
		CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor}
	err := s.store.CreateWorkspace(ctx, w, "")
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
func (s *Service) ListWorkspaces(ctx context.Context, sort string, page, pageSize int) ([]Workspace, Page, error) {
	p := Page{Page: page, PageSize: pageSize}
	items, total, err := s.store.ListWorkspaces(ctx, WorkspaceQuery{Sort: sort, Offset: p.Offset(), Limit: pageSize})
	if err != nil {
		return nil, p, internal(MsgUnexpected, err)
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
	case errors.Is(err, ErrNotFound):
		return workspaceNotFound(name)
	default:
		return internal(MsgUnexpected, err)
	}
}
