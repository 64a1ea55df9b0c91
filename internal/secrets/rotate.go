package secrets

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// RotationResult reports one rotation pass (docs/key-management.md). The
// counts are per secret: rotated when any of its stored versions was
// re-wrapped, skipped when all were current already, failed when any
// failed. Secrets in the recycle bin count in DeletedRotated only, or as
// failed.
type RotationResult struct {
	Rotated         int
	Skipped         int
	Failed          []RotationFailure // the first Config.MaxFailuresListed failed versions
	FailedCount     int               // failed secrets
	RotatedVersions int               // versions re-wrapped, live and in the bin
	DeletedRotated  int               // recycle-bin entries with a version re-wrapped
}

// RotationFailure names a version that could not be rotated and why, in
// one of the fixed texts of docs/crypto.md.
type RotationFailure struct {
	Workspace string
	Name      string
	Version   int64
	Error     string
}

// rotationCounts are the per-version outcomes of every rotation run since
// the process started, for metrics (docs/operations.md, "Metrics").
type rotationCounts struct{ rotated, skipped, failed atomic.Int64 }

// RotationCounts returns how many stored versions rotation runs of this
// process re-wrapped (rotated), found current already (skipped) or could
// not re-wrap (failed). Versions deleted during a run are not counted.
func (s *Service) RotationCounts() (rotated, skipped, failed int64) {
	return s.rot.rotated.Load(), s.rot.skipped.Load(), s.rot.failed.Load()
}

// rotationWorkers bounds how many versions of a batch are decrypted and
// sealed at once: provider round trips (Vault) overlap, while memory stays
// bounded by one batch.
const rotationWorkers = 8

// rotationAttempts is how many times a version is re-sealed when a write
// changes it in between; after that it is reported as changed.
const rotationAttempts = 2

// outcome is what rotation did with one version.
type outcome struct {
	rotated, skipped bool
	reason           string // failure text, "" if none
}

// RotateKeys re-seals every stored version, of live secrets and of the
// recycle bin, that is not on the current provider and format. It walks
// versions by ascending key in keyset batches, so memory is bounded by one
// batch plus the failure list. Each batch is sealed in parallel and written
// with one ResealVersions call (one transaction), each version guarded by
// the ciphertext that was read, so concurrent writes are never lost and
// concurrent rotations only split the counts. Only a database error ends
// the run early.
func (s *Service) RotateKeys(ctx context.Context) (RotationResult, error) {
	var res RotationResult
	t := tally{res: &res, s: s}
	s.log.Info("Starting rotation of encryption keys", "current_provider", s.keys.Current())
	var last VersionKey
	for {
		batch, err := s.store.ScanVersions(ctx, last, s.cfg.RotationBatchSize)
		if err != nil {
			return res, internal(MsgRotateFailed, err)
		}
		if len(batch) == 0 {
			break
		}
		outs, err := s.rotateBatch(ctx, batch)
		if err != nil {
			return res, internal(MsgRotateFailed, err)
		}
		for i, o := range outs {
			t.add(batch[i], o)
		}
		last = batch[len(batch)-1].VersionKey
		s.log.Info("rotation progress", "last_id", last.SecretID, "rotated", res.Rotated,
			"skipped", res.Skipped, "failed", res.FailedCount)
	}
	t.flush()
	s.log.Info("Completed rotation of encryption keys for all secrets",
		"rotated", res.Rotated, "skipped", res.Skipped, "failed", res.FailedCount,
		"rotated_versions", res.RotatedVersions, "deleted_secrets_rotated", res.DeletedRotated)
	return res, nil
}

