package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// memBindings is role-binding test data behind the Bindings contract; the
// storage backends run the same decision tests against their own tables.
type memBindings struct {
	mu    sync.Mutex
	rows  [][3]string // workspace, principal, role
	err   error
	calls int
}

func (m *memBindings) RolesOf(_ context.Context, ws string, principals []string) (map[string][]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return nil, m.err
	}
	out := map[string][]string{}
	for _, r := range m.rows {
		if r[0] == ws && slices.Contains(principals, r[1]) {
			out[r[1]] = append(out[r[1]], r[2])
		}
	}
	return out, nil
}

func (m *memBindings) WorkspacesOf(_ context.Context, principals []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return nil, m.err
	}
	var out []string
	for _, r := range m.rows {
		if slices.Contains(principals, r[1]) && !slices.Contains(out, r[0]) {
			out = append(out, r[0])
		}
	}
	return out, nil
}

// seeded returns the bindings used by the matrix: the startup seeds of
// docs/auth.md "Roles" plus one principal per role.
func seeded() *memBindings {
	return &memBindings{rows: [][3]string{
		{"default", "*", RoleEditor},
		{"system", "*", RoleViewer},
		{"system", "pat", RolePlatformAdmin},
		{"ml", "vic", RoleViewer},
		{"ml", "eddie", RoleEditor},
		{"ml", "ada", RoleAdmin},
		{"ml", "pel", RolePlatformAdmin},
		{"ml", "service:v", RoleViewer},
		{"ml", "ml-team", RoleViewer},
		{"ml", "e@x.org", RoleEditor},
		{"other", "olga", RoleEditor},
	}}
}

