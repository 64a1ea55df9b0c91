package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
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
		{"default", "*", secrets.RoleEditor},
		{"system", "*", secrets.RoleViewer},
		{"system", "pat", secrets.RolePlatformAdmin},
		{"ml", "vic", secrets.RoleViewer},
		{"ml", "eddie", secrets.RoleEditor},
		{"ml", "ada", secrets.RoleAdmin},
		{"ml", "pel", secrets.RolePlatformAdmin},
		{"ml", "service:v", secrets.RoleViewer},
		{"ml", "ml-team", secrets.RoleViewer},
		{"ml", "e@x.org", secrets.RoleEditor},
		{"other", "olga", secrets.RoleEditor},
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

// call is one request of the matrix: an operation's Need as the HTTP route
// table states it (internal/httpapi/routes.go), in a workspace.
type call struct {
	need       *Need // nil: no operation
	ws         string
	exists     bool // with need nil: the path exists with other methods
	readsValue bool // the path has the shape of a value read
}

func (c call) request(p Principal) Request {
	return Request{Principal: p, Need: c.need, Workspace: c.ws, Exists: c.exists, ReadsValue: c.readsValue}
}

var (
	secretsRead   = []string{"secrets:read", "platform:read"}
	secretsWrite  = []string{"secrets:write", "platform:write"}
	entitiesRead  = []string{"entities:read", "platform:read"}
	entitiesWrite = []string{"entities:write", "platform:write"}
)

func inWS(perm string, scopes []string) *Need {
	return &Need{Permission: perm, Scopes: scopes, Where: InWorkspace}
}

// routeCalls builds every route of the table against workspace ws. HEAD
// ("H") is GET's operation: the router gives it GET's row.
func routeCalls(ws string) map[string]call {
	get := inWS(secrets.PermSecretsRead, secretsRead)
	access := &Need{Permission: secrets.PermSecretsAccess, Scopes: secretsRead, Where: InWorkspace, ServicesOnly: true}
	return map[string]call{
		"L":  {need: inWS(secrets.PermSecretsList, secretsRead), ws: ws},
		"C":  {need: inWS(secrets.PermSecretsCreate, secretsWrite), ws: ws},
		"G":  {need: get, ws: ws},
		"H":  {need: get, ws: ws},
		"U":  {need: inWS(secrets.PermSecretsUpdate, secretsWrite), ws: ws},
		"D":  {need: inWS(secrets.PermSecretsDelete, secretsWrite), ws: ws},
		"A":  {need: access, ws: ws, readsValue: true},
		"R":  {need: &Need{Permission: secrets.PermSecretsRotate, Scopes: secretsWrite, Where: InSystem}},
		"WL": {need: &Need{Permission: secrets.PermWorkspacesList, Scopes: entitiesRead, Where: Authenticated}},
		"WC": {need: &Need{Where: Authenticated}},
		"WG": {need: inWS(secrets.PermWorkspacesRead, entitiesRead), ws: ws},
		"WU": {need: inWS(secrets.PermWorkspacesUpdate, entitiesWrite), ws: ws},
		"WD": {need: inWS(secrets.PermWorkspacesDelete, entitiesWrite), ws: ws},
		"ML": {need: inWS(secrets.PermMembersList, entitiesRead), ws: ws},
		"MC": {need: inWS(secrets.PermMembersCreate, entitiesWrite), ws: ws},
		"MU": {need: inWS(secrets.PermMembersUpdate, entitiesWrite), ws: ws},
		"MD": {need: inWS(secrets.PermMembersDelete, entitiesWrite), ws: ws},
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
				want := "ok"
				if !slices.Contains(allowed, key) {
					want = "forbidden"
					if tt.p.ID == "" {
						want = "unauthenticated"
					}
				}
				if got := outcome(err); got != want {
					t.Errorf("%s: got %s (%v), want %s", key, got, err, want)
				}
			}
		})
	}
}

// outcome names a decision: "ok" or the Kind of its *Error.
func outcome(err error) string {
	var ae *Error
	switch {
	case err == nil:
		return "ok"
	case !errors.As(err, &ae):
		return "not an *Error"
	}
	return map[Kind]string{KindInternal: "internal", KindUnauthenticated: "unauthenticated",
		KindInvalidToken: "invalid token", KindForbidden: "forbidden", KindBadRequest: "bad request"}[ae.Kind]
}

