package httpapi

import (
	"net/http"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/secrets"
)

const (
	secretsBase    = "/apis/secrets/v2/workspaces/{workspace}/secrets"
	deletedBase    = "/apis/secrets/v2/workspaces/{workspace}/deleted-secrets"
	workspacesBase = "/apis/entities/v2/workspaces"
)

// The scopes a route accepts (docs/auth.md "Roles"): any one of them
// passes the scope check.
var (
	secretsRead   = []string{"secrets:read", "platform:read"}
	secretsWrite  = []string{"secrets:write", "platform:write"}
	entitiesRead  = []string{"entities:read", "platform:read"}
	entitiesWrite = []string{"entities:write", "platform:write"}
)

// authz is a route's authorization requirement: the auth.Need, and for
// auth.InWorkspace the path parameter naming the workspace.
type authz struct {
	need    auth.Need
	wsParam string
}

// in needs perm in the workspace the path parameter param names.
func in(param, perm string, scopes []string) authz {
	return authz{need: auth.Need{Permission: perm, Scopes: scopes, Where: auth.InWorkspace}, wsParam: param}
}

// inSystem admits only a PlatformAdmin bound in the system workspace.
func inSystem(perm string, scopes []string) authz {
	return authz{need: auth.Need{Permission: perm, Scopes: scopes, Where: auth.InSystem}}
}

// authenticated admits any authenticated caller whose scopes pass; the
// handler narrows what it answers.
func authenticated(perm string, scopes []string) authz {
	return authz{need: auth.Need{Permission: perm, Scopes: scopes, Where: auth.Authenticated}}
}

// servicesOnly is in, for value reads: only service principals pass.
func servicesOnly(a authz) authz {
	a.need.ServicesOnly = true
	return a
}

// Audit specs of the rows (audit.go): a write's success status is the one
// its draft carries into the store.
func write(action string, ok int) auditSpec { return auditSpec{action, auditWrite, ok} }
func read(action string) auditSpec          { return auditSpec{action, auditRead, http.StatusOK} }

