package auth

// Response details, byte-exact (docs/api.md §12).
const (
	MsgUnauthorized        = "Unauthorized"
	MsgForbidden           = "Forbidden"
	MsgInternal            = "Internal authorization error"
	MsgBearerNotConfigured = "Bearer token authentication not configured"
	MsgUnsignedRefused     = "Unsigned JWTs are not accepted. Set auth.allow_unsigned_jwt=true for local development."
	MsgInvalidToken        = "Invalid or expired token"
)

// Kind classifies why the auth layer stopped a request. The HTTP layer maps
// kinds to statuses in one place; this package knows no protocol.
type Kind uint8

// The kinds of Error. The zero Kind is KindInternal, so an Error built
// without one fails closed.
const (
	// KindInternal: the decision could not be made (role bindings could not
	// be read).
	KindInternal Kind = iota
	// KindUnauthenticated: an anonymous caller was denied; authenticating
	// may help.
	KindUnauthenticated
	// KindInvalidToken: the caller presented a credential that cannot be
	// accepted (invalid, expired, unsigned, or bearer auth not configured).
	KindInvalidToken
	// KindForbidden: an authenticated caller was denied. It never reveals
	// whether the resource exists.
	KindForbidden
	// KindBadRequest: the request's own authorization input is malformed (a
	// scope written like a permission).
	KindBadRequest
)

// Error is a request the auth layer stops: the caller is told Detail, in
// the way Kind calls for. Err is the cause, for logs only: it may describe
// the token or the binding store and must never reach the client.
type Error struct {
	Kind   Kind
	Detail string
	Err    error
}

// Error includes the cause so logs show why a request was stopped.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

func invalidToken(cause error) *Error {
	return &Error{Kind: KindInvalidToken, Detail: MsgInvalidToken, Err: cause}
}

func internalError(cause error) *Error {
	return &Error{Kind: KindInternal, Detail: MsgInternal, Err: cause}
}

func forbidden() *Error { return &Error{Kind: KindForbidden, Detail: MsgForbidden} }

// denied is a denial: unauthenticated for anonymous callers and forbidden
// otherwise, so that "authenticate" is only said to those who have not and
// a refusal never reveals existence.
func denied(p Principal) *Error {
	if p.ID == "" {
		return &Error{Kind: KindUnauthenticated, Detail: MsgUnauthorized}
	}
	return forbidden()
}
