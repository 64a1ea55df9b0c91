package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// The audit trail's background work (docs/operations.md, "Audit trail"):
// the batcher and file sink (secrets.AuditLog) and the retention prune.

// auditPruneInterval is how often each replica deletes events older than
// coffer.audit.retention.
var auditPruneInterval = time.Minute

// auditPruneBatch bounds the events one prune statement deletes, so a
// first pass over a large backlog never holds the database (SQLite's one
// writer) for long.
const auditPruneBatch = 1000

// openAuditLog starts the audit batcher on store, with the JSON-lines sink
// when coffer.audit.file is set. The file is opened (created 0600) here,
// so a path that cannot be written stops startup naming the key.
func openAuditLog(cfg config.Audit, store secrets.Store, log *slog.Logger) (*secrets.AuditLog, *os.File, error) {
	lc := secrets.AuditLogConfig{Store: store, FlushInterval: cfg.FlushEvery(), Logger: log}
	var f *os.File
	if cfg.File != "" {
		var err error
		f, err = os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("coffer.audit.file: %w", err)
		}
		lc.Sink = f
	}
	return secrets.NewAuditLog(lc), f, nil
}

// auditPruneLoop prunes at start and every auditPruneInterval until ctx
// ends. Several replicas may run it at once: the store splits the work.
func (s *Server) auditPruneLoop(ctx context.Context) {
	keep := s.cfg.Coffer.Audit.KeepFor()
	if keep <= 0 {
		return // kept forever
	}
	t := time.NewTicker(auditPruneInterval)
	defer t.Stop()
	for {
		s.auditPruneOnce(ctx, keep)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) auditPruneOnce(ctx context.Context, keep time.Duration) {
	before := time.Now().Add(-keep)
	total := 0
	for ctx.Err() == nil {
		n, err := s.store.PruneAudit(ctx, before, auditPruneBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("audit retention prune failed; retrying at the next pass", "error", err.Error())
			}
			break
		}
		total += n
		if n < auditPruneBatch {
			break
		}
	}
	if total > 0 {
		s.log.Info("audit trail: deleted events past retention", "count", total)
	}
}