// rotateBatch rotates a batch; outcomes keep the batch's order so failures
// are reported in processing order. A version whose ciphertext changed before
// its write is read again and re-sealed with the others that did, up to
// rotationAttempts times; one deleted meanwhile is not counted.
func (s *Service) rotateBatch(ctx context.Context, batch []StoredVersion) ([]outcome, error) {
	out := make([]outcome, len(batch))
	recs := slices.Clone(batch) // retries replace records with fresh reads
	var pending []int           // indexes of records still to re-seal
	for i, rec := range recs {
		if s.keys.IsCurrent(rec.Sealed) {
			out[i].skipped = true // the common case on re-runs
		} else {
			pending = append(pending, i)
		}
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == rotationAttempts {
			for _, i := range pending {
				out[i].reason = msgSecretChangedRot
			}
			break
		}
		var err error
		if pending, err = s.resealRound(ctx, recs, pending, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// resealRound re-seals recs[i] for each i in pending, in parallel, then
// writes them with one ResealVersions call. It records each outcome in out
// and returns the indexes whose ciphertext changed, re-read into recs, that
// still need re-sealing.
func (s *Service) resealRound(ctx context.Context, recs []StoredVersion, pending []int, out []outcome) ([]int, error) {
	sealed := s.resealAll(ctx, recs, pending, out)
	rs := make([]Reseal, 0, len(pending))
	idx := make([]int, 0, len(pending)) // rs[k] re-seals recs[idx[k]]
	for _, i := range pending {
		if out[i].reason == "" {
			rs = append(rs, Reseal{VersionKey: recs[i].VersionKey, Old: recs[i].Sealed.Ciphertext, Sealed: sealed[i]})
			idx = append(idx, i)
		}
	}
	if len(rs) == 0 {
		return nil, nil // every record failed to re-seal
	}
	errs, err := s.store.ResealVersions(ctx, rs)
	if err != nil {
		return nil, err
	}
	var again []int
	for k, i := range idx {
		retry, err := s.settle(ctx, &recs[i], errs[k], &out[i])
		if err != nil {
			return nil, err
		}
		if retry {
			again = append(again, i)
		}
	}
	return again, nil
}

// settle records in o what writing rec's re-seal did. retry reports a
// version that changed meanwhile, re-read into rec, that still needs
// re-sealing; err a database error, which ends the run.
func (s *Service) settle(ctx context.Context, rec *StoredVersion, written error, o *outcome) (retry bool, err error) {
	switch {
	case written == nil:
		o.rotated = true
		return false, nil
	case errors.Is(written, ErrNotFound):
		return false, nil // deleted meanwhile: nothing to rotate, not counted
	case !errors.Is(written, ErrRevisionChanged):
		return false, written
	}
	fresh, err := s.store.GetStoredVersion(ctx, rec.VersionKey)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case s.keys.IsCurrent(fresh.Sealed):
		o.skipped = true // the concurrent write sealed it afresh
		return false, nil
	}
	*rec = fresh
	return true, nil
}

// resealAll decrypts and re-seals recs[i] for each i in pending with at most
// rotationWorkers at once, into sealed[i]. A version that fails gets its
// failure text in out[i].reason instead.
func (s *Service) resealAll(ctx context.Context, recs []StoredVersion, pending []int, out []outcome) (sealed []envelope.Sealed) {
	sealed = make([]envelope.Sealed, len(recs))
	sem := make(chan struct{}, rotationWorkers)
	var wg sync.WaitGroup
	for _, i := range pending {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sealed[i], out[i].reason = s.reseal(ctx, recs[i])
		})
	}
	wg.Wait()
	return sealed
}

// tally turns per-version outcomes into per-secret counts. Versions arrive
// in key order, so a secret's versions are consecutive (possibly across
// batches); its count is settled when the next secret's first version
// arrives, or by flush.
type tally struct {
	res                           *RotationResult
	s                             *Service
	cur                           StoredVersion // a version of the secret being tallied
	has, rotated, skipped, failed bool
}

func (t *tally) add(v StoredVersion, o outcome) {
	if t.has && v.SecretID != t.cur.SecretID {
		t.flush()
	}
	t.cur, t.has = v, true
	switch {
	case o.rotated:
		t.rotated = true
		t.res.RotatedVersions++
		t.s.rot.rotated.Add(1)
	case o.skipped:
		t.skipped = true
		t.s.rot.skipped.Add(1)
	case o.reason != "":
		t.failed = true
		t.s.rot.failed.Add(1)
		if len(t.res.Failed) < t.s.cfg.MaxFailuresListed {
			t.res.Failed = append(t.res.Failed, RotationFailure{Workspace: v.Workspace, Name: v.Name,
				Version: v.Version, Error: o.reason})
		}
		t.s.log.Warn("rotation failed for secret", "workspace", v.Workspace, "name", v.Name,
			"version", v.Version, "error", o.reason)
	}
}

// flush counts the secret being tallied. One whose versions all vanished
// meanwhile (deleted, purged) is not counted.
func (t *tally) flush() {
	switch {
	case !t.has:
	case t.failed:
		t.res.FailedCount++
	case t.cur.Deleted:
		if t.rotated {
			t.res.DeletedRotated++
		}
	case t.rotated:
		t.res.Rotated++
	case t.skipped:
		t.res.Skipped++
	}
	*t = tally{res: t.res, s: t.s}
}

// reseal decrypts rec and seals its value afresh under the current provider;
// on failure it returns the fixed failure text instead.
func (s *Service) reseal(ctx context.Context, rec StoredVersion) (envelope.Sealed, string) {
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
