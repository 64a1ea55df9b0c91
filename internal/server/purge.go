package server

import (
	"context"
	"time"
)

// purgeInterval is how often each replica erases the recycle-bin entries
// whose retention has passed (docs/lifecycle.md). Expired entries are
// invisible to the API at once; the pass only reclaims their storage, so
// the interval bounds how long an expired ciphertext stays on disk.
var purgeInterval = time.Minute

// checkpointer is a store that can rewrite its log so erased ciphertexts
// leave the disk (the SQLite backend's WAL, docs/storage.md).
type checkpointer interface {
	Checkpoint(ctx context.Context) error
}

// purgeLoop runs a purge pass at start and every purgeInterval until ctx
// ends. Several replicas may run it at once: the store splits the work.
func (s *Server) purgeLoop(ctx context.Context) {
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		s.purgeOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) purgeOnce(ctx context.Context) {
	n, err := s.Service.PurgeExpired(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("recycle bin purge failed; retrying at the next pass", "error", err.Error())
	}
	if n > 0 {
		s.log.Info("recycle bin: erased expired secrets", "count", n)
	}
	if c, ok := s.store.(checkpointer); ok {
		if err := c.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("storage checkpoint failed", "error", err.Error())
		}
	}
}
