package secrets

import (
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// Binding is one role granted to a principal string in a workspace
// (docs/auth.md "Roles"). The principal is compared literally with each member of a
// caller's applicable set, so it may be a user id, an email, a group, a
// service id or "*".
type Binding struct {
	Workspace, Principal, Role string
	GrantedBy                  *string
	GrantedAt                  time.Time
}

// Role binding errors, returned (possibly wrapped) by Store implementations.
var (
	// ErrLastAdmin refuses a change that would leave a workspace without
	// any principal holding RoleAdmin.
	ErrLastAdmin = errors.New("last admin")
	// ErrUnstorableText refuses a principal or role that is not valid UTF-8
	// or contains a NUL byte. PostgreSQL's text type cannot hold such
	// strings, so SQLite refuses them too and both backends behave alike.
	ErrUnstorableText = errors.New("text is not valid UTF-8 or contains NUL")
)

// StorableText reports whether s can be stored in a text column of every
// backend. Identity headers and URL path parameters can carry arbitrary
// bytes; a string that fails this check can name no workspace and hold no
// role, so lookups treat it as absent rather than failing.
func StorableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
