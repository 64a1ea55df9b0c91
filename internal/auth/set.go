package auth

import "strings"

// Set is an applicable set (docs/auth.md "Roles"; with on-behalf-of see "Deliberate reference behaviour"): the principal strings role
// bindings are compared with. ID is the only member that can be a service
// identity with the implicit ServiceSystem role; Others (emails, groups)
// never get it, so an IdP group or email that happens to start with
// "service:" grants nothing by itself (docs/auth.md "Hardening choices
// (differences from the reference)").
type Set struct {
	ID     string
	Others []string
}

// Applicable returns A: with on-behalf-of it is the caller's id plus the
// on-behalf-of user's email and groups, faithful to the reference.
func (p Principal) Applicable() Set {
	if p.OnBehalfOf != "" {
		return Set{ID: p.ID, Others: append([]string{p.OnBehalfOfEmail}, p.OnBehalfOfGroups...)}
	}
	return Set{ID: p.ID, Others: append([]string{p.Email}, p.Groups...)}
}

// OnBehalfOfSet returns P' = {on-behalf-of id, its email, its groups}, the
// user a service acts for in the /access check and list filtering
// (docs/auth.md "Platform services: reading values").
func (p Principal) OnBehalfOfSet() Set {
	return Set{ID: p.OnBehalfOf, Others: append([]string{p.OnBehalfOfEmail}, p.OnBehalfOfGroups...)}
}

// Members lists the distinct non-empty strings of s, ID first.
func (s Set) Members() []string {
	out := make([]string, 0, 1+len(s.Others))
	seen := make(map[string]bool, 1+len(s.Others))
	for _, m := range append([]string{s.ID}, s.Others...) {
		if m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// Empty reports whether nothing can match a binding: anonymous callers.
func (s Set) Empty() bool { return len(s.Members()) == 0 }

// isService reports whether id names a platform service.
func isService(id string) bool { return strings.HasPrefix(id, servicePrefix) }
