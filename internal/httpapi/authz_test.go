package httpapi

import (
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// TestEveryRouteIsAuthorized: every route the router serves either is
// public or says who may call it, with a permission a role can grant (or
// "*" alone can, for value reads) and a workspace parameter its pattern
// has. A route without a requirement would be refused to all but
// PlatformAdmin; newRouter refuses to start with one.
func TestEveryRouteIsAuthorized(t *testing.T) {
	known := map[string]bool{}
	for _, r := range secrets.Roles() {
		for _, p := range r.Permissions {
			known[p] = true
		}
	}
	rt := newRouter(routes())
	for _, r := range rt.routes {
		if r.public {
			if r.authz.need.Where != 0 || r.audit.action != "" {
				t.Errorf("%s %s is public but has an authorization or audit row", r.method, r.pattern)
			}
			continue
		}
		if msg := r.authzProblem(); msg != "" {
			t.Errorf("%s %s: %s", r.method, r.pattern, msg)
		}
		perm := r.authz.need.Permission
		if perm == "" && !(r.method == "POST" && r.pattern == workspacesBase) {
			t.Errorf("%s %s: no permission (only workspace creation is open to anyone authenticated)", r.method, r.pattern)
		}
		if perm != "" && !known[perm] && perm != secrets.PermSecretsAccess {
			t.Errorf("%s %s: permission %q is granted by no role", r.method, r.pattern, perm)
		}
		if r.authz.need.ServicesOnly != (perm == secrets.PermSecretsAccess) {
			t.Errorf("%s %s: services only exactly when reading values", r.method, r.pattern)
		}
	}
	// A bad row stops the server from starting.
	for _, bad := range []authz{{}, in("nope", secrets.PermSecretsRead, nil), {need: auth.Need{Where: auth.InWorkspace,
		Permission: secrets.PermSecretsRead}}, inSystem("", nil)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("newRouter accepted %+v", bad)
				}
			}()
			newRouter([]*route{{method: "GET", pattern: "/x/{workspace}", authz: bad}})
		}()
	}
}

// TestRoutePermissions pins the permission of the routes whose choice is
// not obvious from their names (docs/lifecycle.md) and the special rows.
func TestRoutePermissions(t *testing.T) {
	rt := newRouter(routes())
	for _, c := range []struct {
		method, path, perm string
		where              auth.Where
		ws                 string
	}{
		{"GET", "/apis/secrets/v2/workspaces/ml/secrets/hf/versions", secrets.PermSecretsRead, auth.InWorkspace, "ml"},
		{"POST", "/apis/secrets/v2/workspaces/ml/secrets/hf/versions/2/restore", secrets.PermSecretsUpdate, auth.InWorkspace, "ml"},
		{"DELETE", "/apis/secrets/v2/workspaces/ml/secrets/hf/versions/2", secrets.PermSecretsDelete, auth.InWorkspace, "ml"},
		{"GET", "/apis/secrets/v2/workspaces/ml/deleted-secrets", secrets.PermSecretsList, auth.InWorkspace, "ml"},
		{"POST", "/apis/secrets/v2/workspaces/ml/deleted-secrets/x/restore", secrets.PermSecretsCreate, auth.InWorkspace, "ml"},
		{"DELETE", "/apis/secrets/v2/workspaces/ml/deleted-secrets/x", secrets.PermSecretsDelete, auth.InWorkspace, "ml"},
		{"HEAD", "/apis/secrets/v2/workspaces/ml/secrets", secrets.PermSecretsList, auth.InWorkspace, "ml"},
		{"GET", "/apis/entities/v2/workspaces/ml%2Fx", secrets.PermWorkspacesRead, auth.InWorkspace, "ml/x"},
		{"PUT", "/apis/entities/v2/workspaces/ml/members/a%40b", secrets.PermMembersUpdate, auth.InWorkspace, "ml"},
		{"POST", "/apis/secrets/v2/rotate-encryption-keys", secrets.PermSecretsRotate, auth.InSystem, ""},
		{"POST", "/apis/entities/v2/workspaces", "", auth.Authenticated, ""},
		{"GET", "/apis/entities/v2/workspaces", secrets.PermWorkspacesList, auth.Authenticated, ""},
		{"GET", "/apis/secrets/v2/audit", secrets.PermAuditRead, auth.Authenticated, ""},
	} {
		m := rt.match(c.method, c.path)
		req := authRequest(auth.Principal{ID: "u"}, &m, c.path)
		if req.Need == nil || req.Need.Permission != c.perm || req.Need.Where != c.where || req.Workspace != c.ws {
			t.Errorf("%s %s: %+v in %q, want %s (%d) in %q", c.method, c.path, req.Need, req.Workspace, c.perm, c.where, c.ws)
		}
	}
	for _, c := range []struct {
		method, path         string
		exists, reads, match bool
	}{
		{"GET", "/apis/secrets/v2/workspaces/ml/secrets/n/access", true, true, true},
		{"PUT", "/apis/secrets/v2/workspaces/ml/secrets", true, false, false},
		{"POST", "/apis/auth/discovery", true, false, false},
		{"GET", "/apis/nope", false, false, false},
		{"GET", "/x/y/z/workspaces/ml/secrets/n/access", false, true, false},
		{"GET", "/apis/secrets/v2/workspaces/ml/secrets/x%2Faccess", true, true, true},
	} {
		m := rt.match(c.method, c.path)
		req := authRequest(auth.Principal{ID: "u"}, &m, c.path)
		if req.Exists != c.exists || req.ReadsValue != c.reads || (req.Need != nil) != c.match {
			t.Errorf("%s %s: %+v", c.method, c.path, req)
		}
	}
}