// TestDecisionOutsideTheTable covers requests that name no operation (the
// router found no route for the method), and value reads however the path
// spells them. The comments give the paths the HTTP layer turns into these
// requests.
func TestDecisionOutsideTheTable(t *testing.T) {
	unknown := call{}                       // GET /apis/nope
	wrongMethod := call{exists: true}       // PUT /apis/secrets/v2/workspaces/ml/secrets
	oddAccess := call{readsValue: true}     // GET /x/y/z/workspaces/ml/secrets/n/access
	encodedAccess := routeCalls("a/b")["A"] // GET /apis/secrets/v2/workspaces/a%2Fb/secrets/n/access
	trailing := call{}                      // GET /apis/secrets/v2/workspaces/ml/secrets/n/access/
	discoveryPost := call{exists: true}     // POST /apis/auth/discovery
	tests := []struct {
		name string
		c    call
		p    Principal
		want string
	}{
		{"unknown path, service", unknown, Principal{ID: "service:x"}, "ok"},
		{"unknown path, platform admin", unknown, Principal{ID: "pat"}, "ok"},
		{"unknown path, user", unknown, Principal{ID: "ada"}, "forbidden"},
		{"unknown path, anonymous", unknown, Principal{}, "unauthenticated"},
		{"wrong method, service", wrongMethod, Principal{ID: "service:x"}, "forbidden"},
		{"wrong method, platform admin", wrongMethod, Principal{ID: "pat"}, "ok"},
		{"known public path, other method, service", discoveryPost, Principal{ID: "service:x"}, "forbidden"},
		{"access shape anywhere, platform admin", oddAccess, Principal{ID: "pat"}, "forbidden"},
		{"access shape anywhere, service", oddAccess, Principal{ID: "service:x"}, "ok"},
		{"access with encoded slash, platform admin", encodedAccess, Principal{ID: "pat"}, "forbidden"},
		{"access with encoded slash, service", encodedAccess, Principal{ID: "service:x"}, "ok"},
		{"not access shape (trailing slash), platform admin", trailing, Principal{ID: "pat"}, "ok"},
		{"access, service on behalf of", routeCalls("ml")["A"], Principal{ID: "service:x", OnBehalfOf: "zed"}, "ok"},
		{"access, admin", routeCalls("ml")["A"], Principal{ID: "ada"}, "forbidden"},
		// The row alone keeps value reads to services, shape or not.
		{"services-only row, platform admin", call{need: routeCalls("ml")["A"].need, ws: "ml"}, Principal{ID: "pat"}, "forbidden"},
		{"services-only row, service", call{need: routeCalls("ml")["A"].need, ws: "ml"}, Principal{ID: "service:x"}, "ok"},
		// A Need that does not say where is refused to all but PlatformAdmin.
		{"need without where, service", call{need: &Need{Permission: secrets.PermSecretsRead}, ws: "ml"}, Principal{ID: "service:x"}, "forbidden"},
		{"need without where, platform admin", call{need: &Need{Permission: secrets.PermSecretsRead}, ws: "ml"}, Principal{ID: "pat"}, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, seeded())
			if err := e.Decide(context.Background(), tt.c.request(tt.p)); outcome(err) != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestDecisionScopes(t *testing.T) {
	r := routeCalls("ml")
	tests := []struct {
		name   string
		c      call
		p      Principal
		want   string
		detail string
	}{
		{"permission syntax", r["L"], Principal{ID: "vic", Scopes: []string{"openid", "secrets.read"}}, "bad request",
			"Invalid scope 'secrets.read': this value uses permission syntax (dots). Scopes use colons (e.g. 'secrets:read'). Did you pass a permission by mistake?"},
		{"permission syntax beats platform admin", r["L"], Principal{ID: "pat", Scopes: []string{"workspaces.members.list"}}, "bad request",
			"Invalid scope 'workspaces.members.list': this value uses permission syntax (dots). Scopes use colons (e.g. 'secrets:read'). Did you pass a permission by mistake?"},
		{"permission syntax beats anonymous denial", r["L"], Principal{Scopes: []string{"a-b.c1"}}, "bad request",
			"Invalid scope 'a-b.c1': this value uses permission syntax (dots). Scopes use colons (e.g. 'secrets:read'). Did you pass a permission by mistake?"},
		{"matching scope", r["L"], Principal{ID: "vic", Scopes: []string{"secrets:read"}}, "ok", ""},
		{"platform scope", r["G"], Principal{ID: "vic", Scopes: []string{"platform:read"}}, "ok", ""},
		{"oidc scopes only", r["G"], Principal{ID: "vic", Scopes: []string{"openid", "profile"}}, "ok", ""},
		{"wrong scope", r["L"], Principal{ID: "vic", Scopes: []string{"entities:read"}}, "forbidden", "Forbidden"},
		{"read scope on write route", r["U"], Principal{ID: "eddie", Scopes: []string{"secrets:read"}}, "forbidden", "Forbidden"},
		{"write scope on write route", r["U"], Principal{ID: "eddie", Scopes: []string{"secrets:read", "secrets:write"}}, "ok", ""},
		{"entities scope on workspace get", r["WG"], Principal{ID: "vic", Scopes: []string{"entities:read"}}, "ok", ""},
		{"secrets scope on workspace get", r["WG"], Principal{ID: "vic", Scopes: []string{"secrets:read"}}, "forbidden", "Forbidden"},
		{"workspace list scope", r["WL"], Principal{ID: "alice", Scopes: []string{"secrets:read"}}, "forbidden", "Forbidden"},
		{"workspace create lists no scopes", r["WC"], Principal{ID: "alice", Scopes: []string{"foo:bar"}}, "ok", ""},
		{"service needs the scope too", r["L"], Principal{ID: "service:x", Scopes: []string{"entities:read"}}, "forbidden", "Forbidden"},
		{"platform admin skips the scope check", r["L"], Principal{ID: "pat", Scopes: []string{"entities:read"}}, "ok", ""},
		{"uppercase is not permission syntax", r["L"], Principal{ID: "vic", Scopes: []string{"Secrets.Read"}}, "ok", ""},
		{"edge hyphen is not permission syntax", r["L"], Principal{ID: "vic", Scopes: []string{"a-.b", "a..b", "-a.b", "a--b.c"}}, "ok", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, seeded())
			err := e.Decide(context.Background(), tt.c.request(tt.p))
			var ae *Error
			if outcome(err) != tt.want || (err != nil && (!errors.As(err, &ae) || ae.Detail != tt.detail)) {
				t.Errorf("got %v, want %s %q", err, tt.want, tt.detail)
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
	if !errors.As(err, &ae) || ae.Kind != KindInternal || ae.Detail != "Internal authorization error" || !errors.Is(err, b.err) {
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
		want string
	}{
		{"no on-behalf-of", Principal{ID: "service:x"}, "ml", "ok"},
		{"viewer", svc("vic", ""), "ml", "ok"},
		{"editor", svc("eddie", ""), "ml", "ok"},
		{"by email", svc("zed", "e@x.org"), "ml", "ok"},
		{"by group", svc("zed", "", "nope", "ml-team"), "ml", "ok"},
		{"non-member", svc("zed", ""), "ml", "forbidden"},
		{"member elsewhere", svc("olga", ""), "ml", "forbidden"},
		{"platform admin elsewhere lacks read", svc("pel", ""), "ml", "forbidden"},
		{"platform admin", svc("pat", ""), "ml", "ok"},
		{"service user", svc("service:y", ""), "ml", "ok"},
		{"anyone in default", svc("zed", ""), "default", "ok"},
		{"anyone in system", svc("zed", ""), "system", "ok"},
		{"caller's own groups do not count", Principal{ID: "service:x", Groups: []string{"ml-team"}, OnBehalfOf: "zed"}, "ml", "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newTestEngine(t, seeded()).CheckAccess(context.Background(), tt.p, tt.ws)
			if outcome(err) != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
	b := seeded()
	b.err = errors.New("down")
	if err := newTestEngine(t, b).CheckAccess(context.Background(), svc("vic", ""), "ml"); outcome(err) != "internal" {
		t.Errorf("lookup failure: %v", err)
	}
}

func TestCheckRotate(t *testing.T) {
	for id, want := range map[string]string{"pat": "ok", "pel": "forbidden", "alice": "forbidden", "ada": "forbidden"} {
		if err := newTestEngine(t, seeded()).CheckRotate(context.Background(), Principal{ID: id}); outcome(err) != want {
			t.Errorf("%s: got %v, want %s", id, err, want)
		}
	}
}

func TestHasPermissionsNotPooled(t *testing.T) {
	b := &memBindings{rows: [][3]string{
		{"ml", "u", secrets.RoleViewer},
		{"ml", "g", secrets.RolePlatformAdmin},
		{"ws2", "u", secrets.RoleViewer},
		{"ws2", "g", secrets.RolePlatformAdmin},
		{"ws2", "*", secrets.RoleViewer},
	}}
	e := newTestEngine(t, b)
	set := Set{ID: "u", Others: []string{"g"}}
	perms := []string{secrets.PermSecretsRead, secrets.PermSecretsRotate}
	if ok, err := e.HasPermissions(context.Background(), set, "ml", perms...); ok || err != nil {
		t.Errorf("pooled across members: %v %v", ok, err)
	}
	// "*" supplements each member: g holds rotate itself and read via "*".
	if ok, err := e.HasPermissions(context.Background(), set, "ws2", perms...); !ok || err != nil {
		t.Errorf("wildcard not applied per member: %v %v", ok, err)
	}
	if ok, _ := e.HasPermissions(context.Background(), Set{}, "ws2", secrets.PermSecretsRead); ok {
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
