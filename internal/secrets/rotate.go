package secrets

import (
	"context"
	"errors"

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

// RotateKeys re-seals every stored secret that is not on the current provider
// and format. It walks records by ascending ID in keyset batches, so memory
// is bounded by one batch plus the failure list; each rewrite is its own
// transaction guarded by the record's revision, so concurrent writes are never
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
		for _, rec := range batch {
			if err := s.rotateOne(ctx, rec, &res); err != nil {
				return res, internal(MsgRotateFailed, err)
			}
		}
		last = batch[len(batch)-1].ID
		s.log.Info("rotation progress", "last_id", last, "rotated", res.Rotated,
			"skipped", res.Skipped, "failed", res.FailedCount)
	}
	s.log.Info("Completed rotation of encryption keys for all secrets",
		"rotated", res.Rotated, "skipped", res.Skipped, "failed", res.FailedCount)
	return res, nil
}

// rotateOne rotates one record, re-reading it once after a revision conflict
// and giving up after a second. It returns only database errors.
func (s *Service) rotateOne(ctx context.Context, rec Record, res *RotationResult) error {
	for attempt := 0; ; attempt++ {
		if s.keys.IsCurrent(rec.Sealed) {
			res.Skipped++
			return nil
		}
		if attempt == 2 {
			s.fail(res, rec, msgSecretChangedRot)
			return nil
		}
		sealed, reason := s.reseal(ctx, rec)
		if reason != "" {
			s.fail(res, rec, reason)
			return nil
		}
		err := s.store.ResealSecret(ctx, rec.ID, rec.Revision, sealed)
		switch {
		case err == nil:
			res.Rotated++
			return nil
		case errors.Is(err, ErrNotFound):
			return nil // deleted meanwhile: not counted
		case !errors.Is(err, ErrRevisionChanged):
			return err
		}
		rec, err = s.store.GetSecretByID(ctx, rec.ID)
		if errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
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

func (s *Service) fail(res *RotationResult, rec Record, reason string) {
	res.FailedCount++
	if len(res.Failed) < s.cfg.MaxFailuresListed {
		res.Failed = append(res.Failed, RotationFailure{Workspace: rec.Workspace, Name: rec.Name, Error: reason})
	}
	s.log.Warn("rotation failed for secret", "workspace", rec.Workspace, "name", rec.Name, "error", reason)
}