func newTestEngine(t *testing.T, b Bindings) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Enabled = true
	e, err := NewEngine(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// call is one request of the matrix.
type call struct {
	method, path, pattern string
	params                map[string]string
}

func (c call) request(p Principal) Request {
	return Request{Method: c.method, Path: c.path, PathKnown: c.pattern != "" || c.params != nil,
		Pattern: c.pattern, Param: func(n string) string { return c.params[n] }, Principal: p}
}

// routeCalls builds every route of the table against workspace ws.
func routeCalls(ws string) map[string]call {
	sec := "/apis/secrets/v2/workspaces/" + ws + "/secrets"
	ent := "/apis/entities/v2/workspaces"
	w := map[string]string{"workspace": ws, "name": "n", "principal": "p"}
	n := map[string]string{"name": ws}
	return map[string]call{
		"L":  {"GET", sec, PatternSecrets, w},
		"C":  {"POST", sec, PatternSecrets, w},
		"G":  {"GET", sec + "/n", PatternSecret, w},
		"H":  {"HEAD", sec + "/n", PatternSecret, w},
		"U":  {"PATCH", sec + "/n", PatternSecret, w},
		"D":  {"DELETE", sec + "/n", PatternSecret, w},
		"A":  {"GET", sec + "/n/access", PatternSecretAccess, w},
		"R":  {"POST", "/apis/secrets/v2/rotate-encryption-keys", PatternRotate, map[string]string{}},
		"WL": {"GET", ent, PatternWorkspaces, map[string]string{}},
		"WC": {"POST", ent, PatternWorkspaces, map[string]string{}},
		"WG": {"GET", ent + "/" + ws, PatternWorkspace, n},
		"WU": {"PUT", ent + "/" + ws, PatternWorkspace, n},
		"WD": {"DELETE", ent + "/" + ws, PatternWorkspace, n},
		"ML": {"GET", ent + "/" + ws + "/members", PatternMembers, w},
		"MC": {"POST", ent + "/" + ws + "/members", PatternMembers, w},
		"MU": {"PUT", ent + "/" + ws + "/members/p", PatternMember, w},
		"MD": {"DELETE", ent + "/" + ws + "/members/p", PatternMember, w},
	}
}

const (
	allRoutes  = "L C G H U D A R WL WC WG WU WD ML MC MU MD"
	viewerOK   = "L G H WL WC WG"
	editorOK   = "L C G H U D WL WC WG WU WD"
	adminOK    = editorOK + " ML MC MU MD"
	listCreate = "WL WC"
	serviceOK  = "L C G H U D A WL WC WG WU WD ML MC MU MD"
	padminOK   = "L C G H U D R WL WC WG WU WD ML MC MU MD"
)

func TestDecisionMatrix(t *testing.T) {
	svc := Principal{ID: "service:x"}
	tests := []struct {
		name    string
		p       Principal
		ws      string
		allowed string // space-separated keys of routeCalls; the rest is denied
	}{
		{"anonymous", Principal{}, "ml", ""},
		{"anonymous in default", Principal{}, "default", ""},
		{"anonymous with scopes", Principal{Scopes: []string{"secrets:read"}}, "default", ""},
		{"viewer", Principal{ID: "vic"}, "ml", viewerOK},
		{"viewer by group", Principal{ID: "gus", Groups: []string{"ml-team"}}, "ml", viewerOK},
		{"editor", Principal{ID: "eddie"}, "ml", editorOK},
		{"editor by email", Principal{ID: "u1", Email: "e@x.org"}, "ml", editorOK},
		{"admin", Principal{ID: "ada"}, "ml", adminOK},
		{"platform admin", Principal{ID: "pat"}, "ml", padminOK},
		{"platform admin in system", Principal{ID: "pat"}, "system", padminOK},
		{"platform admin elsewhere", Principal{ID: "pel"}, "ml", listCreate},
		{"service", svc, "ml", serviceOK},
		{"service in dash", svc, "-", serviceOK},
		{"service with explicit viewer", Principal{ID: "service:v"}, "ml", viewerOK},
		{"service with explicit viewer elsewhere", Principal{ID: "service:v"}, "other", serviceOK},
		{"service on behalf of member", Principal{ID: "service:x", OnBehalfOf: "vic"}, "ml", serviceOK},
		{"service on behalf of non-member", Principal{ID: "service:x", OnBehalfOf: "zed"}, "ml", serviceOK},
		{"member of another workspace", Principal{ID: "olga"}, "ml", listCreate},
		{"no bindings", Principal{ID: "alice"}, "ml", listCreate},
		{"no bindings in dash", Principal{ID: "alice"}, "-", listCreate},
		{"wildcard editor in default", Principal{ID: "alice"}, "default", editorOK},
		{"wildcard viewer in system", Principal{ID: "alice"}, "system", viewerOK},
		{"caller email ignored with on-behalf-of", Principal{ID: "u1", Email: "e@x.org", OnBehalfOf: "zed"}, "ml", listCreate},
		{"on-behalf-of email counts", Principal{ID: "u2", OnBehalfOf: "zed", OnBehalfOfEmail: "e@x.org"}, "ml", editorOK},
		{"on-behalf-of id does not count", Principal{ID: "u2", OnBehalfOf: "eddie"}, "ml", listCreate},
		{"group named like a service", Principal{ID: "u3", Groups: []string{"service:x"}}, "ml", listCreate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, seeded())
			allowed := strings.Fields(tt.allowed)
			for key, c := range routeCalls(tt.ws) {
				err := e.Decide(context.Background(), c.request(tt.p))
				want := 0
				if !slices.Contains(allowed, key) {
					want = http.StatusForbidden
					if tt.p.ID == "" {
						want = http.StatusUnauthorized
					}
				}
				if got := status(err); got != want {
					t.Errorf("%s %s: got %d (%v), want %d", c.method, c.path, got, err, want)
				}
			}
		})
	}
}

func status(err error) int {
	var ae *Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ae):
		return ae.Status
	}
	return -1
}

