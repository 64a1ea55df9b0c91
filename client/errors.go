package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// APIError is a non-2xx answer from the server.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Detail is the decoded "detail" member of the body: a string, a
	// []ValidationItem for request validation (422), or any other JSON
	// value as encoding/json decodes it. Without a JSON detail it is the
	// status text, e.g. "Bad Gateway".
	Detail any
	// Body is the body as received.
	Body []byte
}

// Sentinels that errors.Is matches against an *APIError of the same status,
// so a caller can test for the outcomes it handles without comparing
// numbers; errors.As still gives the whole answer.
var (
	// ErrNotFound is a 404: no such secret, workspace, version or
	// recycle-bin entry.
	ErrNotFound = errors.New("client: not found")
	// ErrConflict is a 409, e.g. a create or a restore from the recycle bin
	// whose name is taken, or destroying a secret's current version.
	ErrConflict = errors.New("client: conflict")
	// ErrPreconditionFailed is a 412: the IfMatch condition of a write did
	// not hold (the secret changed since its ETag was read, or is gone), so
	// the server changed nothing.
	ErrPreconditionFailed = errors.New("client: precondition failed")
)

// sentinelStatus maps each sentinel to the status it stands for.
var sentinelStatus = map[error]int{
	ErrNotFound:           http.StatusNotFound,
	ErrConflict:           http.StatusConflict,
	ErrPreconditionFailed: http.StatusPreconditionFailed,
}

// Is makes errors.Is(err, ErrPreconditionFailed) (and the other sentinels)
// true for an answer with the matching status.
func (e *APIError) Is(target error) bool {
	status, ok := sentinelStatus[target]
	return ok && e.Status == status
}

// ValidationItem is one problem found in a request: an item of a 422 answer's detail.
type ValidationItem struct {
	Type string `json:"type"`
	// Loc locates the problem, e.g. ["body", "name"]: strings and numbers
	// (json.Number).
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input,omitempty"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// Error renders "<status> <detail>" as the coffer CLI prints it: a
// validation list gives one "<loc joined by .>: <msg>" line per item.
func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s", e.Status, renderDetail(e.Detail))
}

// Location joins Loc with dots, e.g. "body.name" or "body.roles.1".
func (v ValidationItem) Location() string {
	parts := make([]string, len(v.Loc))
	for i, p := range v.Loc {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

func renderDetail(d any) string {
	switch d := d.(type) {
	case string:
		return d
	case []ValidationItem:
		lines := make([]string, len(d))
		for i, item := range d {
			lines[i] = item.Location() + ": " + item.Msg
		}
		return strings.Join(lines, "\n")
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return fmt.Sprint(d)
		}
		return string(b)
	}
}

func newAPIError(status int, body []byte) *APIError {
	return &APIError{Status: status, Detail: parseDetail(status, body), Body: body}
}

// parseDetail decodes numbers as json.Number so that a location such as a
// byte offset prints as written, never as 1e+06.
func parseDetail(status int, body []byte) any {
	var envelope struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &envelope) != nil || len(envelope.Detail) == 0 || string(envelope.Detail) == "null" {
		return http.StatusText(status)
	}
	var items []ValidationItem
	if decodeNumbers(envelope.Detail, &items) == nil {
		return items
	}
	var generic any
	if decodeNumbers(envelope.Detail, &generic) != nil {
		return http.StatusText(status)
	}
	return generic
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}
