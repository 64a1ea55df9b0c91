package auth

import "net/http"

// Response details, byte-exact (docs/api.md §12).
const (
	MsgUnauthorized        = "Unauthorized"
	MsgForbidden           = "Forbidden"
	MsgInternal            = "Internal authorization error"
	MsgBearerNotConfigured = "Bearer token authentication not configured"
	MsgUnsignedRefused     = "Unsigned JWTs are not accepted. Set auth.allow_unsigned_jwt=true for local development."
	MsgInvalidToken        = "Invalid or expired token"
)

// Error is a request the auth layer stops: the pipeline answers Status with
// {"detail": Detail}. Err is the cause, for logs only: it may describe the
// token or the binding store and must never reach the client.
type Error struct {
	Status int
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
	return &Error{Status: http.StatusUnauthorized, Detail: MsgInvalidToken, Err: cause}
}

func internalError(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Detail: MsgInternal, Err: cause}
}

func forbidden() *Error { return &Error{Status: http.StatusForbidden, Detail: MsgForbidden} }

// denied maps a denial to 401 for anonymous callers and 403 otherwise, so
// that a 401 always means "authenticate" and a 403 never reveals existence.
func denied(p Principal) *Error {
	if p.ID == "" {
		return &Error{Status: http.StatusUnauthorized, Detail: MsgUnauthorized}
	}
	return forbidden()
}
