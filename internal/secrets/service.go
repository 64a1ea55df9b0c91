package secrets

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// NGC configures the virtual NGC API key secret (docs/api.md §4.8). The feature is
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
	rot   rotationCounts
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
	Cond        Cond // If-Match
}

// ListOptions select a page of a list (docs/lifecycle.md, list queries);
// Sort and Filter are validated by the caller.
type ListOptions struct {
	Page, PageSize int
	Sort           string
	Filter         Filter
}

// CreateSecret stores a new secret as its version 1; actor is the effective
// principal id or nil.
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
		return Secret{}, secretExists(ws, in.Name)
	case err != nil:
		return Secret{}, internal(MsgUnexpected, err)
	}
	return rec.meta(), nil
}

// meta is the record's metadata as single-secret answers carry it, with
// its entity tag.
func (r Record) meta() Secret {
	sec := r.Secret
	sec.ETag = ETag(r.ID, r.Revision)
	return sec
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
		return secretExists(ws, name)
	}
	return nil
}

// ngcETag is the entity tag of the virtual NGC secret, which never changes
// through the API (its value comes from configuration).
var ngcETag = ETag(0, 0)

// GetSecret returns a secret's metadata with its entity tag.
func (s *Service) GetSecret(ctx context.Context, ws, name string) (Secret, error) {
	if s.cfg.NGC.matches(ws, name) {
		if s.cfg.NGC.Value == "" {
			return Secret{}, secretNotFound(ws, name)
		}
		sec := s.cfg.NGC.secret()
		sec.ETag = ngcETag
		return sec, nil
	}
	rec, err := s.getRecord(ctx, ws, name)
	return rec.meta(), err
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
// secret appended as the last item of the last page when it is present and
// the query has neither a filter nor a sort other than the default (it has
// no timestamps to sort or filter on).
func (s *Service) ListSecrets(ctx context.Context, ws string, o ListOptions) ([]Secret, Page, error) {
	p := Page{Page: o.Page, PageSize: o.PageSize}
	if !storable(ws) {
		return nil, p, workspaceNotFound(ws)
	}
	q := SecretQuery{Offset: p.Offset(), Limit: o.PageSize, Sort: o.Sort, Filter: o.Filter}
	ngcHere := s.cfg.NGC.Workspace == ws && s.cfg.NGC.Workspace != ""
	if ngcHere {
		q.Exclude = s.cfg.NGC.Name // a stored record with the reserved name is shadowed
	}
	items, total, err := s.store.ListSecrets(ctx, ws, q)
	if err != nil {
		return nil, p, listError(err, ws)
	}
	p.TotalResults = total
	if ngcHere && s.cfg.NGC.Value != "" && s.ngcListed(o) {
		p.TotalResults++
		if o.Page == p.TotalPages() {
			items = append(items, s.cfg.NGC.secret())
		}
	}
	return items, p, nil
}

// ngcListed reports whether the virtual NGC secret belongs in a list: it
// matches a filter only on its name (it has no timestamps), and sorts last
// in the default order as the reference lists it.
func (s *Service) ngcListed(o ListOptions) bool {
	f := o.Filter
	if f.CreatedFrom != nil || f.CreatedTo != nil || f.UpdatedFrom != nil || f.UpdatedTo != nil {
		return false
	}
	sec := s.cfg.NGC.secret()
	if f.Name != nil && *f.Name != sec.Name {
		return false
	}
	if f.NameLike != nil && !Like(sec.Name, *f.NameLike) {
		return false
	}
	if f.DescriptionLike != nil && !Like(*sec.Description, *f.DescriptionLike) {
		return false
	}
	if f.Search != "" && !containsFold(sec.Name, f.Search) && !containsFold(*sec.Description, f.Search) {
		return false
	}
	return true
}

// UpdateSecret changes a secret's description and/or value. A new value is
// sealed under the current provider with a new DEK and becomes the next
// version.
func (s *Service) UpdateSecret(ctx context.Context, ws, name string, in SecretChange, actor *string) (Secret, error) {
	if s.cfg.NGC.matches(ws, name) {
		return Secret{}, errf(KindForbidden, msgNGCUpdate)
	}
	if !storable(ws, name) {
		return Secret{}, s.missing(ws, name, in.Cond)
	}
	u := SecretUpdate{Description: in.Description, UpdatedAt: Now(), UpdatedBy: actor,
		Keep: s.cfg.MaxVersions, Cond: in.Cond}
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
	if err != nil {
		return Secret{}, secretWriteError(err, ws, name, 0)
	}
	return rec.meta(), nil
}

// missing is the error of a write to a name that cannot exist: 412 when it
// was conditional (If-Match on a missing secret), else 404.
func (s *Service) missing(ws, name string, c Cond) error {
	if c.Set {
		return preconditionFailed(ws, name)
	}
	return secretNotFound(ws, name)
}

// DeleteSecret takes a secret out of use: into the recycle bin for
// Config.DeletedRetention, or erased at once when that is 0.
func (s *Service) DeleteSecret(ctx context.Context, ws, name string, c Cond, actor *string) error {
	if s.cfg.NGC.matches(ws, name) {
		return errf(KindForbidden, msgNGCDelete)
	}
	if !storable(ws, name) {
		return s.missing(ws, name, c)
	}
	d := SecretDelete{Cond: c}
	if s.cfg.DeletedRetention > 0 {
		now := Now()
		d.BinID, d.DeletedAt, d.DeletedBy, d.PurgeAt = newBinID(), now, actor, now.Add(s.cfg.DeletedRetention)
	}
	return secretWriteError(s.store.DeleteSecret(ctx, ws, name, d), ws, name, 0)
}

// AccessSecret returns a secret's plaintext value and the number of the
// version it is: the current one when version is 0.
func (s *Service) AccessSecret(ctx context.Context, ws, name string, version int64) (string, int64, error) {
	if s.cfg.NGC.matches(ws, name) {
		if s.cfg.NGC.Value == "" || version != 0 {
			return "", 0, secretNotFound(ws, name)
		}
		return s.cfg.NGC.Value, 0, nil
	}
	rec, err := s.getVersion(ctx, ws, name, version)
	if err != nil {
		return "", 0, err
	}
	value, err := s.keys.Open(ctx, ws, name, rec.Sealed)
	if err != nil {
		s.logCrypto("decrypt", ws, name, rec.Sealed.Provider, err)
		return "", 0, internal(MsgRetrieveFailed, err)
	}
	if version == 0 {
		version = rec.Version
	}
	return string(value), version, nil
}

// getVersion reads a secret with the sealed value of version (0: current).
func (s *Service) getVersion(ctx context.Context, ws, name string, version int64) (Record, error) {
	if version == 0 {
		return s.getRecord(ctx, ws, name)
	}
	if !storable(ws, name) {
		return Record{}, secretNotFound(ws, name)
	}
	rec, err := s.store.GetVersion(ctx, ws, name, version)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrVersionNotFound) {
		return Record{}, secretWriteError(err, ws, name, version)
	}
	if err != nil {
		return Record{}, internal(MsgUnexpected, err)
	}
	return rec, nil
}

// logCrypto logs a provider or crypto failure. envelope errors carry no
// values, keys or provider replies, so err is safe to log.
func (s *Service) logCrypto(op, ws, name, provider string, err error) {
	s.log.Error("crypto failure", "op", op, "workspace", ws, "name", name,
		"provider", provider, "error", err.Error())
}
