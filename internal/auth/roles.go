package auth

import "slices"

// Permissions checked by the route table (docs/auth.md "Roles") and the handler
// checks (docs/auth.md "Platform services: reading values").
const (
	PermSecretsList   = "secrets.list"
	PermSecretsRead   = "secrets.read"
	PermSecretsCreate = "secrets.create"
	PermSecretsUpdate = "secrets.update"
	PermSecretsDelete = "secrets.delete"
	// PermSecretsAccess is held by no role: only ServiceSystem's "*" grants
	// it, so only platform services read values.
	PermSecretsAccess    = "secrets.access"
	PermSecretsRotate    = "secrets.rotate"
	PermWorkspacesList   = "workspaces.list"
	PermWorkspacesRead   = "workspaces.read"
	PermWorkspacesUpdate = "workspaces.update"
	PermWorkspacesDelete = "workspaces.delete"
	PermMembersList      = "workspaces.members.list"
	PermMembersCreate    = "workspaces.members.create"
	PermMembersUpdate    = "workspaces.members.update"
	PermMembersDelete    = "workspaces.members.delete"
	// PermAuditRead reads a workspace's audit trail (docs/operations.md,
	// "Audit trail"): Admin holds it, and PlatformAdmin.
	PermAuditRead = "audit.read"
	// permAll is ServiceSystem's permission: it grants every permission.
	permAll = "*"
)

// Role names (docs/auth.md "Roles"); they are compared case-sensitively.
const (
	RoleViewer        = "Viewer"
	RoleEditor        = "Editor"
	RoleAdmin         = "Admin"
	RolePlatformAdmin = "PlatformAdmin"
	// RoleServiceSystem is implicit for service principals and never stored,
	// which is why it is not assignable.
	RoleServiceSystem = "ServiceSystem"
)

type role struct {
	includes string
	perms    []string
}

var roles = map[string]role{
	RoleViewer: {perms: []string{PermSecretsList, PermSecretsRead, PermWorkspacesList, PermWorkspacesRead}},
	RoleEditor: {includes: RoleViewer, perms: []string{PermSecretsCreate, PermSecretsUpdate, PermSecretsDelete,
		PermWorkspacesUpdate, PermWorkspacesDelete}},
	RoleAdmin: {includes: RoleEditor, perms: []string{PermMembersList, PermMembersCreate, PermMembersUpdate,
		PermMembersDelete, PermAuditRead}},
	RolePlatformAdmin: {perms: []string{PermSecretsRotate, PermAuditRead}},
	RoleServiceSystem: {perms: []string{permAll}},
}

var assignable = []string{RoleViewer, RoleEditor, RoleAdmin, RolePlatformAdmin}

// AssignableRoles lists the roles the members API accepts, in the order its
// error message names them. It returns a copy so callers cannot widen it.
func AssignableRoles() []string { return slices.Clone(assignable) }

// IsAssignableRole reports whether the members API may store name.
func IsAssignableRole(name string) bool { return slices.Contains(assignable, name) }

// RolePermissions returns every permission name grants, following Includes;
// nil for an unknown role, which grants nothing.
func RolePermissions(name string) []string {
	var out []string
	for r, ok := roles[name]; ok; r, ok = roles[r.includes] {
		out = append(out, r.perms...)
	}
	return out
}

// roleGrants reports whether role name grants perm, directly or through "*".
func roleGrants(name, perm string) bool {
	for _, p := range RolePermissions(name) {
		if p == perm || p == permAll {
			return true
		}
	}
	return false
}

// anyGrants reports whether one of names grants perm.
func anyGrants(names []string, perm string) bool {
	return slices.ContainsFunc(names, func(r string) bool { return roleGrants(r, perm) })
}
