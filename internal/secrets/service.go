package secrets

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// NGC configures the virtual NGC API key secret (api.md §5). The feature is
// off when Workspace is empty; the secret is present when Value is non-empty.
type NGC struct {
	Workspace string
	Name      string
	Value     string
}

func (n NGC) matches(ws, name string) bool {
	return n.Workspace != "" && n.Workspace == ws && n.Name == name
}

func (n NGC) secret() Secret {
	d := ngcDescription
	return Secret{Name: n.Name, Workspace: n.Workspace, Description: &d}
}

// Config holds what a Service needs besides its store and keys.
type Config struct {
	NGC               NGC
	RotationBatchSize int // default 100
	MaxFailuresListed int // default 1000
	// MaxVersions is how many versions of a secret keep their value
	// (secrets.max_versions, default 10, at least 1).
	MaxVersions int
	// DeletedRetention is how long a deleted secret stays in the recycle
	// bin (secrets.deleted_retention); 0 erases deleted secrets at once.
	DeletedRetention time.Duration
	Logger           *slog.Logger
}

// DefaultMaxVersions is secrets.max_versions when not configured.
const DefaultMaxVersions = 10

// DefaultDeletedRetention is secrets.deleted_retention when not configured.
const DefaultDeletedRetention = 7 * 24 * time.Hour

// Service implements the secrets and workspaces use cases on top of a Store
// and a Keyring. It is safe for concurrent use.
type Service struct {
	store Store
	keys  *envelope.Keyring
	cfg   Config
	log   *slog.Logger
}

// NewService returns a Service; it does no I/O.
func NewService(store Store, keys *envelope.Keyring, cfg Config) *Service {
	if cfg.RotationBatchSize <= 0 {
		cfg.RotationBatchSize = 100
	}
	if cfg.MaxFailuresListed <= 0 {
		cfg.MaxFailuresListed = 1000
	}
	if cfg.MaxVersions <= 0 {
		cfg.MaxVersions = DefaultMaxVersions
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, keys: keys, cfg: cfg, log: log}
}

// NewSecret is the validated input of CreateSecret.
type NewSecret struct {
	Name        string
	Description *string
	Value       string
}

// SecretChange is the validated input of UpdateSecret; nil means unchanged.
type SecretChange struct {
	Description *string
	Value       *string
}

// CreateSecret stores a new secret; actor is the effective principal id or nil.
func (s *Service) CreateSecret(ctx context.Context, ws string, in NewSecret, actor *string) (Secret, error) {
	if s.cfg.NGC.matches(ws, in.Name) {
		return Secret{}, errf(KindForbidden, msgNGCCreate)
	}
	if !storable(ws) {
		return Secret{}, errNoWorkspace(ws)
	}
	sealed, err := s.keys.Seal(ctx, ws, in.Name, []byte(in.Value))
	if err != nil {
		// Sealing came first to keep the happy path one database round trip;
		// on failure answer what the spec's earlier steps would have.
		if e := s.createPrecondition(ctx, ws, in.Name); e != nil {
			return Secret{}, e
		}
		s.logCrypto("encrypt", ws, in.Name, s.keys.Current(), err)
		return Secret{}, internal(MsgCreateFailed, err)
	}
	now := Now()
	rec, err := s.store.CreateSecret(ctx, Record{
		Secret: Secret{Name: in.Name, Workspace: ws, Description: in.Description,
			CreatedAt: now, UpdatedAt: now, CreatedBy: actor, UpdatedBy: actor},
		Sealed: sealed,
	})
	switch {
	case errors.Is(err, ErrNoWorkspace):
		return Secret{}, errNoWorkspace(ws)
	case errors.Is(err, ErrAlreadyExists):
		return Secret{}, errf(KindConflict, "Secret '"+ws+"/"+in.Name+"' already exists")
	case err != nil:
		return Secret{}, internal(MsgUnexpected, err)
	}
	return rec.Secret, nil
}

// storable reports whether path values can name a stored row at all: a
// name with invalid UTF-8 or NUL cannot exist (PostgreSQL cannot even
// compare it), so such requests take the not-found path without a query.
func storable(values ...string) bool {
	for _, v := range values {
		if !StorableText(v) {
			return false
		}
	}
	return true
}

func errNoWorkspace(ws string) *Error {
	return errf(KindInvalid, "Workspace '"+ws+"' does not exist. Please create the workspace first.")
}

// createPrecondition reports the 422 or 409 a create would have produced.
func (s *Service) createPrecondition(ctx context.Context, ws, name string) error {
	if _, err := s.store.GetWorkspace(ctx, ws); errors.Is(err, ErrNotFound) {
		return errNoWorkspace(ws)
	}
	if _, err := s.store.GetSecret(ctx, ws, name); err == nil {
		return errf(KindConflict, "Secret '"+ws+"/"+name+"' already exists")
	}
	return nil
}

