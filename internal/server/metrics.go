package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/pprof"

	"github.com/coffer-dev/coffer/internal/metrics"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/sqlite"
)

// secretCounter is what coffer_secrets_stored reads; both stores have it.
type secretCounter interface {
	CountSecrets(ctx context.Context) (int64, error)
}

// observe connects the counters the store and the service keep to m,
// which reads them at scrape time (docs/operations.md, "Metrics").
func observe(m *metrics.Metrics, store secrets.Store, svc *secrets.Service, trail *secrets.AuditLog) {
	if m == nil {
		return
	}
	if trail != nil {
		m.AuditCounters(trail.EventsWritten, trail.EventsFailed, trail.SinkFailures)
	}
	if st, ok := store.(*sqlite.Store); ok {
		m.CacheCounters(
			func() uint64 { h, _ := st.CacheStats(); return h },
			func() uint64 { _, n := st.CacheStats(); return n })
	}
	if c, ok := store.(secretCounter); ok {
		m.SecretsStored(c.CountSecrets)
	}
	m.RotationCounters(svc.RotationCounts)
}

// adminHandler serves the admin listener: /metrics (404 when metrics are
// disabled) and the runtime profiles under /debug/pprof/, which are never
// on the main listener: profiling costs CPU on demand and shows internals
// (the command line, every goroutine's stack), so it is for operators who
// can reach a separate address only.
func adminHandler(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	if m != nil {
		mux.Handle("GET /metrics", m.Handler())
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// serveAdmin serves the admin listener until Shutdown, with the main
// listener's TLS settings.
func (s *Server) serveAdmin() {
	var err error
	if tlsCfg := s.cfg.Coffer.TLS; tlsCfg.CertFile != "" {
		err = s.admin.ServeTLS(s.adminLn, tlsCfg.CertFile, tlsCfg.KeyFile)
	} else {
		err = s.admin.Serve(s.adminLn)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("admin listener failed", "error", err.Error())
	}
}