func TestAccessShape(t *testing.T) {
	for path, want := range map[string]bool{
		"/apis/secrets/v2/workspaces/ml/secrets/n/access":   true,
		"/a/b/c/workspaces/w/secrets/n/access":              true,
		"/a/b/c/workspaces/w/secrets/n%2Fx/access":          true,
		"/a/b/c/workspaces/w/secrets/n/access/":             false,
		"/a/b/c/workspaces/w/secrets/n/access/x":            false,
		"/a/b/workspaces/w/secrets/n/access":                false,
		"/x/a/b/c/workspaces/w/secrets/n/access":            false,
		"a/b/c/workspaces/w/secrets/n/access":               false,
		"//b/c/workspaces/w/secrets/n/access":               false,
		"/a/b/c/workspaces//secrets/n/access":               false,
		"/a/b/c/workspaces/w/secrets/n/Access":              false,
		"/a/b/c/workspace/w/secrets/n/access":               false,
		"/a/b/c/workspaces/w/secret/n/access":               false,
		"/apis/secrets/v2/workspaces/ml/secrets/x%2Faccess": true, // decoded form has the shape
		"/apis/secrets/v2/workspaces/ml/secrets/n":          false,
		"/apis/secrets/v2/workspaces/ml/secrets/n/%zz":      false,
		"":  false,
		"/": false,
	} {
		if got := isAccessShape(path); got != want {
			t.Errorf("isAccessShape(%q) = %v", path, got)
		}
		if got := isAccessShape(path); got != oldAccessShape(path) {
			t.Errorf("isAccessShape(%q) = %v, differs from the strings.Split definition", path, got)
		}
	}
}

// oldAccessShape is the shape's definition by strings.Split, which
// accessShaped computes without allocating.
func oldAccessShape(path string) bool {
	shaped := func(p string) bool {
		s := strings.Split(p, "/")
		if len(s) != 9 || s[0] != "" || s[4] != "workspaces" || s[6] != "secrets" || s[8] != "access" {
			return false
		}
		return !slices.Contains(s[1:], "")
	}
	dec, err := url.PathUnescape(path)
	return shaped(path) || err == nil && shaped(dec)
}

// TestDocsRouteTable: the table of docs/auth.md "How a request is decided"
// is the route table, row for row; a failure prints the line to write.
func TestDocsRouteTable(t *testing.T) {
	var want []string
	for _, r := range routes() {
		if !r.public {
			want = append(want, docsRouteRow(r))
		}
	}
	got := docsTableRows(t, "../../docs/auth.md", "## How a request is decided")
	compareDocRows(t, got, want)
}

// docsRouteRow renders a route as its docs/auth.md table row.
func docsRouteRow(r *route) string {
	n := r.authz.need
	code := func(s string) string { return "`" + s + "`" }
	perm, scopes := "–", "–"
	if n.Permission != "" {
		perm = code(n.Permission)
	}
	if n.ServicesOnly {
		perm += ", services only"
	}
	if len(n.Scopes) > 0 {
		quoted := make([]string, len(n.Scopes))
		for i, s := range n.Scopes {
			quoted[i] = code(s)
		}
		scopes = strings.Join(quoted, " or ")
	}
	where := map[auth.Where]string{auth.InWorkspace: code("{" + r.authz.wsParam + "}"),
		auth.InSystem: "PlatformAdmin only", auth.Authenticated: "any authenticated caller"}[n.Where]
	return "| " + strings.Join([]string{code(r.method), code(r.pattern), perm, scopes, where}, " | ") + " |"
}

// docsTableRows returns the table rows (lines starting "| `") of the
// section of a Markdown document under heading, up to the next "## ".
func docsTableRows(t *testing.T, path, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no heading %q", path, heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []string
	for line := range strings.Lines(section) {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "| `") {
			rows = append(rows, line)
		}
	}
	return rows
}

func compareDocRows(t *testing.T, got, want []string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("docs table lacks row %d:\n%s", i+1, want[i])
		case i >= len(want):
			t.Errorf("docs table row %d names no route:\n%s", i+1, got[i])
		case got[i] != want[i]:
			t.Errorf("docs table row %d:\n%s\nwant\n%s", i+1, got[i], want[i])
		}
	}
}