// GetSecret returns a secret's metadata.
func (s *Service) GetSecret(ctx context.Context, ws, name string) (Secret, error) {
	if s.cfg.NGC.matches(ws, name) {
		if s.cfg.NGC.Value == "" {
			return Secret{}, secretNotFound(ws, name)
		}
		return s.cfg.NGC.secret(), nil
	}
	rec, err := s.getRecord(ctx, ws, name)
	return rec.Secret, err
}

func (s *Service) getRecord(ctx context.Context, ws, name string) (Record, error) {
	if !storable(ws, name) {
		return Record{}, secretNotFound(ws, name)
	}
	rec, err := s.store.GetSecret(ctx, ws, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return Record{}, secretNotFound(ws, name)
	case err != nil:
		return Record{}, internal(MsgUnexpected, err)
	}
	return rec, nil
}

// ListSecrets returns one page of a workspace's secrets, with the virtual NGC
// secret appended as the last item of the last page when it is present.
func (s *Service) ListSecrets(ctx context.Context, ws string, page, pageSize int) ([]Secret, Page, error) {
	p := Page{Page: page, PageSize: pageSize}
	if !storable(ws) {
		return nil, p, workspaceNotFound(ws)
	}
	q := SecretQuery{Offset: p.Offset(), Limit: pageSize}
	ngcHere := s.cfg.NGC.Workspace == ws && s.cfg.NGC.Workspace != ""
	if ngcHere {
		q.Exclude = s.cfg.NGC.Name // a stored record with the reserved name is shadowed
	}
	items, total, err := s.store.ListSecrets(ctx, ws, q)
	switch {
	case errors.Is(err, ErrNoWorkspace):
		return nil, p, workspaceNotFound(ws)
	case err != nil:
		return nil, p, internal(MsgUnexpected, err)
	}
	p.TotalResults = total
	if ngcHere && s.cfg.NGC.Value != "" {
		p.TotalResults++
		if page == p.TotalPages() {
			items = append(items, s.cfg.NGC.secret())
		}
	}
	return items, p, nil
}

// UpdateSecret changes a secret's description and/or value. A new value is
// sealed under the current provider with a new DEK.
func (s *Service) UpdateSecret(ctx context.Context, ws, name string, in SecretChange, actor *string) (Secret, error) {
	if s.cfg.NGC.matches(ws, name) {
		return Secret{}, errf(KindForbidden, msgNGCUpdate)
	}
	if !storable(ws, name) {
		return Secret{}, secretNotFound(ws, name)
	}
	u := SecretUpdate{Description: in.Description, UpdatedAt: Now(), UpdatedBy: actor}
	if in.Value != nil {
		sealed, err := s.keys.Seal(ctx, ws, name, []byte(*in.Value))
		if err != nil {
			if _, e := s.getRecord(ctx, ws, name); e != nil {
				return Secret{}, e
			}
			s.logCrypto("encrypt", ws, name, s.keys.Current(), err)
			return Secret{}, internal(MsgUnexpected, err)
		}
		u.Sealed = &sealed
	}
	rec, err := s.store.UpdateSecret(ctx, ws, name, u)
	switch {
	case errors.Is(err, ErrNotFound):
		return Secret{}, secretNotFound(ws, name)
	case err != nil:
		return Secret{}, internal(MsgUnexpected, err)
	}
	return rec.Secret, nil
}

// DeleteSecret removes a secret.
func (s *Service) DeleteSecret(ctx context.Context, ws, name string) error {
	if s.cfg.NGC.matches(ws, name) {
		return errf(KindForbidden, msgNGCDelete)
	}
	if !storable(ws, name) {
		return secretNotFound(ws, name)
	}
	err := s.store.DeleteSecret(ctx, ws, name, SecretDelete{})
	switch {
	case errors.Is(err, ErrNotFound):
		return secretNotFound(ws, name)
	case err != nil:
		return internal(MsgUnexpected, err)
	}
	return nil
}

// AccessSecret returns a secret's plaintext value.
func (s *Service) AccessSecret(ctx context.Context, ws, name string) (string, error) {
	if s.cfg.NGC.matches(ws, name) {
		if s.cfg.NGC.Value == "" {
			return "", secretNotFound(ws, name)
		}
		return s.cfg.NGC.Value, nil
	}
	rec, err := s.getRecord(ctx, ws, name)
	if err != nil {
		return "", err
	}
	value, err := s.keys.Open(ctx, ws, name, rec.Sealed)
	if err != nil {
		s.logCrypto("decrypt", ws, name, rec.Sealed.Provider, err)
		return "", internal(MsgRetrieveFailed, err)
	}
	return string(value), nil
}

// logCrypto logs a provider or crypto failure. envelope errors carry no
// values, keys or provider replies, so err is safe to log.
func (s *Service) logCrypto(op, ws, name, provider string, err error) {
	s.log.Error("crypto failure", "op", op, "workspace", ws, "name", name,
		"provider", provider, "error", err.Error())
}
