package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// Route patterns as the HTTP router spells them; LookupRoute is keyed by
// them, so the router and the decision cannot drift apart silently.
const (
	PatternSecrets      = "/apis/secrets/v2/workspaces/{workspace}/secrets"
	PatternSecret       = "/apis/secrets/v2/workspaces/{workspace}/secrets/{name}"
	PatternSecretAccess = "/apis/secrets/v2/workspaces/{workspace}/secrets/{name}/access"
	PatternVersions     = "/apis/secrets/v2/workspaces/{workspace}/secrets/{name}/versions"
	PatternVersion      = "/apis/secrets/v2/workspaces/{workspace}/secrets/{name}/versions/{version}"
	PatternRestoreVer   = "/apis/secrets/v2/workspaces/{workspace}/secrets/{name}/versions/{version}/restore"
	PatternDeleted      = "/apis/secrets/v2/workspaces/{workspace}/deleted-secrets"
	PatternDeletedOne   = "/apis/secrets/v2/workspaces/{workspace}/deleted-secrets/{id}"
	PatternRestoreDel   = "/apis/secrets/v2/workspaces/{workspace}/deleted-secrets/{id}/restore"
	PatternRotate       = "/apis/secrets/v2/rotate-encryption-keys"
	PatternWorkspaces   = "/apis/entities/v2/workspaces"
	PatternWorkspace    = "/apis/entities/v2/workspaces/{name}"
	PatternMembers      = "/apis/entities/v2/workspaces/{workspace}/members"
	PatternMember       = "/apis/entities/v2/workspaces/{workspace}/members/{principal}"
	PatternAudit        = "/apis/secrets/v2/workspaces/{workspace}/audit"
	PatternAuditAll     = "/apis/secrets/v2/audit"
)

// Route is one row of the route table (docs/auth.md "Roles").
type Route struct {
	Method  string
	Pattern string
	// Permission is "" for workspace creation, which anyone authenticated
	// may do.
	Permission string
	// Scopes are alternatives: any one of them satisfies the scope check.
	Scopes []string
	// WorkspaceParam names the path parameter holding the workspace the
	// permission is checked in; "" when the route has none.
	WorkspaceParam string
}

var (
	secretsRead    = []string{"secrets:read", "platform:read"}
	secretsWrite   = []string{"secrets:write", "platform:write"}
	entitiesRead   = []string{"entities:read", "platform:read"}
	entitiesWrite  = []string{"entities:write", "platform:write"}
	routeTable     = buildRoutes()
	routesByKey    = indexRoutes(routeTable)
	accessShapeLen = len(strings.Split(PatternSecretAccess, "/"))
)

func buildRoutes() []Route {
	const ws, name = "workspace", "name"
	return []Route{
		{http.MethodGet, PatternSecrets, PermSecretsList, secretsRead, ws},
		{http.MethodPost, PatternSecrets, PermSecretsCreate, secretsWrite, ws},
		{http.MethodGet, PatternSecret, PermSecretsRead, secretsRead, ws},
		{http.MethodPatch, PatternSecret, PermSecretsUpdate, secretsWrite, ws},
		{http.MethodDelete, PatternSecret, PermSecretsDelete, secretsWrite, ws},
		{http.MethodGet, PatternSecretAccess, PermSecretsAccess, secretsRead, ws},
		{http.MethodGet, PatternVersions, PermSecretsRead, secretsRead, ws},
		{http.MethodPost, PatternRestoreVer, PermSecretsUpdate, secretsWrite, ws},
		{http.MethodDelete, PatternVersion, PermSecretsDelete, secretsWrite, ws},
		{http.MethodGet, PatternDeleted, PermSecretsList, secretsRead, ws},
		{http.MethodPost, PatternRestoreDel, PermSecretsCreate, secretsWrite, ws},
		{http.MethodDelete, PatternDeletedOne, PermSecretsDelete, secretsWrite, ws},
		{http.MethodPost, PatternRotate, PermSecretsRotate, secretsWrite, ""},
		{http.MethodGet, PatternWorkspaces, PermWorkspacesList, entitiesRead, ""},
		{http.MethodPost, PatternWorkspaces, "", nil, ""},
		{http.MethodGet, PatternWorkspace, PermWorkspacesRead, entitiesRead, name},
		{http.MethodPut, PatternWorkspace, PermWorkspacesUpdate, entitiesWrite, name},
		{http.MethodDelete, PatternWorkspace, PermWorkspacesDelete, entitiesWrite, name},
		{http.MethodGet, PatternMembers, PermMembersList, entitiesRead, ws},
		{http.MethodPost, PatternMembers, PermMembersCreate, entitiesWrite, ws},
		{http.MethodPut, PatternMember, PermMembersUpdate, entitiesWrite, ws},
		{http.MethodDelete, PatternMember, PermMembersDelete, entitiesWrite, ws},
		{http.MethodGet, PatternAudit, PermAuditRead, secretsRead, ws},
		// Every authenticated caller passes the table, as for the other
		// GETs without a workspace; the handler then admits PlatformAdmin
		// only (CheckAuditAll).
		{http.MethodGet, PatternAuditAll, PermAuditRead, secretsRead, ""},
	}
}

func indexRoutes(rs []Route) map[[2]string]Route {
	m := make(map[[2]string]Route, len(rs))
	for _, r := range rs {
		m[[2]string{r.Method, r.Pattern}] = r
	}
	return m
}

// Routes returns the route table, for routers that want to check they
// serve exactly these rows.
func Routes() []Route {
	out := make([]Route, len(routeTable))
	copy(out, routeTable)
	return out
}

// LookupRoute returns the row for method and a router pattern. HEAD uses
// the GET row because HEAD is GET without a body.
func LookupRoute(method, pattern string) (Route, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	r, ok := routesByKey[[2]string{method, pattern}]
	return r, ok
}

// isAccessShape reports whether path looks like a value read,
// /<a>/<b>/<c>/workspaces/<ws>/secrets/<name>/access, whatever its prefix:
// the deny rule must hold even for paths no route serves. Both the escaped
// and the decoded form are checked, so an encoded '/' cannot move the
// path in or out of the shape.
func isAccessShape(path string) bool {
	if accessShaped(path) {
		return true
	}
	dec, err := url.PathUnescape(path)
	return err == nil && dec != path && accessShaped(dec)
}

func accessShaped(path string) bool {
	s := strings.Split(path, "/")
	if len(s) != accessShapeLen || s[0] != "" || s[4] != "workspaces" || s[6] != "secrets" || s[8] != "access" {
		return false
	}
	for _, seg := range s[1:] {
		if seg == "" {
			return false
		}
	}
	return true
}
