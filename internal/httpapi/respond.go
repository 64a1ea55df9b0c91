package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/metrics"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// writeJSON writes v with the given status. Values are plain structs whose
// field order is the key order of docs/api.md §2.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"detail":"An unexpected error occurred."}`)
	}
	writeBody(w, status, b)
}

// writeBody writes b, an encoded JSON document, with the given status.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	// Canonical keys assigned directly: Header.Set would canonicalize them
	// again on every response.
	h["Content-Type"] = headerValue(w, "application/json")
	h["Content-Length"] = headerValue(w, strconv.Itoa(len(b)))
	if status == http.StatusConflict {
		h.Set("x-should-retry", "false") // the SDK otherwise retries 409s twice
	}
	w.WriteHeader(status)
	w.Write(b)
}

// bodyPool recycles the body buffers of the read paths' responses: by the
// time Write returns, the body has been copied out (an io.Writer does not
// retain what it is given), so the buffer can serve the next response
// instead of being garbage.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledBody bounds the buffers kept: a rare huge page is not held on to.
const maxPooledBody = 64 << 10

// getBody returns an empty buffer from bodyPool.
func getBody() *[]byte { return bodyPool.Get().(*[]byte) }

// writePooled writes *buf as writeBody does and returns the buffer to
// bodyPool, cleared first: an /access body holds a secret value.
func writePooled(w http.ResponseWriter, status int, buf *[]byte) {
	writeBody(w, status, *buf)
	if cap(*buf) > maxPooledBody {
		return
	}
	clear(*buf)
	*buf = (*buf)[:0]
	bodyPool.Put(buf)
}

// marshal encodes v without HTML escaping: clients compare texts such as the
// name pattern, which contains '<', byte for byte.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

type detail struct {
	Detail any `json:"detail"`
}

func writeDetail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, detail{msg})
}

// statusOf and authStatusOf are the one place where domain error kinds
// become HTTP statuses.
var statusOf = map[secrets.Kind]int{
	secrets.KindNotFound:  http.StatusNotFound,
	secrets.KindConflict:  http.StatusConflict,
	secrets.KindForbidden: http.StatusForbidden,
	secrets.KindInvalid:   http.StatusUnprocessableEntity,
	secrets.KindInternal:  http.StatusInternalServerError,

	secrets.KindPrecondition: http.StatusPreconditionFailed,
}

// authStatusOf is where the auth layer's refusals become HTTP statuses:
// 401 means "authenticate", and a 403 never reveals whether the resource
// exists (docs/auth.md "Deliberate reference behaviour (keep it)").
var authStatusOf = map[auth.Kind]int{
	auth.KindInternal:        http.StatusInternalServerError,
	auth.KindUnauthenticated: http.StatusUnauthorized,
	auth.KindInvalidToken:    http.StatusUnauthorized,
	auth.KindForbidden:       http.StatusForbidden,
	auth.KindBadRequest:      http.StatusBadRequest,
}

// authOutcome is the metrics outcome of a refusal of each kind.
var authOutcome = map[auth.Kind]metrics.AuthOutcome{
	auth.KindInternal:        metrics.AuthError,
	auth.KindUnauthenticated: metrics.AuthUnauthorized,
	auth.KindInvalidToken:    metrics.AuthUnauthorized,
	auth.KindForbidden:       metrics.AuthForbidden,
	auth.KindBadRequest:      metrics.AuthBadRequest,
}

// writeAuthError answers an *auth.Error (anything else is an internal
// one); a cause goes to the log only, and only for internal errors. It
// returns the outcome for metrics.
func (s *Server) writeAuthError(w http.ResponseWriter, r *http.Request, err error) metrics.AuthOutcome {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		ae = &auth.Error{Kind: auth.KindInternal, Detail: auth.MsgInternal, Err: err}
	}
	if ae.Kind == auth.KindInternal {
		// The decision is still one that could not be made (the auth
		// metric's error), but the request is the client's 499.
		if s.clientClosed(w, r, err) {
			return authOutcome[ae.Kind]
		}
		s.log.ErrorContext(r.Context(), "authorization failed", "path", r.URL.Path, "error", err.Error())
	}
	writeDetail(w, authStatusOf[ae.Kind], ae.Detail)
	return authOutcome[ae.Kind]
}

// MsgProviderUnavailable is the detail of a 503 for a key provider that
// cannot be reached (docs/key-management.md: the reference answered 500).
const MsgProviderUnavailable = "Key provider unavailable"

// providerRetryAfter is the Retry-After (seconds) of that 503: long enough
// for the provider's own retries to have given up, short enough that a
// client resumes soon after the provider does.
const providerRetryAfter = "5"

