package auth

import (
	"net/http"
	"slices"
	"strings"
)

// ScopesFromHeader returns the X-NMP-Scopes of an anonymous request (the
// identity-header path reads them in FromHeaders). Call it only for trusted
// peers: from anyone else the header is ignored as if absent (docs/auth.md "Platform services: reading values").
func ScopesFromHeader(h http.Header) []string {
	v, _ := last(h, HeaderScopes)
	return strings.Fields(v)
}

// CheckScopeSyntax returns a KindBadRequest *Error for the first scope written like a
// permission (docs/auth.md "Roles"). Callers pass permissions in X-NMP-Scopes by
// mistake often enough that a silent scope mismatch would hide the bug.
func CheckScopeSyntax(scopes []string) error {
	for _, s := range scopes {
		if looksLikePermission(s) {
			return &Error{Kind: KindBadRequest, Detail: "Invalid scope '" + s +
				"': this value uses permission syntax (dots). Scopes use colons (e.g. 'secrets:read'). Did you pass a permission by mistake?"}
		}
	}
	return nil
}

// looksLikePermission matches two or more dot-separated segments, each
// lowercase letters and digits with single inner hyphens.
func looksLikePermission(s string) bool {
	segs := strings.Split(s, ".")
	if len(segs) < 2 {
		return false
	}
	for _, seg := range segs {
		if !permissionSegment(seg) {
			return false
		}
	}
	return true
}

func permissionSegment(seg string) bool {
	if seg == "" || seg[0] == '-' || seg[len(seg)-1] == '-' || strings.Contains(seg, "--") {
		return false
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// scopesPass is the scope check of docs/auth.md "Roles". Scopes without ':' (OIDC's
// openid, profile, …) carry no API meaning, so they never restrict.
func scopesPass(have, accepted []string) bool {
	if len(accepted) == 0 || !slices.ContainsFunc(have, func(s string) bool { return strings.Contains(s, ":") }) {
		return true
	}
	return slices.ContainsFunc(accepted, func(s string) bool { return slices.Contains(have, s) })
}