func TestDecisionOutsideTheTable(t *testing.T) {
	unknown := call{"GET", "/apis/nope", "", nil}
	wrongMethod := call{"PUT", "/apis/secrets/v2/workspaces/ml/secrets", "", map[string]string{}}
	oddAccess := call{"GET", "/x/y/z/workspaces/ml/secrets/n/access", "", nil}
	encodedAccess := call{"GET", "/apis/secrets/v2/workspaces/a%2Fb/secrets/n/access", PatternSecretAccess,
		map[string]string{"workspace": "a/b", "name": "n"}}
	trailing := call{"GET", "/apis/secrets/v2/workspaces/ml/secrets/n/access/", "", nil}
	discoveryPost := call{"POST", "/apis/auth/discovery", "", map[string]string{}}
	tests := []struct {
		name string
		c    call
		p    Principal
		want int
	}{
		{"unknown path, service", unknown, Principal{ID: "service:x"}, 0},
		{"unknown path, platform admin", unknown, Principal{ID: "pat"}, 0},
		{"unknown path, user", unknown, Principal{ID: "ada"}, 403},
		{"unknown path, anonymous", unknown, Principal{}, 401},
		{"wrong method, service", wrongMethod, Principal{ID: "service:x"}, 403},
		{"wrong method, platform admin", wrongMethod, Principal{ID: "pat"}, 0},
		{"known public path, other method, service", discoveryPost, Principal{ID: "service:x"}, 403},
		{"access shape anywhere, platform admin", oddAccess, Principal{ID: "pat"}, 403},
		{"access shape anywhere, service", oddAccess, Principal{ID: "service:x"}, 0},
		{"access with encoded slash, platform admin", encodedAccess, Principal{ID: "pat"}, 403},
		{"access with encoded slash, service", encodedAccess, Principal{ID: "service:x"}, 0},
		{"not access shape (trailing slash), platform admin", trailing, Principal{ID: "pat"}, 0},
		{"access, service on behalf of", routeCalls("ml")["A"], Principal{ID: "service:x", OnBehalfOf: "zed"}, 0},
		{"access, admin", routeCalls("ml")["A"], Principal{ID: "ada"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, seeded())
			if err := e.Decide(context.Background(), tt.c.request(tt.p)); status(err) != tt.want {
				t.Errorf("got %v, want %d", err, tt.want)
			}
		})
	}
}

func TestAccessShape(t *testing.T) {
	for path, want := range map[string]bool{
		"/apis/secrets/v2/workspaces/ml/secrets/n/access":   true,
		"/a/b/c/workspaces/w/secrets/n/access":              true,
		"/a/b/c/workspaces/w/secrets/n%2Fx/access":          true,
		"/a/b/c/workspaces/w/secrets/n/access/":             false,
		"/a/b/workspaces/w/secrets/n/access":                false,
		"/a/b/c/workspaces//secrets/n/access":               false,
		"/a/b/c/workspaces/w/secrets/n/Access":              false,
		"/apis/secrets/v2/workspaces/ml/secrets/x%2Faccess": true, // decoded form has the shape
		"/apis/secrets/v2/workspaces/ml/secrets/n":          false,
	} {
		if got := isAccessShape(path); got != want {
			t.Errorf("isAccessShape(%q) = %v", path, got)
		}
	}
}

func TestDecisionScopes(t *testing.T) {
	r := routeCalls("ml")
	tests := []struct {
		name   string
		c      call
		p      Principal
		want   int
		detail string
	}{
		{"permission syntax", r["L"], Principal{ID: "vic", Scopes: []string{"openid", "secrets.read"}}, 400,
			"Invalid scope 'secrets.read': this value uses permission syntax (dots). Scopes use colons (e.g. 'secrets:read'). Did you pass a permission by mistake?"},
		{"permission syntax beats platform admin", r["L"], Principal{ID: "pat", Scopes: []string{"workspaces.members.list"}}, 400,
			"Invalid scope 'workspaces.members.list': this value uses permission syntax (dots). Scopes use colons (e.g. 'secrets:read'). Did you pass a permission by mistake?"},
		{"permission syntax beats anonymous 401", r["L"], Principal{Scopes: []string{"a-b.c1"}}, 400,
			"Invalid scope 'a-b.c1': this value uses permission syntax (dots). Scopes use colons (e.g. 'secrets:read'). Did you pass a permission by mistake?"},
		{"matching scope", r["L"], Principal{ID: "vic", Scopes: []string{"secrets:read"}}, 0, ""},
		{"platform scope", r["G"], Principal{ID: "vic", Scopes: []string{"platform:read"}}, 0, ""},
		{"oidc scopes only", r["G"], Principal{ID: "vic", Scopes: []string{"openid", "profile"}}, 0, ""},
		{"wrong scope", r["L"], Principal{ID: "vic", Scopes: []string{"entities:read"}}, 403, "Forbidden"},
		{"read scope on write route", r["U"], Principal{ID: "eddie", Scopes: []string{"secrets:read"}}, 403, "Forbidden"},
		{"write scope on write route", r["U"], Principal{ID: "eddie", Scopes: []string{"secrets:read", "secrets:write"}}, 0, ""},
		{"entities scope on workspace get", r["WG"], Principal{ID: "vic", Scopes: []string{"entities:read"}}, 0, ""},
		{"secrets scope on workspace get", r["WG"], Principal{ID: "vic", Scopes: []string{"secrets:read"}}, 403, "Forbidden"},
		{"workspace list scope", r["WL"], Principal{ID: "alice", Scopes: []string{"secrets:read"}}, 403, "Forbidden"},
		{"workspace create lists no scopes", r["WC"], Principal{ID: "alice", Scopes: []string{"foo:bar"}}, 0, ""},
		{"service needs the scope too", r["L"], Principal{ID: "service:x", Scopes: []string{"entities:read"}}, 403, "Forbidden"},
		{"platform admin skips the scope check", r["L"], Principal{ID: "pat", Scopes: []string{"entities:read"}}, 0, ""},
		{"uppercase is not permission syntax", r["L"], Principal{ID: "vic", Scopes: []string{"Secrets.Read"}}, 0, ""},
		{"edge hyphen is not permission syntax", r["L"], Principal{ID: "vic", Scopes: []string{"a-.b", "a..b", "-a.b", "a--b.c"}}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, seeded())
			err := e.Decide(context.Background(), tt.c.request(tt.p))
			var ae *Error
			if status(err) != tt.want || (err != nil && (!errors.As(err, &ae) || ae.Detail != tt.detail)) {
				t.Errorf("got %v, want %d %q", err, tt.want, tt.detail)
			}
		})
	}
}

