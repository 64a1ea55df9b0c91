package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Member is a principal's roles in one workspace (docs/api.md §9.7).
type Member struct {
	Principal string
	Roles     []string
	GrantedAt time.Time
	GrantedBy *string
}

// grantedBy is the caller id recorded on a grant, or "system".
func grantedBy(actor *string) *string {
	if actor != nil {
		return actor
	}
	system := "system"
	return &system
}

// ListMembers returns one entry per principal with a role in ws, ordered by
// its earliest grant.
func (s *Service) ListMembers(ctx context.Context, ws string) ([]Member, error) {
	bs, err := s.store.ListBindings(ctx, ws)
	if err != nil {
		return nil, workspaceErr(ws, err)
	}
	var out []Member
	index := map[string]int{}
	for _, b := range bs {
		i, ok := index[b.Principal]
		if !ok {
			i = len(out)
			index[b.Principal] = i
			out = append(out, Member{Principal: b.Principal, GrantedAt: b.GrantedAt, GrantedBy: b.GrantedBy})
		}
		out[i].Roles = append(out[i].Roles, b.Role)
	}
	return out, nil
}

// AddMember grants each of roles the principal lacks in ws.
func (s *Service) AddMember(ctx context.Context, ws, principal string, roles []string, actor *string) (Member, error) {
	m := Member{Principal: principal, Roles: roles, GrantedAt: Now(), GrantedBy: grantedBy(actor)}
	err := s.store.GrantRoles(ctx, ws, principal, roles, m.GrantedBy, m.GrantedAt)
	return m, workspaceErr(ws, err)
}

// SetMember makes the principal's roles in ws exactly roles; the last Admin
// of a workspace cannot lose the role.
func (s *Service) SetMember(ctx context.Context, ws, principal string, roles []string, actor *string) (Member, error) {
	m := Member{Principal: principal, Roles: roles, GrantedAt: Now(), GrantedBy: grantedBy(actor)}
	err := s.store.SetRoles(ctx, ws, principal, roles, m.GrantedBy, m.GrantedAt)
	if errors.Is(err, ErrUnstorableText) && storable(ws) {
		return Member{}, errf(KindInvalid, "Invalid principal: use 1 to 320 characters without control characters")
	}
	if errors.Is(err, ErrLastAdmin) {
		return Member{}, errf(KindConflict, "Cannot remove Admin role from '"+principal+"'. This is the last Admin for workspace '"+
			ws+"'. Add another Admin before removing this one.")
	}
	return m, workspaceErr(ws, err)
}

// RemoveMember removes all of the principal's roles in ws and returns how
// many there were.
func (s *Service) RemoveMember(ctx context.Context, ws, principal string) (int, error) {
	if _, err := s.store.GetWorkspace(ctx, ws); err != nil {
		return 0, workspaceErr(ws, err)
	}
	n, err := s.store.RemoveMember(ctx, ws, principal)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnstorableText):
		return 0, errf(KindNotFound, "Member '"+principal+"' not found in workspace '"+ws+"'")
	case errors.Is(err, ErrLastAdmin):
		return 0, errf(KindConflict, "Cannot remove member '"+principal+"'. This is the last Admin for workspace '"+
			ws+"'. Add another Admin before removing this member.")
	case err != nil:
		return 0, internal(MsgUnexpected, err)
	}
	return n, nil
}

// Seed creates a seed binding once per database (docs/auth.md "Roles"); the
// workspace is created first when it does not exist yet.
func (s *Service) Seed(ctx context.Context, ws, principal, role string) error {
	if err := s.ensureWorkspace(ctx, ws, nil); err != nil {
		return err
	}
	system := "system"
	key, _ := json.Marshal([]string{ws, principal, role}) // unambiguous whatever the names hold
	_, err := s.store.Seed(ctx, string(key),
		Binding{Workspace: ws, Principal: principal, Role: role, GrantedBy: &system, GrantedAt: Now()})
	return err
}
