package httpapi

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/reqid"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// The audit trail in the HTTP pipeline (docs/operations.md, "Audit
// trail").
//
// ServeHTTP builds the event of every request to a route with an audit
// action before the handler runs (who, from where, which workspace and
// secret, the request id). For a write, the event goes to the store as a
// secrets.AuditDraft in the request's context: the store inserts it in the
// write's own transaction, so a change never commits without its event
// and an event that cannot be written fails the change (500). Everything
// else is recorded when the request ends (endAudit) through the
// secrets.AuditLog batcher: failed writes with their outcome, reads as
// coffer.audit.reads says, and every request refused by authentication or
// authorization. With read_durability sync, /access sends the value only
// after its event is durable.

// auditKind says how a route's event is recorded.
type auditKind int8

const (
	auditWrite  auditKind = iota + 1 // a draft committed with the write
	auditAfter                       // recorded when the request ends (rotation: many writes, one event)
	auditAccess                      // a value read: coffer.audit.reads access or all
	auditRead                        // a metadata read: coffer.audit.reads all
)

// auditSpec is a route's audit action; ok is the status of its success,
// which a write's draft carries into the store.
type auditSpec struct {
	action string
	kind   auditKind
	ok     int
}

// auditReq is the audit state of one request.
type auditReq struct {
	d    secrets.AuditDraft
	kind auditKind
	done bool // recorded already (a sync /access)
}

// Auth methods of an event.
const (
	authHeader = "header"
	authJWT    = "jwt"
	authNone   = "none"
)

// startAudit builds, in a, the event of a request to an audited route
// that started at now.
func (s *Server) startAudit(a *auditReq, r *http.Request, m *Match, now time.Time) {
	spec := m.route.audit
	e := secrets.AuditEvent{ID: secrets.NewAuditID(now), Time: now, Action: spec.action,
		Outcome: secrets.OutcomeSuccess, Status: spec.ok, Workspace: m.Param("workspace"), Secret: m.Param("name"),
		RequestID: requestID(r), RemoteAddr: r.RemoteAddr, UserAgent: secrets.TruncateUserAgent(r.UserAgent())}
	if strings.HasPrefix(m.route.pattern, workspacesBase+"/{name}") {
		e.Workspace, e.Secret = m.Param("name"), "" // the workspace routes name the workspace {name}
	}
	if spec.action == secrets.ActionVersionDestroy {
		e.Version, _ = strconv.ParseInt(m.Param("version"), 10, 64)
	}
	*a = auditReq{d: secrets.AuditDraft{Event: e}, kind: spec.kind}
}

// requestID is the request's id: the one the pipeline put in the context,
// else the client's when well-formed.
func requestID(r *http.Request) string {
	if id := reqid.From(r.Context()); id != "" {
		return id
	}
	if id := r.Header.Get(reqid.Header); reqid.Valid(id) {
		return id
	}
	return ""
}

// identified records who the request acts as.
func (a *auditReq) identified(p auth.Principal, method string) {
	a.d.Event.Principal, a.d.Event.OnBehalfOf, a.d.Event.AuthMethod = p.ID, p.OnBehalfOf, method
}

// setSecret records the secret a request names in its body (a create, a
// restore under a new name), once it is known to be a valid name; the
// draft is still unwritten then. a may be nil (no audit trail).
func (a *auditReq) setSecret(name string) {
	if a != nil {
		a.d.Event.Secret = name
	}
}

// setWorkspace records the workspace a create names in its body.
func (a *auditReq) setWorkspace(name string) {
	if a != nil {
		a.d.Event.Workspace = name
	}
}

// deniedOnly reports whether requests of a route of this kind are
// recorded only when refused (endAudit's rule for reads the configuration
// does not record).
func (s *Server) deniedOnly(kind auditKind) bool {
	return (kind == auditRead && s.auditReads != "all") || (kind == auditAccess && s.auditReads == "off")
}

// auditDenied records a request of a deniedOnly route that was refused
// (401 or 403): the event endAudit would have recorded, built only now.
func (s *Server) auditDenied(r *http.Request, m Match, start time.Time, p auth.Principal, method string, status int) {
	if secrets.OutcomeOf(status) != secrets.OutcomeDenied {
		return
	}
	au := new(auditReq)
	s.startAudit(au, r, &m, start.UTC().Truncate(time.Microsecond))
	au.identified(p, method)
	s.endAudit(au, status)
}

// endAudit records the request's event unless its write committed it.
func (s *Server) endAudit(a *auditReq, status int) {
	if a.done {
		return
	}
	e := a.d.Event
	if a.d.Committed() {
		s.trail.Stored(e)
		return
	}
	if status == 0 {
		status = http.StatusInternalServerError // the handler panicked before answering
	}
	e.Status, e.Outcome = status, secrets.OutcomeOf(status)
	denied := e.Outcome == secrets.OutcomeDenied
	switch {
	case denied:
	case a.kind == auditRead && s.auditReads != "all":
		return
	case a.kind == auditAccess && s.auditReads == "off":
		return
	}
	// Not the request's context: the event must be queued even when the
	// client has gone, and Enqueue uses its context only to give up
	// waiting. (It was context.WithoutCancel of it, an allocation per
	// request for nothing: the event carries its request id.)
	s.trail.Enqueue(context.Background(), e)
}