func TestDecisionBindingFailure(t *testing.T) {
	b := seeded()
	b.err = errors.New("database is gone")
	e := newTestEngine(t, b)
	err := e.Decide(context.Background(), routeCalls("ml")["G"].request(Principal{ID: "vic"}))
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Detail != "Internal authorization error" || !errors.Is(err, b.err) {
		t.Fatalf("got %v", err)
	}
	// Rules that need no lookup still decide.
	if err := e.Decide(context.Background(), routeCalls("ml")["WC"].request(Principal{ID: "vic"})); err != nil {
		t.Errorf("workspace create: %v", err)
	}
}

func TestDecisionQueries(t *testing.T) {
	tests := []struct {
		name  string
		c     call
		p     Principal
		calls int
	}{
		{"allowed by role: one query", routeCalls("ml")["G"], Principal{ID: "vic"}, 1},
		{"denied: workspace and system", routeCalls("ml")["U"], Principal{ID: "vic"}, 2},
		{"system workspace: one query serves both rules", routeCalls("system")["U"], Principal{ID: "alice"}, 1},
		{"workspace create: none", routeCalls("ml")["WC"], Principal{ID: "vic"}, 0},
		{"anonymous: none", routeCalls("ml")["G"], Principal{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := seeded()
			_ = newTestEngine(t, b).Decide(context.Background(), tt.c.request(tt.p))
			if b.calls != tt.calls {
				t.Errorf("%d binding queries, want %d", b.calls, tt.calls)
			}
		})
	}
}

