// Package httpapi serves Coffer's HTTP API: routing, identity headers, the
// authorization seam, body limits, request validation (422 items), and the
// single mapping from domain errors to HTTP responses.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/buildinfo"
	"github.com/coffer-dev/coffer/internal/console"
	"github.com/coffer-dev/coffer/internal/metrics"
	"github.com/coffer-dev/coffer/internal/reqid"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// Limits are the configurable request limits of docs/api.md §3.4.
type Limits struct {
	MaxBodyBytes        int64
	MaxValueBytes       int
	MaxDescriptionChars int
}

// DefaultLimits are the limits of docs/api.md §3.4.
var DefaultLimits = Limits{MaxBodyBytes: 1 << 20, MaxValueBytes: 65536, MaxDescriptionChars: 4096}

// Config wires a Server.
type Config struct {
	Service *secrets.Service
	Limits  Limits
	Logger  *slog.Logger
	// Ready reports whether the database answers; /health/ready calls it
	// with a 2 s deadline.
	Ready func(ctx context.Context) error
	// TrustedNetworks are the peers whose X-NMP-Principal-* headers count.
	TrustedNetworks auth.Networks
	// Auth authenticates and authorizes requests (docs/auth.md); with
	// auth.enabled false it allows everything. Required.
	Auth *auth.Engine
	// Discovery answers GET /apis/auth/discovery.
	Discovery *auth.Discovery
	// MaxInFlight bounds concurrently handled API requests; beyond it
	// requests get 503 at once instead of queueing (0 = unbounded).
	MaxInFlight int
	// Audit, when not nil, records the audit trail (docs/operations.md,
	// "Audit trail"); the Service must use the same store.
	Audit *secrets.AuditLog
	// AuditReads is coffer.audit.reads: access ("" too), all or off.
	AuditReads string
	// AuditSyncReads is coffer.audit.read_durability sync: a value is
	// sent only after its event is durable.
	AuditSyncReads bool
	// Metrics counts requests and serves GET /metrics; nil when metrics
	// are disabled (GET /metrics is then 404).
	Metrics *metrics.Metrics
	// Console serves the web console's routes; nil: a console without
	// sign-in.
	Console *console.Console
}

// Server is the HTTP handler for the whole API.
type Server struct {
	svc     *secrets.Service
	limits  Limits
	log     *slog.Logger
	ready   func(ctx context.Context) error
	trusted auth.Networks
	auth    *auth.Engine
	disc    *auth.Discovery
	router  *router
	warned  atomic.Int64  // unix seconds of the last untrusted-header warning
	slots   chan struct{} // nil when unbounded
	version []byte        // the body of GET /version, fixed for the process

	trail      *secrets.AuditLog // nil: no audit trail
	auditReads string            // access, all or off
	auditSync  bool
	// accessLines: every /access writes an INFO log line, because the
	// audit trail does not record it (no trail, or coffer.audit.reads
	// off). With the trail recording accesses the line only repeated the
	// event, at about 7 % of an access's CPU (docs/performance.md, "Reads,
	// round two").
	accessLines bool
	metrics     *metrics.Metrics
	metricz     http.Handler // GET /metrics; nil when metrics are disabled
	console     *console.Console
}

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	s := &Server{svc: cfg.Service, limits: cfg.Limits, log: cfg.Logger, ready: cfg.Ready,
		trusted: cfg.TrustedNetworks, auth: cfg.Auth, disc: cfg.Discovery, router: newRouter(routes())}
	s.console = cfg.Console
	if s.console == nil {
		s.console = console.Default()
	}
	s.version, _ = marshal(buildinfo.Get()) // four strings: cannot fail
	if cfg.Metrics != nil {
		s.metrics, s.metricz = cfg.Metrics, cfg.Metrics.Handler()
		// Each route's counters are resolved once, here: observing a
		// request is then no label lookup (docs/performance.md).
		for _, rt := range s.router.routes {
			rt.obs = cfg.Metrics.Route(rt.pattern, rt.method)
			if rt.method == http.MethodGet {
				rt.headObs = cfg.Metrics.Route(rt.pattern, http.MethodHead)
			}
		}
	}
	if cfg.MaxInFlight > 0 {
		s.slots = make(chan struct{}, cfg.MaxInFlight)
	}
	s.trail, s.auditReads, s.auditSync = cfg.Audit, cfg.AuditReads, cfg.AuditSyncReads
	if s.auditReads == "" {
		s.auditReads = "access"
	}
	s.accessLines = s.trail == nil || s.auditReads == "off"
	return s
}

