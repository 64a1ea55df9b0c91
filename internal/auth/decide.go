package auth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

const (
	servicePrefix = "service:"
	// SystemWorkspace is where a PlatformAdmin binding is a global bypass.
	SystemWorkspace = "system"
	// Wildcard is the binding principal that matches every authenticated
	// caller.
	Wildcard = "*"
)

// Bindings reads role bindings (docs/auth.md "Roles"). The storage backends implement
// it; every decision reads through it, so a change is seen by the next
// request.
type Bindings interface {
	// RolesOf returns, for each principal string in principals that has at
	// least one binding in ws, its roles.
	RolesOf(ctx context.Context, ws string, principals []string) (map[string][]string, error)
	// WorkspacesOf returns the names of workspaces where any of principals
	// has at least one binding.
	WorkspacesOf(ctx context.Context, principals []string) ([]string, error)
}

// Engine authenticates bearer tokens and decides requests. It holds no
// per-request state and is safe for concurrent use.
type Engine struct {
	cfg      Config
	bindings Bindings
	jwt      *verifier
}

// NewEngine returns an Engine for cfg reading bindings from b. It fails
// when cfg is invalid, so a bad configuration stops startup.
func NewEngine(cfg Config, b Bindings, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	return &Engine{cfg: cfg, bindings: b, jwt: newVerifier(cfg, o)}, nil
}

// Enabled reports whether auth.enabled is on; when it is off every check
// of the Engine allows.
func (e *Engine) Enabled() bool { return e.cfg.Enabled }

// Request is what the decision needs to know about one HTTP request.
type Request struct {
	Method string
	// Path is the request path without the query, as received (escaped).
	Path string
	// PathKnown reports whether any route pattern (any method, public ones
	// included) matches Path: services may reach the router's 404.
	PathKnown bool
	// Pattern is the route pattern matched for Method, "" when none.
	Pattern string
	// Param returns a decoded path parameter of the matched route; nil
	// when no route matched.
	Param     func(name string) string
	Principal Principal
}

// Decide is step 3 of docs/auth.md "For integrators". It returns nil when the request
// may proceed, else an *Error: 400 for a permission-like scope, 401 for a
// denied anonymous caller, 403 for any other denial, 500 when bindings
// could not be read.
func (e *Engine) Decide(ctx context.Context, req Request) error {
	if !e.cfg.Enabled {
		return nil
	}
	if err := CheckScopeSyntax(req.Principal.Scopes); err != nil {
		return err
	}
	ok, err := e.Allowed(ctx, req)
	if err != nil {
		return internalError(err)
	}
	if !ok {
		return denied(req.Principal)
	}
	return nil
}

// Allowed is the decision of docs/auth.md "Roles" on its own; the error is a
// binding lookup failure. Rules that need no lookup run first, so most
// requests cost one query.
func (e *Engine) Allowed(ctx context.Context, req Request) (bool, error) {
	p := req.Principal
	a := p.Applicable()
	if a.Empty() || (isAccessShape(req.Path) && !p.IsService()) {
		return false, nil
	}
	if p.IsService() && !req.PathKnown {
		return true, nil
	}
	rr := e.reader()
	if route, ok := LookupRoute(req.Method, req.Pattern); ok && scopesPass(p.Scopes, route.Scopes) {
		switch {
		case route.Permission == "":
			return true, nil
		case route.WorkspaceParam != "":
			if ok, err := rr.hasAll(ctx, a, param(req, route.WorkspaceParam), route.Permission); ok || err != nil {
				return ok, err
			}
		case route.Method == http.MethodGet:
			return true, nil
		}
	}
	return rr.platformAdmin(ctx, a)
}

func param(req Request, name string) string {
	if req.Param == nil {
		return ""
	}
	return req.Param(name)
}

// HasPermissions is the permission check of docs/auth.md "Roles" for the handler checks of "Platform services: reading values": true when a
// member of set is PlatformAdmin in system, or one member holds all perms
// in ws (permissions are never pooled across members).
func (e *Engine) HasPermissions(ctx context.Context, set Set, ws string, perms ...string) (bool, error) {
	if set.Empty() {
		return false, nil
	}
	rr := e.reader()
	if ok, err := rr.hasAll(ctx, set, ws, perms...); ok || err != nil {
		return ok, err
	}
	return rr.platformAdmin(ctx, set)
}

// CheckAccess is the /access on-behalf-of check (docs/auth.md "Platform services: reading values"): with
// on-behalf-of, that user must hold secrets.read in ws (faithfully not
// secrets.access). It returns nil, a 403 or a 500 *Error.
func (e *Engine) CheckAccess(ctx context.Context, p Principal, ws string) error {
	if !e.cfg.Enabled || p.OnBehalfOf == "" {
		return nil
	}
	return e.check(ctx, p.OnBehalfOfSet(), ws, PermSecretsRead)
}

