package auth

import "github.com/coffer-dev/coffer/internal/secrets"

// Seed is a role binding Coffer creates once per database at startup
// (docs/auth.md "Roles"); the storage layer records that it did, so a seed removed
// through the members API stays removed.
type Seed struct {
	Workspace string
	Principal string
	Role      string
}

// SeedGrantedBy is the granted_by of seeded bindings.
const SeedGrantedBy = "system"

// Seeds returns the bindings to seed for c: everyone may write in the
// default workspace and read system, and admin_email, when set, becomes a
// PlatformAdmin. Seeding runs with auth disabled too, so turning auth on
// later behaves the same.
func Seeds(c Config) []Seed {
	ws := c.DefaultWorkspace
	if ws == "" {
		ws = DefaultWorkspace
	}
	seeds := []Seed{
		{Workspace: ws, Principal: Wildcard, Role: secrets.RoleEditor},
		{Workspace: SystemWorkspace, Principal: Wildcard, Role: secrets.RoleViewer},
	}
	if c.AdminEmail != "" {
		seeds = append(seeds, Seed{Workspace: SystemWorkspace, Principal: c.AdminEmail, Role: secrets.RolePlatformAdmin})
	}
	return seeds
}

// CreatorBinding is the principal string made Admin of a workspace p
// creates with auth enabled: the caller's own email when present, else its
// id. It is the caller, not the on-behalf-of user (faithful to the
// reference). "" means nothing is bound (anonymous).
func (p Principal) CreatorBinding() string {
	if p.Email != "" {
		return p.Email
	}
	return p.ID
}
