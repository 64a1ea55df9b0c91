package httpapi

import "net/http"

const (
	secretsBase    = "/apis/secrets/v2/workspaces/{workspace}/secrets"
	deletedBase    = "/apis/secrets/v2/workspaces/{workspace}/deleted-secrets"
	workspacesBase = "/apis/entities/v2/workspaces"
)

// routes is the route table of docs/api.md §1.1, with Coffer's audit queries
// (docs/operations.md, "Audit trail").
func routes() []*route {
	rs := []*route{
		{method: http.MethodPost, pattern: secretsBase, handle: (*Server).createSecret},
		{method: http.MethodGet, pattern: secretsBase, handle: (*Server).listSecrets},
		{method: http.MethodGet, pattern: secretsBase + "/{name}", handle: (*Server).getSecret},
		{method: http.MethodPatch, pattern: secretsBase + "/{name}", handle: (*Server).updateSecret},
		{method: http.MethodDelete, pattern: secretsBase + "/{name}", handle: (*Server).deleteSecret},
		{method: http.MethodGet, pattern: secretsBase + "/{name}/access", handle: (*Server).accessSecret},
		{method: http.MethodGet, pattern: secretsBase + "/{name}/versions", handle: (*Server).listVersions},
		{method: http.MethodPost, pattern: secretsBase + "/{name}/versions/{version}/restore", handle: (*Server).restoreVersion},
		{method: http.MethodDelete, pattern: secretsBase + "/{name}/versions/{version}", handle: (*Server).destroyVersion},
		{method: http.MethodGet, pattern: deletedBase, handle: (*Server).listDeleted},
		{method: http.MethodPost, pattern: deletedBase + "/{id}/restore", handle: (*Server).restoreDeleted},
		{method: http.MethodDelete, pattern: deletedBase + "/{id}", handle: (*Server).purgeDeleted},
		{method: http.MethodPost, pattern: "/apis/secrets/v2/rotate-encryption-keys", handle: (*Server).rotate},
		{method: http.MethodPost, pattern: workspacesBase, handle: (*Server).createWorkspace},
		{method: http.MethodGet, pattern: workspacesBase, handle: (*Server).listWorkspaces},
		{method: http.MethodGet, pattern: workspacesBase + "/{name}", handle: (*Server).getWorkspace},
		{method: http.MethodPut, pattern: workspacesBase + "/{name}", handle: (*Server).updateWorkspace},
		{method: http.MethodDelete, pattern: workspacesBase + "/{name}", handle: (*Server).deleteWorkspace},
		{method: http.MethodGet, pattern: workspacesBase + "/{workspace}/members", handle: (*Server).listMembers},
		{method: http.MethodPost, pattern: workspacesBase + "/{workspace}/members", handle: (*Server).addMember},
		{method: http.MethodPut, pattern: workspacesBase + "/{workspace}/members/{principal}", handle: (*Server).setMember},
		{method: http.MethodDelete, pattern: workspacesBase + "/{workspace}/members/{principal}", handle: (*Server).removeMember},
		{method: http.MethodGet, pattern: "/apis/secrets/v2/workspaces/{workspace}/audit", handle: (*Server).listAudit},
		{method: http.MethodGet, pattern: "/apis/secrets/v2/audit", handle: (*Server).listAuditAll},
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
	for _, r := range rs {
		r.audit = auditSpecs[[2]string{r.method, r.pattern}]
	}
	return rs
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