// actor is the effective principal id for created_by/updated_by, or nil.
func actor(p params) *string {
	id := p.principal.EffectiveID()
	if id == "" {
		return nil
	}
	return &id
}

// ServeHTTP runs the pipeline of docs/api.md §1.2: identity and authorization,
// routing, then the handler (which applies body limits and validation).
//
// Every response, whatever answers it (a handler, a 404, 405 or 503, a
// panic), carries X-Request-Id: the client's id when it is well-formed, else
// a new one (docs/operations.md, "Request ids"). The id is in the request's
// context, so log lines written with it name it.
//
// Metrics (docs/operations.md, "Metrics") count every request by its route
// pattern, or "unmatched", never by its path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, hdr := reqid.WithHeader(r.Context(), reqid.Ensure(r.Header.Get(reqid.Header)))
	w.Header()[reqid.Header] = hdr // canonical already: no re-keying
	r = r.WithContext(ctx)
	st := &reqState{sw: statusWriter{ResponseWriter: w}}
	sw := &st.sw
	s.metrics.RequestStarted()
	defer s.finish(sw, r, start)

	m := s.router.match(r.Method, r.URL.EscapedPath())
	switch {
	case m.route == nil:
		sw.obs = s.metrics.UnmatchedRoute(r.Method)
	case r.Method == http.MethodHead:
		sw.obs = m.route.headObs
	default:
		sw.obs = m.route.obs
	}
	if m.route != nil && m.route.public {
		m.route.handle(s, sw, r, m.params)
		return
	}
	if !s.acquire(sw) {
		return
	}
	defer s.release()
	var au *auditReq
	var p auth.Principal
	var method string
	if s.trail != nil && m.route != nil && m.route.audit.action != "" {
		if s.deniedOnly(m.route.audit.kind) {
			// Built only if refused: a read that is not recorded when it
			// succeeds (GET of a secret with coffer.audit.reads access)
			// saves building an event to throw away.
			defer func() { s.auditDenied(r, m, start, p, method, sw.status) }()
		} else {
			au = &st.au
			s.startAudit(au, r, &m, secrets.Now())
			defer func() { s.endAudit(au, sw.status) }()
		}
	}
	p, method, ok := s.identify(sw, r, &m)
	if au != nil {
		au.identified(p, method)
	}
	if !ok {
		return
	}
	switch {
	case m.route != nil:
		m.params.principal = p
		if au != nil {
			m.params.audit = au
			if au.kind == auditWrite {
				r = r.WithContext(secrets.WithAuditDraft(r.Context(), &au.d))
			}
		}
		m.route.handle(s, sw, r, m.params)
	case m.Found():
		sw.Header().Set("Allow", strings.Join(s.router.allowed(r.URL.EscapedPath()), ", "))
		writeDetail(sw, http.StatusMethodNotAllowed, "Method Not Allowed")
	default:
		writeDetail(sw, http.StatusNotFound, "Not Found")
	}
}

// acquire takes an in-flight slot or answers 503: under overload a fast
// refusal keeps latency bounded for the requests already admitted. Health
// routes never take a slot, so probes keep working.
func (s *Server) acquire(w http.ResponseWriter) bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	default:
		s.metrics.Rejected()
		w.Header().Set("Retry-After", "1")
		writeDetail(w, http.StatusServiceUnavailable, "Server busy: too many requests in flight; retry shortly")
		return false
	}
}

func (s *Server) release() {
	if s.slots != nil {
		<-s.slots
	}
}