// CheckRotate is the rotation check (docs/auth.md "Platform services: reading values"). It returns nil, a 403 or
// a 500 *Error.
func (e *Engine) CheckRotate(ctx context.Context, p Principal) error {
	if !e.cfg.Enabled {
		return nil
	}
	return e.check(ctx, p.Applicable(), SystemWorkspace, PermSecretsRotate)
}

// CheckAuditAll admits the audit trail of every workspace
// (docs/operations.md, "Audit trail"): PlatformAdmin in system and
// platform services acting for no user. It returns nil, a 403 or a 500
// *Error.
func (e *Engine) CheckAuditAll(ctx context.Context, p Principal) error {
	if !e.cfg.Enabled || p.IsService() && p.OnBehalfOf == "" {
		return nil
	}
	ok, err := e.reader().platformAdmin(ctx, p.Applicable())
	switch {
	case err != nil:
		return internalError(err)
	case !ok:
		return forbidden()
	}
	return nil
}

func (e *Engine) check(ctx context.Context, set Set, ws, perm string) error {
	ok, err := e.HasPermissions(ctx, set, ws, perm)
	switch {
	case err != nil:
		return internalError(err)
	case !ok:
		return forbidden()
	}
	return nil
}

// Visibility is the workspace list a caller may see (docs/api.md §9.3).
type Visibility struct {
	// All means no filtering.
	All bool
	// Names are the visible workspaces when All is false, in no order.
	Names []string
}

// Contains reports whether workspace name is visible.
func (v Visibility) Contains(name string) bool { return v.All || slices.Contains(v.Names, name) }

// VisibleWorkspaces filters GET /apis/entities/v2/workspaces. Errors are
// binding lookup failures (answer 500 Internal authorization error).
func (e *Engine) VisibleWorkspaces(ctx context.Context, p Principal) (Visibility, error) {
	if !e.cfg.Enabled || (p.IsService() && p.OnBehalfOf == "") {
		return Visibility{All: true}, nil
	}
	a := p.Applicable()
	if a.Empty() {
		return Visibility{}, nil
	}
	if admin, err := e.reader().platformAdmin(ctx, a); admin || err != nil {
		return Visibility{All: admin}, err
	}
	acting := a
	if p.IsService() {
		acting = p.OnBehalfOfSet()
	}
	names, err := e.bindings.WorkspacesOf(ctx, append(acting.Members(), Wildcard))
	if err != nil {
		return Visibility{}, fmt.Errorf("reading workspaces of principal: %w", err)
	}
	return Visibility{Names: names}, nil
}

// roleReader reads each workspace's bindings at most once per decision:
// one query for A ∪ {"*"} serves both the permission and the
// PlatformAdmin rules when the workspace is system.
type roleReader struct {
	b    Bindings
	seen map[string]map[string][]string
}

func (e *Engine) reader() *roleReader {
	return &roleReader{b: e.bindings, seen: map[string]map[string][]string{}}
}

func (r *roleReader) roles(ctx context.Context, ws string, set Set) (map[string][]string, error) {
	if m, ok := r.seen[ws]; ok {
		return m, nil
	}
	m, err := r.b.RolesOf(ctx, ws, append(set.Members(), Wildcard))
	if err != nil {
		return nil, fmt.Errorf("reading role bindings in workspace %q: %w", ws, err)
	}
	r.seen[ws] = m
	return m, nil
}

// platformAdmin reports whether a member of set is PlatformAdmin in system.
func (r *roleReader) platformAdmin(ctx context.Context, set Set) (bool, error) {
	m, err := r.roles(ctx, SystemWorkspace, set)
	if err != nil {
		return false, err
	}
	for _, p := range set.Members() {
		if slices.Contains(m[p], RolePlatformAdmin) {
			return true, nil
		}
	}
	return false, nil
}

// hasAll reports whether one member of set holds every perm in ws, each
// either through its own roles or through the roles bound to "*".
func (r *roleReader) hasAll(ctx context.Context, set Set, ws string, perms ...string) (bool, error) {
	m, err := r.roles(ctx, ws, set)
	if err != nil {
		return false, err
	}
	for _, p := range set.Members() {
		own := m[p]
		if p == set.ID && isService(p) && len(own) == 0 {
			own = []string{RoleServiceSystem}
		}
		if !slices.ContainsFunc(perms, func(perm string) bool { return !anyGrants(own, perm) && !anyGrants(m[Wildcard], perm) }) {
			return true, nil
		}
	}
	return false, nil
}
