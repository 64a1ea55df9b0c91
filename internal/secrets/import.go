package secrets

import (
	"context"
	"errors"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// ImportOutcome is what happened to one imported record.
type ImportOutcome int

// Import outcomes.
const (
	Imported ImportOutcome = iota
	Skipped
	Failed
)

// ImportOptions control an import run (docs/import.md).
type ImportOptions struct {
	Replace bool // overwrite existing secrets instead of skipping them
	DryRun  bool // verify and report, write nothing
}

// Import stores one record exported from NeMo Platform, as it came (format
// 1 on its provider), after proving that the configured providers decrypt
// it. The value is never kept. reason explains a Skipped or Failed outcome;
// err reports database failures only.
func (s *Service) Import(ctx context.Context, r Record, opts ImportOptions) (out ImportOutcome, reason string, err error) {
	switch {
	case !ValidWorkspaceName(r.Workspace):
		return Failed, "invalid workspace name", nil
	case CheckSecretName(r.Name) != NameOK:
		return Failed, "invalid secret name", nil
	}
	value, err := s.keys.Open(ctx, r.Workspace, r.Name, r.Sealed)
	if err != nil {
		return Failed, failureText(err, envelope.ErrDecrypt), nil
	}
	clear(value)
	if opts.DryRun {
		if _, err := s.store.GetSecret(ctx, r.Workspace, r.Name); err == nil && !opts.Replace {
			return Skipped, "already exists", nil
		}
		return Imported, "", nil
	}
	if err := s.ensureWorkspace(ctx, r.Workspace, nil); err != nil {
		return Failed, "", err
	}
	stored, err := s.store.ImportSecret(ctx, r, opts.Replace, s.cfg.MaxVersions)
	switch {
	case err != nil:
		return Failed, "", err
	case !stored:
		return Skipped, "already exists", nil
	}
	return Imported, "", nil
}

// ensureWorkspace creates a workspace unless it exists; a concurrent creator
// winning the race is fine.
func (s *Service) ensureWorkspace(ctx context.Context, name string, description *string) error {
	if _, err := s.store.GetWorkspace(ctx, name); err == nil {
		return nil
	}
	now := Now()
	err := s.store.CreateWorkspace(ctx, Workspace{ID: newWorkspaceID(), Name: name,
		Description: description, CreatedAt: now, UpdatedAt: now}, "")
	if err != nil && !errors.Is(err, ErrAlreadyExists) {
		return err
	}
	return nil
}