// auditValue records a successful /access before its value is sent, when
// read_durability is sync: ok is false when the event could not be stored
// (the caller then answers 503 and never sends the value).
func (s *Server) auditValue(ctx context.Context, a *auditReq, version int64) bool {
	if a == nil {
		return true
	}
	a.d.Event.Version = version
	if !s.auditSync || s.auditReads == "off" {
		return true
	}
	a.done = true
	if err := s.trail.Write(ctx, a.d.Event); err != nil {
		s.log.Error("audit event not recorded: value withheld", "request_id", a.d.Event.RequestID, "error", err.Error())
		return false
	}
	return true
}

// errAuditWithheld is the cause logged when a sync /access whose event
// could not be stored finds its client gone.
var errAuditWithheld = errors.New("audit event not recorded: value withheld")

// msgAuditUnavailable is the 503 of a sync /access whose event could not
// be stored.
const msgAuditUnavailable = "The audit trail cannot be written right now; the value is not sent. Retry shortly."

// auditPageJSON is a page of events.
type auditPageJSON struct {
	Data       []secrets.AuditJSON `json:"data"`
	Pagination paginationJSON      `json:"pagination"`
}

// listAudit serves GET /apis/secrets/v2/workspaces/{workspace}/audit: the
// route table admits the workspace's Admins and PlatformAdmin.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p params) {
	s.serveAudit(w, r, p.get("workspace"), false)
}

// listAuditAll serves GET /apis/secrets/v2/audit, every workspace's
// events, for PlatformAdmin.
func (s *Server) listAuditAll(w http.ResponseWriter, r *http.Request, p params) {
	if err := s.auth.CheckAuditAll(r.Context(), p.principal); err != nil {
		s.writeAuthError(w, r, err)
		return
	}
	s.serveAudit(w, r, "", true)
}

func (s *Server) serveAudit(w http.ResponseWriter, r *http.Request, ws string, global bool) {
	var is items
	qv := r.URL.Query()
	page := queryInt(qv, "page", 1, 0, &is)
	size := queryInt(qv, "page_size", 10, 1000, &is)
	q := auditFilter(qv, global, &is)
	if len(is) > 0 {
		writeItems(w, is)
		return
	}
	if !global {
		q.Workspace = ws
	}
	list, pg, err := s.svc.ListAudit(r.Context(), q, page, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := auditPageJSON{Data: make([]secrets.AuditJSON, len(list)), Pagination: toPagination(pg, len(list))}
	for i, e := range list {
		out.Data[i] = e.ToJSON()
	}
	writeJSON(w, http.StatusOK, out)
}

// auditFilterKeys are the accepted filters of the audit queries; the
// global one also takes filter[workspace].
var auditFilterKeys = []string{"filter[action]", "filter[outcome]", "filter[principal]", "filter[secret]",
	"filter[time][gte]", "filter[time][lte]"}

// auditFilter reads the filter[...] parameters of an audit query.
func auditFilter(qv url.Values, global bool, is *items) secrets.AuditQuery {
	var q secrets.AuditQuery
	accepted := auditFilterKeys
	if global {
		accepted = append(slices.Clone(accepted), "filter[workspace]")
	}
	for _, key := range slices.Sorted(maps.Keys(qv)) {
		if !strings.HasPrefix(key, "filter[") {
			continue
		}
		raw := qv[key][len(qv[key])-1]
		field, op, _ := parseFilterKey(key)
		loc := []any{"query", "filter", field}
		if op != "" {
			loc = append(loc, op)
		}
		norm := strings.Replace(key, "[$", "[", 1)
		if !slices.Contains(accepted, norm) {
			is.add(&item{Type: "extra_forbidden", Loc: loc, Input: rawString(raw),
				Msg: "Unknown filter " + strconv.Quote(key) + "; accepted: " + strings.Join(accepted, ", ")})
			continue
		}
		switch norm {
		case "filter[workspace]":
			q.Workspace = raw
		case "filter[secret]":
			q.Secret = raw
		case "filter[principal]":
			q.Principal = raw
		case "filter[action]":
			q.Action = enumFilter(raw, secrets.AuditActions, loc, is)
		case "filter[outcome]":
			q.Outcome = enumFilter(raw, secrets.AuditOutcomes, loc, is)
		case "filter[time][gte]", "filter[time][lte]":
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(raw))
			if err != nil {
				is.add(&item{Type: "datetime_parsing", Loc: loc, Input: rawString(raw),
					Msg: "Input should be a valid datetime (RFC 3339, e.g. 2026-01-31T12:00:00Z)"})
				continue
			}
			t = t.UTC()
			if norm == "filter[time][gte]" {
				q.From = &t
			} else {
				q.To = &t
			}
		}
	}
	return q
}

// enumFilter returns raw when it is one of allowed, else adds an enum item.
func enumFilter(raw string, allowed []string, loc []any, is *items) string {
	if slices.Contains(allowed, raw) {
		return raw
	}
	msg := "'" + strings.Join(allowed, "', '") + "'"
	is.add(&item{Type: "enum", Loc: loc, Input: rawString(raw), Msg: "Input should be one of " + msg,
		Ctx: map[string]string{"expected": msg}})
	return ""
}