// identify runs steps 1–3 of docs/auth.md "For integrators": identity headers from trusted
// peers (400 when malformed, also with auth disabled), else a bearer token or
// anonymous, then the decision. It answers the request itself when it must
// stop (ok false); p and method (header, jwt or none, for the audit trail)
// are then whatever was learnt before the refusal.
func (s *Server) identify(w http.ResponseWriter, r *http.Request, m *Match) (p auth.Principal, method string, ok bool) {
	ctx := r.Context()
	trusted := s.trusted.Contains(r.RemoteAddr)
	have := false
	method = authNone
	if trusted {
		var err error
		if p, have, err = auth.FromHeaders(r.Header); err != nil {
			s.metrics.Auth(metrics.AuthHeader, metrics.AuthBadRequest)
			writeDetail(w, http.StatusBadRequest, err.Error())
			return auth.Principal{}, method, false
		}
		if have {
			method = authHeader
		}
	} else {
		s.warnUntrusted(r)
	}
	if !s.auth.Enabled() {
		return p, method, true
	}
	if !have {
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
			method = authJWT
		}
		var err error
		if p, err = s.auth.Identify(ctx, r.Header, trusted); err != nil {
			s.metrics.Auth(authMetric(method), s.writeAuthError(w, r, err))
			return auth.Principal{}, method, false
		}
	}
	if err := s.auth.Decide(ctx, authRequest(p, m, r.URL.EscapedPath())); err != nil {
		s.metrics.Auth(authMetric(method), s.writeAuthError(w, r, err))
		return p, method, false
	}
	s.metrics.Auth(authMetric(method), metrics.AuthOK)
	return p, method, true
}

// authMetric is the metrics label of an audit auth method.
func authMetric(method string) metrics.AuthMethod {
	switch method {
	case authHeader:
		return metrics.AuthHeader
	case authJWT:
		return metrics.AuthJWT
	}
	return metrics.AuthNone
}

// warnUntrusted logs, at most once a minute, that identity headers from a
// peer outside the trusted networks were ignored.
func (s *Server) warnUntrusted(r *http.Request) {
	if r.Header.Get(auth.HeaderID) == "" && r.Header.Get(auth.HeaderScopes) == "" {
		return
	}
	now := time.Now().Unix()
	if last := s.warned.Load(); now-last < 60 || !s.warned.CompareAndSwap(last, now) {
		return
	}
	s.log.WarnContext(r.Context(), "ignored X-NMP-Principal-* headers from a peer outside coffer.auth.trusted_header_networks",
		"peer", r.RemoteAddr)
}

// finish recovers a panicking handler into the generic 500 and logs the
// request. Neither the panic value (it could hold request data) nor bodies
// are logged.
func (s *Server) finish(sw *statusWriter, r *http.Request, start time.Time) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.ErrorContext(r.Context(), "handler panic recovered", "method", r.Method, "path", r.URL.Path)
		if sw.status == 0 {
			writeDetail(sw, http.StatusInternalServerError, secrets.MsgUnexpected)
		}
	}
	d := time.Since(start)
	sw.obs.Observe(sw.status, d)
	s.metrics.RequestDone()
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", sw.status), slog.Duration("duration", d))
}

// reqState is what the pipeline keeps for one request, in one allocation:
// the writer that records the status, and the audit event when the route
// is audited.
type reqState struct {
	sw statusWriter
	au auditReq
}

type statusWriter struct {
	http.ResponseWriter
	status int
	obs    *metrics.Route // the request's route counters; nil without metrics
	// vals back the header values headerValue hands out (Content-Type,
	// Content-Length, Etag, Cache-Control, ...), so that setting the
	// headers of a response allocates no one-element slices.
	vals  [5]string
	nvals int
}

// headerValue returns []string{v} for assigning to w's header map. Through
// the pipeline's writer it is one of the writer's slots (capacity 1, so an
// Add elsewhere copies rather than overwrites the next slot); else, or
// when the slots are used up, a new slice.
func headerValue(w http.ResponseWriter, v string) []string {
	sw, ok := w.(*statusWriter)
	if !ok || sw.nvals == len(sw.vals) {
		return []string{v}
	}
	i := sw.nvals
	sw.vals[i] = v
	sw.nvals++
	return sw.vals[i : i+1 : i+1]
}

// Unwrap lets http.ResponseController reach the connection (see
// restartWriteTimeout).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// restartWriteTimeout gives a response the server's whole write timeout
// (coffer.http.write_timeout_seconds) from now. A handler whose work may
// legitimately outlast it, such as key rotation rewriting every secret,
// calls it before answering, so that the answer is not cut off; slow
// clients stay bounded because the timeout still applies to the writing.
func restartWriteTimeout(w http.ResponseWriter, r *http.Request) {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil || srv.WriteTimeout <= 0 {
		return
	}
	// An error means the connection cannot take deadlines; the answer is
	// then written as it would have been.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(srv.WriteTimeout))
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