// writeError renders a domain error. A key provider that cannot be reached
// (an *envelope.ProviderError marked Unavailable, whatever wraps it) is a
// 503 with Retry-After, since the request may succeed when the provider is
// back; unknown errors become the generic 500; causes are logged, never
// sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *envelope.ProviderError
	if errors.As(err, &pe) && pe.Unavailable {
		if s.clientClosed(w, r, err) {
			return
		}
		w.Header().Set("Retry-After", providerRetryAfter)
		writeDetail(w, http.StatusServiceUnavailable, MsgProviderUnavailable)
		return
	}
	var de *secrets.Error
	if !errors.As(err, &de) {
		de = &secrets.Error{Kind: secrets.KindInternal, Detail: secrets.MsgUnexpected, Err: err}
	}
	status := statusOf[de.Kind]
	if status == http.StatusInternalServerError && s.clientClosed(w, r, err) {
		return
	}
	if status == http.StatusInternalServerError && de.Err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("error", de.Err.Error()))
	}
	writeDetail(w, status, de.Detail)
}

// StatusClientClosed is the status of a request whose client went away
// (its context was cancelled, or its deadline passed) before the answer:
// nginx's 499. Metrics count it as a 4xx and the audit trail records it
// with this status, so a client hanging up is not a server error
// (docs/operations.md, "Metrics").
const StatusClientClosed = 499

// clientClosed answers 499 when the request's context is done: err, which
// would otherwise be a 5xx, is then the client's going away (a query or
// provider call cut short) or can no longer reach anyone. The cause goes
// to the debug log only.
func (s *Server) clientClosed(w http.ResponseWriter, r *http.Request, err error) bool {
	if r.Context().Err() == nil {
		return false
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "client closed the request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	writeDetail(w, StatusClientClosed, "Client closed request")
	return true
}

// timestamp renders as RFC 3339 UTC with exactly six fractional digits.
type timestamp time.Time

const timeLayout = "2006-01-02T15:04:05.000000Z"

func (t timestamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(timeLayout)+2)
	b = append(b, '"')
	b = appendTime(b, time.Time(t))
	return append(b, '"'), nil
}

// ts returns nil for the zero time (the virtual NGC secret has no timestamps).
func ts(t time.Time) *timestamp {
	if t.IsZero() {
		return nil
	}
	v := timestamp(t)
	return &v
}

type secretJSON struct {
	Name           string     `json:"name"`
	Workspace      string     `json:"workspace"`
	Description    *string    `json:"description"`
	CreatedAt      *timestamp `json:"created_at"`
	UpdatedAt      *timestamp `json:"updated_at"`
	CurrentVersion *int64     `json:"current_version"`
}

// secretItemJSON is a list item: null keys are omitted. With secretJSON and
// secretPageJSON it defines what the append functions below must produce.
type secretItemJSON struct {
	Name           string     `json:"name"`
	Workspace      string     `json:"workspace"`
	Description    *string    `json:"description,omitempty"`
	CreatedAt      *timestamp `json:"created_at,omitempty"`
	UpdatedAt      *timestamp `json:"updated_at,omitempty"`
	CurrentVersion *int64     `json:"current_version,omitempty"`
}

func toSecretJSON(s secrets.Secret) secretJSON {
	return secretJSON{s.Name, s.Workspace, s.Description, ts(s.CreatedAt), ts(s.UpdatedAt), version(s.Version)}
}

// version returns nil for 0: the virtual NGC secret has no versions.
func version(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

// The read paths (get, access, list) and create/update encode their bodies with the
// append functions below instead of encoding/json's reflection: the output
// is byte for byte what marshal gives for secretJSON and secretValueJSON
// (respond_test.go checks it), at a fraction of the cost.

// appendSecret appends the secretJSON document of sec; with item, the
// secretItemJSON one of a list, which leaves null keys out.
func appendSecret(b []byte, sec secrets.Secret, item bool) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, sec.Name)
	b = append(b, `,"workspace":`...)
	b = appendString(b, sec.Workspace)
	if sec.Description != nil || !item {
		b = append(b, `,"description":`...)
		if sec.Description == nil {
			b = append(b, "null"...)
		} else {
			b = appendString(b, *sec.Description)
		}
	}
	if !sec.CreatedAt.IsZero() || !item {
		b = append(b, `,"created_at":`...)
		b = appendTimestamp(b, sec.CreatedAt)
	}
	if !sec.UpdatedAt.IsZero() || !item {
		b = append(b, `,"updated_at":`...)
		b = appendTimestamp(b, sec.UpdatedAt)
	}
	if sec.Version != 0 {
		b = append(b, `,"current_version":`...)
		b = strconv.AppendInt(b, sec.Version, 10)
	} else if !item {
		b = append(b, `,"current_version":null`...)
	}
	return append(b, '}')
}

// appendSecretPage appends the secretPageJSON document of a list page.
func appendSecretPage(b []byte, list []secrets.Secret, pg secrets.Page) []byte {
	b = append(b, `{"data":[`...)
	for i, sec := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSecret(b, sec, true)
	}
	return appendPagination(b, toPagination(pg, len(list)))
}

