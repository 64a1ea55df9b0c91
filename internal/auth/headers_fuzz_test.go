package auth

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFromHeaders feeds arbitrary identity headers (docs/auth.md) through
// FromHeaders. Whatever the values: no panic; a refusal is a *HeaderError
// whose text names the header but never repeats the value; and an accepted
// principal holds only ids, groups and emails within the documented limits
// and character set.
func FuzzFromHeaders(f *testing.F) {
	f.Add("service:jobs", "", "", "", "", "", "")
	f.Add("alice@example.com", "alice@example.com", "ml, admins", "", "", "", "secrets:read secrets:write")
	f.Add("service:jobs", "", "", "bob", "bob@example.com", "g1,g2", "")
	f.Add(" spaced ", "a@b", ",,,", "", "", "", "  ")
	f.Add("bad id", "no-at", strings.Repeat("g,", 101), "x y", "@", "ü", "\x00")
	f.Add(strings.Repeat("a", 257), strings.Repeat("e", 321)+"@x", strings.Repeat("g", 257), "", "", "", "")
	f.Fuzz(func(t *testing.T, id, email, groups, obo, oboEmail, oboGroups, scopes string) {
		h := http.Header{}
		for name, v := range map[string]string{
			HeaderID: id, HeaderEmail: email, HeaderGroups: groups, HeaderOnBehalfOf: obo,
			HeaderOnBehalfOfEmail: oboEmail, HeaderOnBehalfOfGroups: oboGroups, HeaderScopes: scopes,
		} {
			if v != "" {
				h.Set(name, v)
			}
		}
		p, ok, err := FromHeaders(h)
		if err != nil {
			if !IsHeaderError(err) || ok {
				t.Fatalf("FromHeaders: %T %v, ok %v; want a *HeaderError and no identity", err, err, ok)
			}
			for _, v := range []string{id, email, groups, obo, oboEmail, oboGroups} {
				if v = strings.TrimSpace(v); len(v) >= 4 && strings.Contains(err.Error(), v) &&
					!strings.Contains(headerErrorTexts, v) {
					t.Fatalf("error %q repeats the header value %q", err, v)
				}
			}
			return
		}
		if !ok {
			if strings.TrimSpace(id) != "" {
				t.Fatalf("no identity from a non-empty %s %q", HeaderID, id)
			}
			return
		}
		for _, v := range append([]string{p.ID, p.OnBehalfOf}, append(p.Groups, p.OnBehalfOfGroups...)...) {
			if utf8.RuneCountInString(v) > 256 || !validIDChars(v) {
				t.Fatalf("accepted id or group %q: over 256 characters or outside the allowed set", v)
			}
		}
		if p.ID == "" || len(p.Groups) > 100 || len(p.OnBehalfOfGroups) > 100 {
			t.Fatalf("accepted %+v: empty id or over 100 groups", p)
		}
		for _, e := range []string{p.Email, p.OnBehalfOfEmail} {
			if e != "" && (strings.Count(e, "@") != 1 || strings.HasPrefix(e, "@") || strings.HasSuffix(e, "@") || strings.ContainsAny(e, " \t\r\n\v\f")) {
				t.Fatalf("accepted email %q", e)
			}
		}
	})
}

// headerErrorTexts are the fixed parts of every HeaderError message: a
// value that is a substring of them is not an echo.
const headerErrorTexts = HeaderID + HeaderEmail + HeaderGroups + HeaderOnBehalfOf + HeaderOnBehalfOfEmail +
	HeaderOnBehalfOfGroups + " exceeds maximum length of 256 characters contains invalid characters; allowed: alphanumeric, @, ., -, _, :, +, /" +
	" exceeds maximum length of 320 characters is not a valid email address exceeds maximum of 100 groups contains a group exceeding 256 characters contains a group with invalid characters"
