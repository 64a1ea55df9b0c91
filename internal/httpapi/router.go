package httpapi

import (
	"net/http"
	"net/url"
	"strings"
)

// route is one row of the route table. Patterns are literal segments with
// {param} placeholders; matching is on the escaped path split at '/', so a
// principal or name containing an escaped '/' is one segment.
type route struct {
	method  string
	pattern string
	handle  func(s *Server, w http.ResponseWriter, r *http.Request, p params)
	public  bool // no identity parsing, no authorization (health, discovery)
	segs    []string
}

// params are the decoded path parameters of a matched route.
type params map[string]string

// Match is the outcome of routing a path: the route for the method (nil if
// none) and the methods the path allows, for 405 answers.
type Match struct {
	route  *route
	params params
	allow  []string
}

type router struct{ routes []*route }

func newRouter(rs []*route) *router {
	for _, r := range rs {
		r.segs = strings.Split(strings.TrimPrefix(r.pattern, "/"), "/")
	}
	return &router{routes: rs}
}

// match finds the route for method and the escaped path. HEAD uses GET routes.
func (rt *router) match(method, escapedPath string) Match {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	if method == http.MethodHead {
		method = http.MethodGet
	}
	var m Match
	for _, r := range rt.routes {
		p, ok := matchSegs(r.segs, segs)
		if !ok {
			continue
		}
		m.allow = append(m.allow, r.method)
		if r.method == http.MethodGet {
			m.allow = append(m.allow, http.MethodHead)
		}
		if r.method == method && m.route == nil {
			m.route, m.params = r, p
		}
	}
	return m
}

func matchSegs(pattern, segs []string) (params, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var p params
	for i, ps := range pattern {
		if strings.HasPrefix(ps, "{") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			if p == nil {
				p = params{}
			}
			p[ps[1:len(ps)-1]] = v
		} else if ps != segs[i] {
			return nil, false
		}
	}
	return p, true
}