// appendPagination closes a page's data array and appends its pagination.
func appendPagination(b []byte, p paginationJSON) []byte {
	b = append(b, `],"pagination":{"page":`...)
	b = strconv.AppendInt(b, int64(p.Page), 10)
	b = append(b, `,"page_size":`...)
	b = strconv.AppendInt(b, int64(p.PageSize), 10)
	b = append(b, `,"current_page_size":`...)
	b = strconv.AppendInt(b, int64(p.CurrentPageSize), 10)
	b = append(b, `,"total_pages":`...)
	b = strconv.AppendInt(b, int64(p.TotalPages), 10)
	b = append(b, `,"total_results":`...)
	b = strconv.AppendInt(b, int64(p.TotalResults), 10)
	return append(b, "}}"...)
}

// appendSecretValue appends the secretValueJSON document of an /access.
func appendSecretValue(b []byte, name, ws, value string) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, name)
	b = append(b, `,"workspace":`...)
	b = appendString(b, ws)
	b = append(b, `,"value":`...)
	b = appendString(b, value)
	return append(b, '}')
}

// appendTimestamp appends t as ts(t) encodes: null for the zero time.
func appendTimestamp(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = appendTime(b, t)
	return append(b, '"')
}

// appendTime appends t as t.UTC().AppendFormat(b, timeLayout) does. Every
// get and list item carries two timestamps, and the general formatter
// (layout parsing, a digit at a time) was a tenth of a get's own work; the
// fixed layout is written directly for years 0–9999 (always, in practice).
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, minute, sec := t.Clock()
	us := t.Nanosecond() / 1000 // truncated, as the layout's .000000
	var d [len(timeLayout)]byte
	put2(d[0:], year/100)
	put2(d[2:], year%100)
	d[4] = '-'
	put2(d[5:], int(month))
	d[7] = '-'
	put2(d[8:], day)
	d[10] = 'T'
	put2(d[11:], hour)
	d[13] = ':'
	put2(d[14:], minute)
	d[16] = ':'
	put2(d[17:], sec)
	d[19] = '.'
	put2(d[20:], us/10000)
	put2(d[22:], us/100%100)
	put2(d[24:], us%100)
	d[26] = 'Z'
	return append(b, d[:]...)
}

// pairs holds "00" to "99": put2 writes two digits with one lookup.
const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// put2 writes v, 0 <= v < 100, as two digits at d[0:2].
func put2(d []byte, v int) {
	d[0], d[1] = pairs[2*v], pairs[2*v+1]
}

// appendString appends s as a JSON string. Text that needs no escaping (the
// name rules allow only such names) is copied as is; anything else goes
// through encoding/json, so escapes, invalid UTF-8 and U+2028/U+2029 are
// handled exactly as everywhere else.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			q, _ := marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

type paginationJSON struct {
	Page            int `json:"page"`
	PageSize        int `json:"page_size"`
	CurrentPageSize int `json:"current_page_size"`
	TotalPages      int `json:"total_pages"`
	TotalResults    int `json:"total_results"`
}

func toPagination(p secrets.Page, n int) paginationJSON {
	return paginationJSON{p.Page, p.PageSize, n, p.TotalPages(), p.TotalResults}
}

type secretPageJSON struct {
	Data       []secretItemJSON `json:"data"`
	Pagination paginationJSON   `json:"pagination"`
}

type secretValueJSON struct {
	Name      string `json:"name"`
	Workspace string `json:"workspace"`
	Value     string `json:"value"`
}

type rotationJSON struct {
	Rotated         int                `json:"rotated_secrets"`
	Success         bool               `json:"success"`
	Skipped         int                `json:"skipped_secrets"`
	Failed          []rotationFailJSON `json:"failed_secrets"`
	FailedCount     int                `json:"failed_count"`
	RotatedVersions int                `json:"rotated_versions"`
	DeletedRotated  int                `json:"deleted_secrets_rotated"`
}

type rotationFailJSON struct {
	Workspace string `json:"workspace"`
	Name      string `json:"name"`
	Version   int64  `json:"version"`
	Error     string `json:"error"`
}

type workspaceJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description *string   `json:"description"`
	CreatedAt   timestamp `json:"created_at"`
	CreatedBy   *string   `json:"created_by"`
	UpdatedAt   timestamp `json:"updated_at"`
	UpdatedBy   *string   `json:"updated_by"`
}

func toWorkspaceJSON(w secrets.Workspace) workspaceJSON {
	return workspaceJSON{w.ID, w.Name, w.Description, timestamp(w.CreatedAt), w.CreatedBy,
		timestamp(w.UpdatedAt), w.UpdatedBy}
}

type workspacePageJSON struct {
	Data       []workspaceJSON `json:"data"`
	Pagination paginationJSON  `json:"pagination"`
	Sort       string          `json:"sort"`
	Filter     *string         `json:"filter"`
}

type deleteResultJSON struct {
	Message      string `json:"message"`
	ID           string `json:"id"`
	DeletedCount int    `json:"deleted_count"`
}
