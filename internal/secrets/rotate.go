package secrets

import (
	"context"
	"errors"
	"sync"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// RotationResult reports one rotation pass (api.md §4.7).
type RotationResult struct {
	Rotated     int
	Skipped     int
	Failed      []RotationFailure // the first Config.MaxFailuresListed failures
	FailedCount int
}

// RotationFailure names a secret that could not be rotated and why, in one of
// the fixed texts of crypto.md §6.
type RotationFailure struct {
	Workspace string
	Name      string
	Error     string
}

// rotationWorkers bounds how many records of a batch are re-sealed at once:
// provider round trips (Vault) overlap, and concurrent writes let the store
// batch commits, while memory stays bounded by one batch.
const rotationWorkers = 8

// outcome is what rotation did with one record.
type outcome struct {
	rotated, skipped bool
	reason           string // failure text, "" if none
	err              error  // database error: ends the run
}

// RotateKeys re-seals every stored secret that is not on the current provider
// and format. It walks records by ascending ID in keyset batches, so memory
// is bounded by one batch plus the failure list; each rewrite is its own
// write guarded by the record's revision, so concurrent writes are never
// lost and concurrent rotations only split the counts. Only a database error
// ends the run early.
func (s *Service) RotateKeys(ctx context.Context) (RotationResult, error) {
	var res RotationResult
	s.log.Info("Starting rotation of encryption keys", "current_provider", s.keys.Current())
	var last int64
	for {
		batch, err := s.store.ScanSecrets(ctx, last, s.cfg.RotationBatchSize)
		if err != nil {
			return res, internal(MsgRotateFailed, err)
		}
		if len(batch) == 0 {
			break
		}
		for i, o := range s.rotateBatch(ctx, batch) {
			if o.err != nil {
				return res, internal(MsgRotateFailed, o.err)
			}
			s.count(&res, batch[i], o)
		}
		last = batch[len(batch)-1].ID
		s.log.Info("rotation progress", "last_id", last, "rotated", res.Rotated,
			"skipped", res.Skipped, "failed", res.FailedCount)
	}
	s.log.Info("Completed rotation of encryption keys for all secrets",
		"rotated", res.Rotated, "skipped", res.Skipped, "failed", res.FailedCount)
	return res, nil
}

// rotateBatch rotates a batch with bounded concurrency; outcomes keep the
// batch's order so failures are reported in processing order.
func (s *Service) rotateBatch(ctx context.Context, batch []Record) []outcome {
	out := make([]outcome, len(batch))
	sem := make(chan struct{}, rotationWorkers)
	var wg sync.WaitGroup
	for i, rec := range batch {
		if s.keys.IsCurrent(rec.Sealed) {
			out[i].skipped = true // the common case on re-runs: no goroutine
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			out[i] = s.rotateOne(ctx, rec)
			<-sem
		}()
	}
	wg.Wait()
	return out
}

func (s *Service) count(res *RotationResult, rec Record, o outcome) {
	switch {
	case o.rotated:
		res.Rotated++
	case o.skipped:
		res.Skipped++
	case o.reason != "":
		res.FailedCount++
		if len(res.Failed) < s.cfg.MaxFailuresListed {
			res.Failed = append(res.Failed, RotationFailure{Workspace: rec.Workspace, Name: rec.Name, Error: o.reason})
		}
		s.log.Warn("rotation failed for secret", "workspace", rec.Workspace, "name", rec.Name, "error", o.reason)
	}
}

// rotateOne rotates one record, re-reading it once after a revision conflict
// and giving up after a second. A record deleted meanwhile is not counted.
func (s *Service) rotateOne(ctx context.Context, rec Record) outcome {
	for attempt := 0; ; attempt++ {
		if s.keys.IsCurrent(rec.Sealed) {
			return outcome{skipped: true}
		}
		if attempt == 2 {
			return outcome{reason: msgSecretChangedRot}
		}
		sealed, reason := s.reseal(ctx, rec)
		if reason != "" {
			return outcome{reason: reason}
		}
		err := s.store.ResealSecret(ctx, rec.ID, rec.Revision, sealed)
		switch {
		case err == nil:
			return outcome{rotated: true}
		case errors.Is(err, ErrNotFound):
			return outcome{}
		case !errors.Is(err, ErrRevisionChanged):
			return outcome{err: err}
		}
		rec, err = s.store.GetSecretByID(ctx, rec.ID)
		if errors.Is(err, ErrNotFound) {
			return outcome{}
		} else if err != nil {
			return outcome{err: err}
		}
	}
}

// reseal decrypts rec and seals its value afresh under the current provider;
// on failure it returns the fixed failure text instead.
func (s *Service) reseal(ctx context.Context, rec Record) (envelope.Sealed, string) {
	value, err := s.keys.Open(ctx, rec.Workspace, rec.Name, rec.Sealed)
	if err != nil {
		return envelope.Sealed{}, failureText(err, envelope.ErrDecrypt)
	}
	defer clear(value)
	sealed, err := s.keys.Seal(ctx, rec.Workspace, rec.Name, value)
	if err != nil {
		return envelope.Sealed{}, failureText(err, envelope.ErrEncrypt)
	}
	return sealed, ""
}

// failureText turns a keyring error into one of the fixed rotation texts.
func failureText(err, fallback error) string {
	var pe *envelope.ProviderError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	return fallback.Error()
}
