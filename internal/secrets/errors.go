package secrets

import (
	"errors"
	"strconv"
)

// Kind classifies a domain error; package httpapi maps each kind to one HTTP
// status in a single place.
type Kind int

// Error kinds.
const (
	KindNotFound     Kind = iota + 1 // 404
	KindConflict                     // 409
	KindForbidden                    // 403
	KindInvalid                      // 422 with a string detail
	KindInternal                     // 500 with a fixed text
	KindPrecondition                 // 412: an If-Match did not hold
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

// Fixed 500 texts (docs/api.md §1.4).
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

func versionNotFound(ws, name string, version int64) *Error {
	return errf(KindNotFound, "Secret "+ws+"/"+name+" version "+strconv.FormatInt(version, 10)+" not found")
}

func deletedNotFound(id string) *Error {
	return errf(KindNotFound, "Deleted secret "+id+" not found")
}

func preconditionFailed(ws, name string) *Error {
	return errf(KindPrecondition, "Precondition failed: secret "+ws+"/"+name+" has changed")
}

func secretExists(ws, name string) *Error {
	return errf(KindConflict, "Secret '"+ws+"/"+name+"' already exists")
}

// secretWriteError maps the storage errors of a write to one secret.
func secretWriteError(err error, ws, name string, version int64) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return secretNotFound(ws, name)
	case errors.Is(err, ErrVersionNotFound):
		return versionNotFound(ws, name, version)
	case errors.Is(err, ErrPreconditionFailed):
		return preconditionFailed(ws, name)
	case errors.Is(err, ErrCurrentVersion):
		return errf(KindConflict, "Cannot destroy the current version "+strconv.FormatInt(version, 10)+
			" of secret "+ws+"/"+name+"; update or delete the secret instead")
	}
	return internal(MsgUnexpected, err)
}

// listError maps the storage error of a workspace's list.
func listError(err error, ws string) error {
	if errors.Is(err, ErrNoWorkspace) {
		return workspaceNotFound(ws)
	}
	return internal(MsgUnexpected, err)
}
