package secrets

// Kind classifies a domain error; package httpapi maps each kind to one HTTP
// status in a single place.
type Kind int

// Error kinds.
const (
	KindNotFound  Kind = iota + 1 // 404
	KindConflict                  // 409
	KindForbidden                 // 403
	KindInvalid                   // 422 with a string detail
	KindInternal                  // 500 with a fixed text
)

// Error is a failure a client sees. Detail is the exact client-facing text
// (never a value, key or internal detail); Err is the cause, for logs only.
type Error struct {
	Kind   Kind
	Detail string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// Fixed 500 texts (api.md §1.4).
const (
	MsgUnexpected       = "An unexpected error occurred."
	MsgCreateFailed     = "Unexpected error creating secret"
	MsgRetrieveFailed   = "Unexpected error retrieving secret"
	MsgRotateFailed     = "Unexpected error rotating encryption keys"
	MsgAuthorizeFailed  = "Internal authorization error"
	ngcDescription      = "Default NGC API key secret for the platform"
	msgNGCCreate        = "Cannot overwrite the default NGC API key secret"
	msgNGCUpdate        = "Cannot update the default NGC API key secret"
	msgNGCDelete        = "Cannot delete the default NGC API key secret"
	msgSecretChangedRot = "secret changed during rotation; run rotation again"
)

func errf(kind Kind, detail string) *Error { return &Error{Kind: kind, Detail: detail} }

func internal(detail string, cause error) *Error {
	return &Error{Kind: KindInternal, Detail: detail, Err: cause}
}

func secretNotFound(ws, name string) *Error {
	return errf(KindNotFound, "Secret "+ws+"/"+name+" not found")
}

func workspaceNotFound(ws string) *Error {
	return errf(KindNotFound, "Workspace '"+ws+"' not found")
}