func TestDisabledAllowsEverything(t *testing.T) {
	e, err := NewEngine(DefaultConfig(), &memBindings{err: errors.New("never read")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Decide(ctx, routeCalls("ml")["A"].request(Principal{Scopes: []string{"secrets.read"}})); err != nil {
		t.Error(err)
	}
	if err := e.CheckRotate(ctx, Principal{}); err != nil {
		t.Error(err)
	}
	if err := e.CheckAccess(ctx, Principal{ID: "service:x", OnBehalfOf: "zed"}, "ml"); err != nil {
		t.Error(err)
	}
	if v, err := e.VisibleWorkspaces(ctx, Principal{}); err != nil || !v.All {
		t.Error(v, err)
	}
	h := http.Header{"Authorization": {"Bearer not-a-token"}}
	if p, err := e.Identify(ctx, h, true); err != nil || p.ID != "" {
		t.Error(p, err)
	}
}

func TestCheckAccess(t *testing.T) {
	svc := func(obo, email string, groups ...string) Principal {
		return Principal{ID: "service:x", OnBehalfOf: obo, OnBehalfOfEmail: email, OnBehalfOfGroups: groups}
	}
	tests := []struct {
		name string
		p    Principal
		ws   string
		want int
	}{
		{"no on-behalf-of", Principal{ID: "service:x"}, "ml", 0},
		{"viewer", svc("vic", ""), "ml", 0},
		{"editor", svc("eddie", ""), "ml", 0},
		{"by email", svc("zed", "e@x.org"), "ml", 0},
		{"by group", svc("zed", "", "nope", "ml-team"), "ml", 0},
		{"non-member", svc("zed", ""), "ml", 403},
		{"member elsewhere", svc("olga", ""), "ml", 403},
		{"platform admin elsewhere lacks read", svc("pel", ""), "ml", 403},
		{"platform admin", svc("pat", ""), "ml", 0},
		{"service user", svc("service:y", ""), "ml", 0},
		{"anyone in default", svc("zed", ""), "default", 0},
		{"anyone in system", svc("zed", ""), "system", 0},
		{"caller's own groups do not count", Principal{ID: "service:x", Groups: []string{"ml-team"}, OnBehalfOf: "zed"}, "ml", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newTestEngine(t, seeded()).CheckAccess(context.Background(), tt.p, tt.ws)
			if status(err) != tt.want {
				t.Errorf("got %v, want %d", err, tt.want)
			}
		})
	}
	b := seeded()
	b.err = errors.New("down")
	if err := newTestEngine(t, b).CheckAccess(context.Background(), svc("vic", ""), "ml"); status(err) != 500 {
		t.Errorf("lookup failure: %v", err)
	}
}

func TestCheckRotate(t *testing.T) {
	for id, want := range map[string]int{"pat": 0, "pel": 403, "alice": 403, "ada": 403} {
		if err := newTestEngine(t, seeded()).CheckRotate(context.Background(), Principal{ID: id}); status(err) != want {
			t.Errorf("%s: got %v, want %d", id, err, want)
		}
	}
}

func TestHasPermissionsNotPooled(t *testing.T) {
	b := &memBindings{rows: [][3]string{
		{"ml", "u", RoleViewer},
		{"ml", "g", RolePlatformAdmin},
		{"ws2", "u", RoleViewer},
		{"ws2", "g", RolePlatformAdmin},
		{"ws2", "*", RoleViewer},
	}}
	e := newTestEngine(t, b)
	set := Set{ID: "u", Others: []string{"g"}}
	perms := []string{PermSecretsRead, PermSecretsRotate}
	if ok, err := e.HasPermissions(context.Background(), set, "ml", perms...); ok || err != nil {
		t.Errorf("pooled across members: %v %v", ok, err)
	}
	// "*" supplements each member: g holds rotate itself and read via "*".
	if ok, err := e.HasPermissions(context.Background(), set, "ws2", perms...); !ok || err != nil {
		t.Errorf("wildcard not applied per member: %v %v", ok, err)
	}
	if ok, _ := e.HasPermissions(context.Background(), Set{}, "ws2", PermSecretsRead); ok {
		t.Error("empty set granted")
	}
}

func TestVisibleWorkspaces(t *testing.T) {
	tests := []struct {
		name string
		p    Principal
		all  bool
		want string
	}{
		{"service", Principal{ID: "service:x"}, true, ""},
		{"platform admin", Principal{ID: "pat"}, true, ""},
		{"user without bindings", Principal{ID: "alice"}, false, "default system"},
		{"viewer", Principal{ID: "vic"}, false, "default ml system"},
		{"by group", Principal{ID: "gus", Groups: []string{"ml-team"}}, false, "default ml system"},
		{"service on behalf of", Principal{ID: "service:x", OnBehalfOf: "olga"}, false, "default other system"},
		{"service on behalf of by email", Principal{ID: "service:x", OnBehalfOf: "zed", OnBehalfOfEmail: "e@x.org"}, false, "default ml system"},
		{"anonymous", Principal{}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := newTestEngine(t, seeded()).VisibleWorkspaces(context.Background(), tt.p)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(v.Names)
			if v.All != tt.all || strings.Join(v.Names, " ") != tt.want {
				t.Errorf("got %+v, want all=%v %q", v, tt.all, tt.want)
			}
			if !v.All && tt.want != "" && !v.Contains(strings.Fields(tt.want)[0]) {
				t.Error("Contains disagrees with Names")
			}
		})
	}
	b := seeded()
	b.err = errors.New("down")
	if _, err := newTestEngine(t, b).VisibleWorkspaces(context.Background(), Principal{ID: "vic"}); err == nil {
		t.Error("lookup failure hidden")
	}
}

