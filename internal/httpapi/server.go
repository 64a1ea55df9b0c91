// Package httpapi serves Coffer's HTTP API: routing, identity headers, the
// authorization seam, body limits, request validation (422 items), and the
// single mapping from domain errors to HTTP responses.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// Limits are the configurable request limits of api.md §3.4.
type Limits struct {
	MaxBodyBytes        int64
	MaxValueBytes       int
	MaxDescriptionChars int
}

// DefaultLimits are the limits of api.md §3.4.
var DefaultLimits = Limits{MaxBodyBytes: 1 << 20, MaxValueBytes: 65536, MaxDescriptionChars: 4096}

// Authorizer decides requests when authentication is enabled (auth.md §2).
// header is the principal from trusted identity headers, or nil. It returns
// the principal the request acts as, or a status and detail to answer with
// (401, 403 or 500) when status is non-zero.
type Authorizer interface {
	Authorize(r *http.Request, header *auth.Principal, m Match) (p auth.Principal, status int, detail string)
}

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
	// Authorizer is nil when authentication is disabled.
	Authorizer Authorizer
	// MaxInFlight bounds concurrently handled API requests; beyond it
	// requests get 503 at once instead of queueing (0 = unbounded).
	MaxInFlight int
}

// Server is the HTTP handler for the whole API.
type Server struct {
	svc     *secrets.Service
	limits  Limits
	log     *slog.Logger
	ready   func(ctx context.Context) error
	trusted auth.Networks
	authz   Authorizer
	router  *router
	slots   chan struct{} // nil when unbounded
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
		trusted: cfg.TrustedNetworks, authz: cfg.Authorizer, router: newRouter(routes())}
	if cfg.MaxInFlight > 0 {
		s.slots = make(chan struct{}, cfg.MaxInFlight)
	}
	return s
}

type principalKey struct{}

// PrincipalFrom returns the principal a request acts as (empty if anonymous).
func PrincipalFrom(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// actor is the effective principal id for created_by/updated_by, or nil.
func actor(r *http.Request) *string {
	id := PrincipalFrom(r.Context()).EffectiveID()
	if id == "" {
		return nil
	}
	return &id
}

// ServeHTTP runs the pipeline of api.md §1.2: identity and authorization,
// routing, then the handler (which applies body limits and validation).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer s.finish(sw, r, start)

	m := s.router.match(r.Method, r.URL.EscapedPath())
	if m.route != nil && m.route.public {
		m.route.handle(s, sw, r, m.params)
		return
	}
	if !s.acquire(sw) {
		return
	}
	defer s.release()
	p, ok := s.identify(sw, r, m)
	if !ok {
		return
	}
	switch {
	case m.route != nil:
		m.route.handle(s, sw, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), m.params)
	case len(m.allow) > 0:
		sw.Header().Set("Allow", strings.Join(m.allow, ", "))
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

// identify parses identity headers from trusted peers and, with auth enabled,
// asks the authorizer. It answers the request itself when it must stop.
func (s *Server) identify(w http.ResponseWriter, r *http.Request, m Match) (auth.Principal, bool) {
	var header *auth.Principal
	if s.trusted.Contains(r.RemoteAddr) {
		p, ok, err := auth.FromHeaders(r.Header)
		if err != nil {
			writeDetail(w, http.StatusBadRequest, err.Error())
			return auth.Principal{}, false
		}
		if ok {
			header = &p
		}
	}
	if s.authz != nil {
		p, status, msg := s.authz.Authorize(r, header, m)
		if status != 0 {
			writeDetail(w, status, msg)
			return auth.Principal{}, false
		}
		return p, true
	}
	if header != nil {
		return *header, true
	}
	return auth.Principal{}, true
}

// finish recovers a panicking handler into the generic 500 and logs the
// request. Neither the panic value (it could hold request data) nor bodies
// are logged.
func (s *Server) finish(sw *statusWriter, r *http.Request, start time.Time) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.Error("handler panic recovered", "method", r.Method, "path", r.URL.Path)
		if sw.status == 0 {
			writeDetail(sw, http.StatusInternalServerError, secrets.MsgUnexpected)
		}
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
}

type statusWriter struct {
	http.ResponseWriter
	status int
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
