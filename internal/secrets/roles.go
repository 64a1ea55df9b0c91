package secrets

import "slices"

// Roles and permissions are defined here, once: a role binding is data of
// this domain (the store keeps bindings and enforces the last-admin rule on
// RoleAdmin), and the auth package, which decides requests, imports them
// (docs/auth.md "Roles").

// Permissions an operation can require (docs/auth.md "Roles"; the route
// table in internal/httpapi names one per route).
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
	// PermAll is ServiceSystem's permission: it grants every permission.
	PermAll = "*"
)

// Role names (docs/auth.md "Roles"); they are compared case-sensitively.
const (
	RoleViewer = "Viewer"
	RoleEditor = "Editor"
	// RoleAdmin is the role the last-admin rule protects (docs/api.md §9.7)
	// and the role a workspace creator receives.
	RoleAdmin         = "Admin"
	RolePlatformAdmin = "PlatformAdmin"
	// RoleServiceSystem is implicit for service principals and never stored,
	// which is why it is not assignable.
	RoleServiceSystem = "ServiceSystem"
)

// Role is one row of the role table: its name, the role whose permissions
// it includes ("" for none) and the permissions it adds.
type Role struct {
	Name        string
	Includes    string
	Permissions []string
}

// roleTable is in the order of docs/auth.md "Roles"; a test keeps the two
// equal.
var roleTable = []Role{
	{RoleViewer, "", []string{PermSecretsList, PermSecretsRead, PermWorkspacesList, PermWorkspacesRead}},
	{RoleEditor, RoleViewer, []string{PermSecretsCreate, PermSecretsUpdate, PermSecretsDelete,
		PermWorkspacesUpdate, PermWorkspacesDelete}},
	{RoleAdmin, RoleEditor, []string{PermMembersList, PermMembersCreate, PermMembersUpdate,
		PermMembersDelete, PermAuditRead}},
	{RolePlatformAdmin, "", []string{PermSecretsRotate, PermAuditRead}},
	{RoleServiceSystem, "", []string{PermAll}},
}

// roles indexes roleTable by name, each with its included permissions
// already expanded: a decision grants from it without walking Includes.
var roles = expandRoles(roleTable)

func expandRoles(table []Role) map[string][]string {
	byName := make(map[string]Role, len(table))
	for _, r := range table {
		byName[r.Name] = r
	}
	out := make(map[string][]string, len(table))
	for _, r := range table {
		var perms []string
		for r, ok := r, true; ok; r, ok = byName[r.Includes] {
			perms = append(perms, r.Permissions...)
		}
		out[r.Name] = perms
	}
	return out
}

var assignable = []string{RoleViewer, RoleEditor, RoleAdmin, RolePlatformAdmin}

// Roles returns the role table in the order docs/auth.md "Roles" lists it.
// It returns copies so callers cannot change what is granted.
func Roles() []Role {
	out := make([]Role, len(roleTable))
	for i, r := range roleTable {
		out[i] = Role{r.Name, r.Includes, slices.Clone(r.Permissions)}
	}
	return out
}

// AssignableRoles lists the roles the members API accepts, in the order its
// error message names them. It returns a copy so callers cannot widen it.
func AssignableRoles() []string { return slices.Clone(assignable) }

// IsAssignableRole reports whether the members API may store name.
func IsAssignableRole(name string) bool { return slices.Contains(assignable, name) }

// RolePermissions returns every permission name grants, following Includes;
// nil for an unknown role, which grants nothing.
func RolePermissions(name string) []string { return slices.Clone(roles[name]) }

// RoleGrants reports whether role name grants perm, directly, through the
// role it includes or through "*".
func RoleGrants(name, perm string) bool {
	for _, p := range roles[name] {
		if p == perm || p == PermAll {
			return true
		}
	}
	return false
}

// AnyRoleGrants reports whether one of names grants perm.
func AnyRoleGrants(names []string, perm string) bool {
	return slices.ContainsFunc(names, func(r string) bool { return RoleGrants(r, perm) })
}