func TestApplicableSets(t *testing.T) {
	p := Principal{ID: "service:x", Email: "svc@x", Groups: []string{"g", ""}, OnBehalfOf: "bob",
		OnBehalfOfEmail: "bob@x", OnBehalfOfGroups: []string{"team", "bob@x"}}
	if got := strings.Join(p.Applicable().Members(), " "); got != "service:x bob@x team" {
		t.Errorf("A with on-behalf-of = %q", got)
	}
	if got := strings.Join(p.OnBehalfOfSet().Members(), " "); got != "bob bob@x team" {
		t.Errorf("P' = %q", got)
	}
	p.OnBehalfOf = ""
	if got := strings.Join(p.Applicable().Members(), " "); got != "service:x svc@x g" {
		t.Errorf("A = %q", got)
	}
	if !(Principal{}).Applicable().Empty() {
		t.Error("anonymous set not empty")
	}
}

func TestRoutesAndRoles(t *testing.T) {
	if len(Routes()) != 24 { // with the two audit queries
		t.Errorf("%d routes", len(Routes()))
	}
	// The lifecycle routes and the permission each needs (docs/lifecycle.md).
	for _, c := range []struct{ method, pattern, perm string }{
		{"GET", PatternVersions, PermSecretsRead},
		{"POST", PatternRestoreVer, PermSecretsUpdate},
		{"DELETE", PatternVersion, PermSecretsDelete},
		{"GET", PatternDeleted, PermSecretsList},
		{"POST", PatternRestoreDel, PermSecretsCreate},
		{"DELETE", PatternDeletedOne, PermSecretsDelete},
	} {
		if r, ok := LookupRoute(c.method, c.pattern); !ok || r.Permission != c.perm || r.WorkspaceParam != "workspace" {
			t.Errorf("%s %s: %+v %v, want permission %s in the path's workspace", c.method, c.pattern, r, ok, c.perm)
		}
	}
	if r, ok := LookupRoute("HEAD", PatternSecrets); !ok || r.Permission != PermSecretsList {
		t.Errorf("HEAD row: %+v %v", r, ok)
	}
	if _, ok := LookupRoute("PUT", PatternSecrets); ok {
		t.Error("PUT on the list found")
	}
	if got := strings.Join(AssignableRoles(), ", "); got != "Viewer, Editor, Admin, PlatformAdmin" {
		t.Errorf("assignable %q", got)
	}
	if IsAssignableRole(RoleServiceSystem) || IsAssignableRole("viewer") || !IsAssignableRole("Admin") {
		t.Error("IsAssignableRole")
	}
	admin := RolePermissions(RoleAdmin)
	for _, p := range []string{PermSecretsRead, PermSecretsDelete, PermMembersDelete} {
		if !slices.Contains(admin, p) {
			t.Errorf("Admin lacks %s", p)
		}
	}
	if slices.Contains(admin, PermSecretsAccess) || slices.Contains(admin, PermSecretsRotate) {
		t.Error("Admin holds access or rotate")
	}
	// The audit trail (docs/operations.md): Admin and PlatformAdmin read it.
	if !slices.Contains(admin, PermAuditRead) || !roleGrants(RolePlatformAdmin, PermAuditRead) ||
		roleGrants(RoleEditor, PermAuditRead) || roleGrants(RoleViewer, PermAuditRead) {
		t.Error("audit.read held by the wrong roles")
	}
	if !roleGrants(RoleServiceSystem, PermSecretsAccess) || roleGrants("Owner", PermSecretsRead) {
		t.Error("roleGrants")
	}
}

func TestSeeds(t *testing.T) {
	c := DefaultConfig()
	if got := Seeds(c); len(got) != 2 || got[0] != (Seed{"default", "*", "Editor"}) || got[1] != (Seed{"system", "*", "Viewer"}) {
		t.Errorf("got %+v", got)
	}
	c.AdminEmail, c.DefaultWorkspace = "root@example.org", "team"
	if got := Seeds(c); len(got) != 3 || got[0].Workspace != "team" || got[2] != (Seed{"system", "root@example.org", "PlatformAdmin"}) {
		t.Errorf("got %+v", got)
	}
	p := Principal{ID: "service:x", Email: "svc@x", OnBehalfOf: "bob", OnBehalfOfEmail: "bob@x"}
	if p.CreatorBinding() != "svc@x" || (Principal{ID: "alice"}).CreatorBinding() != "alice" {
		t.Error("CreatorBinding")
	}
}
