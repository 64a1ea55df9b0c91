package httpapi

import (
	"net/url"
	"strings"

	"github.com/coffer-dev/coffer/internal/auth"
)

// authRequest is what the decision of docs/auth.md "How a request is
// decided" is made on: the matched row's requirement and the workspace its
// parameter names; for an unmatched request, whether the path exists with
// other methods. Whatever matched, a path shaped like a value read is one.
func authRequest(p auth.Principal, m *Match, escapedPath string) auth.Request {
	req := auth.Request{Principal: p, Exists: m.found, ReadsValue: isAccessShape(escapedPath)}
	if rt := m.route; rt != nil {
		req.Need = &rt.authz.need
		if rt.authz.wsParam != "" {
			req.Workspace = m.params.get(rt.authz.wsParam)
		}
	}
	return req
}

// accessShapeSegs is the number of segments of a value read's path,
// /<a>/<b>/<c>/workspaces/<ws>/secrets/<name>/access.
const accessShapeSegs = 8

// isAccessShape reports whether path looks like a value read,
// /<a>/<b>/<c>/workspaces/<ws>/secrets/<name>/access, whatever its prefix:
// the deny rule must hold even for paths no route serves. Both the escaped
// and the decoded form are checked, so an encoded '/' cannot move the
// path in or out of the shape (docs/auth.md "Hardening choices
// (differences from the reference)").
func isAccessShape(path string) bool {
	if accessShaped(path) {
		return true
	}
	dec, err := url.PathUnescape(path) // path itself, unless it has escapes
	return err == nil && dec != path && accessShaped(dec)
}

// accessShaped checks the shape on path as it is, without allocating: it
// runs on every authorized request.
func accessShaped(path string) bool {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return false
	}
	for i := 1; ; i++ {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "" || !accessSegment(i, seg) {
			return false
		}
		if !more || i == accessShapeSegs {
			return !more && i == accessShapeSegs
		}
		rest = tail
	}
}

// accessSegment checks segment i (from 1) against the literal the shape
// has there, if any.
func accessSegment(i int, seg string) bool {
	switch i {
	case 4:
		return seg == "workspaces"
	case 6:
		return seg == "secrets"
	case 8:
		return seg == "access"
	}
	return true
}
