// Package auth identifies callers: it parses the X-NMP-Principal-* identity
// headers from trusted networks into a Principal. Authorization decisions
// build on it.
package auth

import (
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Principal is the identity a request acts as (docs/auth.md "Modes").
type Principal struct {
	ID               string
	Email            string
	Groups           []string
	OnBehalfOf       string
	OnBehalfOfEmail  string
	OnBehalfOfGroups []string
	Scopes           []string
}

// IsService reports whether the caller is a platform service.
func (p Principal) IsService() bool { return strings.HasPrefix(p.ID, "service:") }

// EffectiveID is the id recorded in created_by/updated_by: the on-behalf-of
// user when present, else the caller; "" when anonymous.
func (p Principal) EffectiveID() string {
	if p.OnBehalfOf != "" {
		return p.OnBehalfOf
	}
	return p.ID
}

// Header names as the spec writes them in error messages.
const (
	HeaderID               = "X-NMP-Principal-Id"
	HeaderEmail            = "X-NMP-Principal-Email"
	HeaderGroups           = "X-NMP-Principal-Groups"
	HeaderOnBehalfOf       = "X-NMP-Principal-On-Behalf-Of"
	HeaderOnBehalfOfEmail  = "X-NMP-Principal-On-Behalf-Of-Email"
	HeaderOnBehalfOfGroups = "X-NMP-Principal-On-Behalf-Of-Groups"
	HeaderScopes           = "X-NMP-Scopes"
)

// HeaderError is a malformed identity header; its text is the 400 detail.
type HeaderError struct{ msg string }

func (e *HeaderError) Error() string { return e.msg }

// last returns the last value of a (possibly repeated) header, trimmed.
func last(h http.Header, name string) (string, bool) {
	vs := h.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return strings.TrimSpace(vs[len(vs)-1]), true
}

// FromHeaders parses the identity headers (docs/auth.md "Modes"). ok is false when
// X-NMP-Principal-Id is absent or empty: there is then no header identity.
func FromHeaders(h http.Header) (p Principal, ok bool, err error) {
	id, _ := last(h, HeaderID)
	if id == "" {
		return Principal{}, false, nil
	}
	if err := checkID(HeaderID, id); err != nil {
		return Principal{}, false, err
	}
	p.ID = id
	if p.Email, err = email(h, HeaderEmail); err != nil {
		return Principal{}, false, err
	}
	if p.Groups, err = groups(h, HeaderGroups); err != nil {
		return Principal{}, false, err
	}
	if obo, present := last(h, HeaderOnBehalfOf); present {
		if obo != "" {
			if err := checkID(HeaderOnBehalfOf, obo); err != nil {
				return Principal{}, false, err
			}
			p.OnBehalfOf = obo
		}
		if p.OnBehalfOfGroups, err = groups(h, HeaderOnBehalfOfGroups); err != nil {
			return Principal{}, false, err
		}
		if p.OnBehalfOfEmail, err = email(h, HeaderOnBehalfOfEmail); err != nil {
			return Principal{}, false, err
		}
	}
	if s, _ := last(h, HeaderScopes); s != "" {
		p.Scopes = strings.Fields(s)
	}
	return p, true, nil
}

func checkID(header, v string) error {
	if utf8.RuneCountInString(v) > 256 {
		return &HeaderError{header + " exceeds maximum length of 256 characters"}
	}
	if !validIDChars(v) {
		return &HeaderError{header + " contains invalid characters; allowed: alphanumeric, @, ., -, _, :, +, /"}
	}
	return nil
}

func validIDChars(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("@._-:+/", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func email(h http.Header, header string) (string, error) {
	v, _ := last(h, header)
	if v == "" {
		return "", nil
	}
	if utf8.RuneCountInString(v) > 320 {
		return "", &HeaderError{header + " exceeds maximum length of 320 characters"}
	}
	at := strings.IndexByte(v, '@')
	if at <= 0 || at == len(v)-1 || strings.Count(v, "@") != 1 || strings.ContainsFunc(v, isSpace) {
		return "", &HeaderError{header + " is not a valid email address"}
	}
	return v, nil
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

func groups(h http.Header, header string) ([]string, error) {
	v, _ := last(h, header)
	var out []string
	for _, g := range strings.Split(v, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	if len(out) > 100 {
		return nil, &HeaderError{header + " exceeds maximum of 100 groups"}
	}
	for _, g := range out {
		if utf8.RuneCountInString(g) > 256 {
			return nil, &HeaderError{header + " contains a group exceeding 256 characters"}
		}
		if !validIDChars(g) {
			return nil, &HeaderError{header + " contains a group with invalid characters; allowed: alphanumeric, @, ., -, _, :, +, /"}
		}
	}
	return out, nil
}

// IsHeaderError reports whether err is a malformed identity header.
func IsHeaderError(err error) bool {
	var he *HeaderError
	return errors.As(err, &he)
}
