package auth

import (
	"context"
	"fmt"
	"slices"

	"github.com/coffer-dev/coffer/internal/secrets"
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

// Where says in which workspace a Need's permission is checked.
type Where uint8

// The places a permission is checked. The zero Where is none of them: a
// Need must say where, and Decide refuses one that does not (except to
// PlatformAdmin, who passes every check).
const (
	// InWorkspace: the permission in the request's workspace (Request.Workspace).
	InWorkspace Where = iota + 1
	// InSystem: only a PlatformAdmin bound in the system workspace
	// (rotation). The permission names the operation for the reader.
	InSystem
	// Authenticated: any authenticated caller whose scopes pass. The
	// operation itself narrows what the caller sees or may do: the
	// workspace list is filtered, workspace creation makes the caller
	// Admin of its own workspace, the audit trail of every workspace asks
	// CheckAuditAll.
	Authenticated
)

// Need is what one operation requires (docs/auth.md "How a request is
// decided"). The caller states it: the HTTP layer's route table holds one
// per route.
type Need struct {
	// Permission is the permission the operation needs where Where says;
	// "" only with Authenticated.
	Permission string
	// Scopes are alternatives: any one of them satisfies the scope check.
	Scopes []string
	Where  Where
	// ServicesOnly: only service principals may call the operation,
	// whatever roles others hold (reading a value).
	ServicesOnly bool
}

// Request is what a decision is made on: who asks, for which operation and
// in which workspace.
type Request struct {
	Principal Principal
	// Need is the operation's requirement; nil when the request names no
	// operation.
	Need *Need
	// Workspace is where a Need with InWorkspace is checked.
	Workspace string
	// Exists reports, when Need is nil, whether the request names
	// something that has other operations: a service asking for nothing
	// that exists is let through to be told so, one asking for an
	// operation the thing lacks is not.
	Exists bool
	// ReadsValue: the request reads, or is shaped like a request reading,
	// a secret value; only service principals may (see
	// Need.ServicesOnly), even when no operation matched.
	ReadsValue bool
}

// Decide is step 3 of docs/auth.md "For integrators". It returns nil when the request
// may proceed, else an *Error: KindBadRequest for a permission-like
// scope, KindUnauthenticated for a denied anonymous caller, KindForbidden
// for any other denial, KindInternal when bindings could not be read.
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

// Allowed is the decision of docs/auth.md "How a request is decided" on
// its own; the error is a binding lookup failure. Rules that need no
// lookup run first, so most requests cost one query.
func (e *Engine) Allowed(ctx context.Context, req Request) (bool, error) {
	p := req.Principal
	a := p.Applicable()
	readsValue := req.ReadsValue || req.Need != nil && req.Need.ServicesOnly
	if a.Empty() || (readsValue && !p.IsService()) {
		return false, nil
	}
	if p.IsService() && req.Need == nil && !req.Exists {
		return true, nil
	}
	rr := e.reader()
	if n := req.Need; n != nil && scopesPass(p.Scopes, n.Scopes) {
		switch n.Where {
		case Authenticated:
			return true, nil
		case InWorkspace:
			if ok, err := rr.hasAll(ctx, a, req.Workspace, n.Permission); ok || err != nil {
				return ok, err
			}
		}
	}
	return rr.platformAdmin(ctx, a)
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
// secrets.access). It returns nil, or an *Error of KindForbidden or KindInternal.
func (e *Engine) CheckAccess(ctx context.Context, p Principal, ws string) error {
	if !e.cfg.Enabled || p.OnBehalfOf == "" {
		return nil
	}
	return e.check(ctx, p.OnBehalfOfSet(), ws, secrets.PermSecretsRead)
}

// CheckRotate is the rotation check (docs/auth.md "Platform services: reading values"). It returns nil, or an
// *Error of KindForbidden or KindInternal.
func (e *Engine) CheckRotate(ctx context.Context, p Principal) error {
	if !e.cfg.Enabled {
		return nil
	}
	return e.check(ctx, p.Applicable(), SystemWorkspace, secrets.PermSecretsRotate)
}

// CheckAuditAll admits the audit trail of every workspace
// (docs/operations.md, "Audit trail"): PlatformAdmin in system and
// platform services acting for no user. It returns nil, or an *Error of
// KindForbidden or KindInternal.
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
// binding lookup failures (the HTTP layer answers them as KindInternal).
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
		if slices.Contains(m[p], secrets.RolePlatformAdmin) {
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
			own = []string{secrets.RoleServiceSystem}
		}
		if !slices.ContainsFunc(perms, func(perm string) bool {
			return !secrets.AnyRoleGrants(own, perm) && !secrets.AnyRoleGrants(m[Wildcard], perm)
		}) {
			return true, nil
		}
	}
	return false, nil
}