// routes is the route table of docs/api.md §1.1, with Coffer's audit queries
// (docs/operations.md, "Audit trail"): the one place a route's method,
// pattern, handler, authorization (docs/auth.md "How a request is
// decided") and audit action are written. Routes without an audit spec
// (workspace and member lists, the audit queries themselves, public ones)
// are not recorded.
func routes() []*route {
	const ws, name = "workspace", "name"
	return []*route{
		{method: http.MethodPost, pattern: secretsBase, handle: (*Server).createSecret,
			authz: in(ws, secrets.PermSecretsCreate, secretsWrite), audit: write(secrets.ActionSecretCreate, http.StatusCreated)},
		{method: http.MethodGet, pattern: secretsBase, handle: (*Server).listSecrets,
			authz: in(ws, secrets.PermSecretsList, secretsRead), audit: read(secrets.ActionSecretList)},
		{method: http.MethodGet, pattern: secretsBase + "/{name}", handle: (*Server).getSecret,
			authz: in(ws, secrets.PermSecretsRead, secretsRead), audit: read(secrets.ActionSecretRead)},
		{method: http.MethodPatch, pattern: secretsBase + "/{name}", handle: (*Server).updateSecret,
			authz: in(ws, secrets.PermSecretsUpdate, secretsWrite), audit: write(secrets.ActionSecretUpdate, http.StatusOK)},
		{method: http.MethodDelete, pattern: secretsBase + "/{name}", handle: (*Server).deleteSecret,
			authz: in(ws, secrets.PermSecretsDelete, secretsWrite), audit: write(secrets.ActionSecretDelete, http.StatusNoContent)},
		{method: http.MethodGet, pattern: secretsBase + "/{name}/access", handle: (*Server).accessSecret,
			authz: servicesOnly(in(ws, secrets.PermSecretsAccess, secretsRead)),
			audit: auditSpec{secrets.ActionSecretAccess, auditAccess, http.StatusOK}},
		{method: http.MethodGet, pattern: secretsBase + "/{name}/versions", handle: (*Server).listVersions,
			authz: in(ws, secrets.PermSecretsRead, secretsRead), audit: read(secrets.ActionSecretRead)},
		{method: http.MethodPost, pattern: secretsBase + "/{name}/versions/{version}/restore", handle: (*Server).restoreVersion,
			authz: in(ws, secrets.PermSecretsUpdate, secretsWrite), audit: write(secrets.ActionSecretRestore, http.StatusOK)},
		{method: http.MethodDelete, pattern: secretsBase + "/{name}/versions/{version}", handle: (*Server).destroyVersion,
			authz: in(ws, secrets.PermSecretsDelete, secretsWrite), audit: write(secrets.ActionVersionDestroy, http.StatusNoContent)},
		{method: http.MethodGet, pattern: deletedBase, handle: (*Server).listDeleted,
			authz: in(ws, secrets.PermSecretsList, secretsRead), audit: read(secrets.ActionSecretList)},
		{method: http.MethodPost, pattern: deletedBase + "/{id}/restore", handle: (*Server).restoreDeleted,
			authz: in(ws, secrets.PermSecretsCreate, secretsWrite), audit: write(secrets.ActionSecretRestore, http.StatusOK)},
		{method: http.MethodDelete, pattern: deletedBase + "/{id}", handle: (*Server).purgeDeleted,
			authz: in(ws, secrets.PermSecretsDelete, secretsWrite), audit: write(secrets.ActionSecretPurge, http.StatusNoContent)},
		// The handler checks again with CheckRotate (docs/auth.md
		// "Platform services: reading values").
		{method: http.MethodPost, pattern: "/apis/secrets/v2/rotate-encryption-keys", handle: (*Server).rotate,
			authz: inSystem(secrets.PermSecretsRotate, secretsWrite),
			audit: auditSpec{secrets.ActionKeysRotate, auditAfter, http.StatusAccepted}},
		// What rotation has left to do (docs/api.md §4.9), admitted like it.
		{method: http.MethodGet, pattern: "/apis/secrets/v2/encryption-status", handle: (*Server).encryptionStatus,
			authz: inSystem(secrets.PermSecretsRotate, secretsRead)},
		// Anyone authenticated creates a workspace and becomes its Admin.
		{method: http.MethodPost, pattern: workspacesBase, handle: (*Server).createWorkspace,
			authz: authenticated("", nil), audit: write(secrets.ActionWorkspaceCreate, http.StatusCreated)},
		// The handler filters the list (VisibleWorkspaces).
		{method: http.MethodGet, pattern: workspacesBase, handle: (*Server).listWorkspaces,
			authz: authenticated(secrets.PermWorkspacesList, entitiesRead)},
		{method: http.MethodGet, pattern: workspacesBase + "/{name}", handle: (*Server).getWorkspace,
			authz: in(name, secrets.PermWorkspacesRead, entitiesRead)},
		{method: http.MethodPut, pattern: workspacesBase + "/{name}", handle: (*Server).updateWorkspace,
			authz: in(name, secrets.PermWorkspacesUpdate, entitiesWrite), audit: write(secrets.ActionWorkspaceUpdate, http.StatusOK)},
		{method: http.MethodDelete, pattern: workspacesBase + "/{name}", handle: (*Server).deleteWorkspace,
			authz: in(name, secrets.PermWorkspacesDelete, entitiesWrite), audit: write(secrets.ActionWorkspaceDelete, http.StatusOK)},
		{method: http.MethodGet, pattern: workspacesBase + "/{workspace}/members", handle: (*Server).listMembers,
			authz: in(ws, secrets.PermMembersList, entitiesRead)},
		{method: http.MethodPost, pattern: workspacesBase + "/{workspace}/members", handle: (*Server).addMember,
			authz: in(ws, secrets.PermMembersCreate, entitiesWrite), audit: write(secrets.ActionMemberAdd, http.StatusCreated)},
		{method: http.MethodPut, pattern: workspacesBase + "/{workspace}/members/{principal}", handle: (*Server).setMember,
			authz: in(ws, secrets.PermMembersUpdate, entitiesWrite), audit: write(secrets.ActionMemberSet, http.StatusOK)},
		{method: http.MethodDelete, pattern: workspacesBase + "/{workspace}/members/{principal}", handle: (*Server).removeMember,
			authz: in(ws, secrets.PermMembersDelete, entitiesWrite), audit: write(secrets.ActionMemberRemove, http.StatusOK)},
		{method: http.MethodGet, pattern: "/apis/secrets/v2/workspaces/{workspace}/audit", handle: (*Server).listAudit,
			authz: in(ws, secrets.PermAuditRead, secretsRead)},
		// Every authenticated caller passes, as for the other GETs without
		// a workspace; the handler then admits PlatformAdmin only
		// (CheckAuditAll).
		{method: http.MethodGet, pattern: "/apis/secrets/v2/audit", handle: (*Server).listAuditAll,
			authz: authenticated(secrets.PermAuditRead, secretsRead)},
		{method: http.MethodGet, pattern: "/apis/auth/discovery", handle: (*Server).discovery, public: true},
		{method: http.MethodGet, pattern: "/health/live", handle: (*Server).live, public: true},
		{method: http.MethodGet, pattern: "/health/ready", handle: (*Server).readyz, public: true},
		{method: http.MethodGet, pattern: "/version", handle: (*Server).versionInfo, public: true},
		{method: http.MethodGet, pattern: "/openapi.json", handle: (*Server).openapiJSON, public: true},
		{method: http.MethodGet, pattern: "/openapi.yaml", handle: (*Server).openapiYAML, public: true},
		{method: http.MethodGet, pattern: "/metrics", handle: (*Server).metricsText, public: true},
		{method: http.MethodGet, pattern: "/", handle: (*Server).consoleIndex, public: true},
		{method: http.MethodGet, pattern: "/console/{file}", handle: (*Server).consoleAsset, public: true},
	}
}

// Pattern is the matched route's pattern ("" when no route matched).
func (m Match) Pattern() string {
	if m.route == nil {
		return ""
	}
	return m.route.pattern
}

// Param returns a decoded path parameter of the matched route.
func (m Match) Param(name string) string { return m.params.get(name) }

// Found reports whether some route serves the path with any method.
func (m Match) Found() bool { return m.found }
