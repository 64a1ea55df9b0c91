package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/metrics"
)

// route is one row of the route table. Patterns are literal segments with
// {param} placeholders; matching is on the escaped path split at '/', so a
// principal or name containing an escaped '/' is one segment.
type route struct {
	method  string
	pattern string
	handle  func(s *Server, w http.ResponseWriter, r *http.Request, p params)
	public  bool      // no identity parsing, no authorization (health, discovery)
	authz   authz     // who may call it; required unless public (routes.go)
	audit   auditSpec // the audit action; zero for routes not recorded (audit.go)
	segs    []string  // pattern segments; a parameter is "" here, named in names
	names   []string  // parameter names, in path order
	// obs and headObs count the route's requests (HEAD ones apart for a
	// GET route); nil without metrics.
	obs, headObs *metrics.Route
	pmask        uint32 // bit i set: segment i is a parameter ("/" has one empty literal)
}

// authzProblem says what is wrong with the route's authorization
// requirement, "" if nothing: a row that forgot it would be refused to all
// but PlatformAdmin, one naming a parameter its pattern lacks would check
// the permission in the workspace "".
func (r *route) authzProblem() string {
	n := r.authz.need
	switch {
	case r.public:
		return ""
	case n.Where == 0:
		return "no authorization requirement"
	case n.Permission == "" && n.Where != auth.Authenticated:
		return "no permission"
	case (n.Where == auth.InWorkspace) != (r.authz.wsParam != ""):
		return "a workspace parameter exactly when the permission is checked in a workspace"
	case r.authz.wsParam != "" && !slices.Contains(r.names, r.authz.wsParam):
		return "no path parameter {" + r.authz.wsParam + "}"
	}
	return ""
}

// maxParams is the most {param} segments a pattern may have.
const maxParams = 3

// params are what a handler gets besides the request: the decoded path
// parameters of its route and the principal the request acts as. They live
// in the Match, not in a map or the request's context, so routing and
// identifying a request allocate nothing but the decoded values of escaped
// segments.
type params struct {
	names     []string // the route's parameter names
	values    [maxParams]string
	principal auth.Principal // empty if anonymous
	audit     *auditReq      // the request's audit event; nil when not recorded
}

// get returns the decoded parameter name ("" if the route has none).
func (p params) get(name string) string {
	for i, n := range p.names {
		if n == name {
			return p.values[i]
		}
	}
	return ""
}

// Match is the outcome of routing a path: the route for the method (nil if
// none) and whether any route serves the path with some method.
type Match struct {
	route  *route
	params params
	found  bool
}

// router holds the route table in order, and the routes again by their
// number of segments: a path is compared only with routes of its length.
type router struct {
	routes []*route
	bySegs [][]*route // index: number of segments
}

func newRouter(rs []*route) *router {
	for _, r := range rs {
		r.segs = strings.Split(strings.TrimPrefix(r.pattern, "/"), "/")
		for i, s := range r.segs {
			if strings.HasPrefix(s, "{") {
				r.names = append(r.names, s[1:len(s)-1])
				r.segs[i] = ""
				r.pmask |= 1 << i
			}
		}
		if len(r.names) > maxParams {
			panic("httpapi: route " + r.pattern + " has more than maxParams parameters")
		}
		if msg := r.authzProblem(); msg != "" {
			panic("httpapi: route " + r.method + " " + r.pattern + ": " + msg)
		}
	}
	rt := &router{routes: rs}
	for _, r := range rs {
		for len(rt.bySegs) <= len(r.segs) {
			rt.bySegs = append(rt.bySegs, nil)
		}
		rt.bySegs[len(r.segs)] = append(rt.bySegs[len(r.segs)], r)
	}
	return rt
}

// match finds the route for method and the escaped path. HEAD uses GET routes.
//
// It runs for every request, so it compares only literal segments of the
// routes with the path's number of segments, and decodes parameters once,
// into the Match, for the route it returns: params is a large struct that
// trying each route by value used to copy and clear 34 times a request
// (docs/performance.md, "Reads, round three").
func (rt *router) match(method, escapedPath string) Match {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	var buf [12]string // deep enough for every route: no allocation
	segs := splitPath(buf[:0], escapedPath)
	var m Match
	if len(segs) >= len(rt.bySegs) {
		return m
	}
	for _, r := range rt.bySegs[len(segs)] {
		if !r.literalsMatch(segs) {
			continue
		}
		if r.method == method {
			if r.decode(segs, &m.params.values) {
				m.route, m.params.names, m.found = r, r.names, true
				return m
			}
			continue
		}
		if !m.found {
			var scratch [maxParams]string
			m.found = r.decode(segs, &scratch)
		}
	}
	return m
}

// allowed lists the methods the routes matching escapedPath serve, for the
// Allow header of a 405. GET routes also serve HEAD.
func (rt *router) allowed(escapedPath string) []string {
	segs := splitPath(nil, escapedPath)
	var allow []string
	for _, r := range rt.routes {
		if r.matchSegs(segs) {
			allow = append(allow, r.method)
			if r.method == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	return allow
}

// splitPath appends the '/'-separated segments of escapedPath, without its
// leading '/', to segs (strings.Split's result).
func splitPath(segs []string, escapedPath string) []string {
	path := strings.TrimPrefix(escapedPath, "/")
	start := 0
	for i := 0; i < len(path); i++ { // a byte loop: segments are short
		if path[i] == '/' {
			segs = append(segs, path[start:i])
			start = i + 1
		}
	}
	return append(segs, path[start:])
}

// literalsMatch reports whether the path segments (as many as the
// pattern's) have the pattern's literal segments.
func (r *route) literalsMatch(segs []string) bool {
	for i, lit := range r.segs {
		if r.pmask&(1<<i) == 0 && segs[i] != lit {
			return false
		}
	}
	return true
}

// decode unescapes the parameter segments into values; it fails when one
// is empty or does not unescape (the route does not match then).
func (r *route) decode(segs []string, values *[maxParams]string) bool {
	n := 0
	for i := range r.segs {
		if r.pmask&(1<<i) == 0 {
			continue
		}
		v, err := url.PathUnescape(segs[i])
		if err != nil || v == "" {
			return false
		}
		values[n] = v
		n++
	}
	return true
}

// matchSegs matches path segments against the pattern: its literals, and
// parameters that are non-empty and unescape.
func (r *route) matchSegs(segs []string) bool {
	if len(segs) != len(r.segs) || !r.literalsMatch(segs) {
		return false
	}
	var scratch [maxParams]string
	return r.decode(segs, &scratch)
}
