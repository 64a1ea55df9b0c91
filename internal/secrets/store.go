package secrets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// Storage errors. Backends return exactly these (possibly wrapped) so the
// Service can turn them into API errors; anything else is an internal error.
var (
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	ErrNoWorkspace     = errors.New("workspace does not exist")
	ErrRevisionChanged = errors.New("revision changed")
)

// Store is the persistence contract. Every method is one transaction: it
// happens fully or not at all, and returns only after the change is durable.
// Uniqueness is enforced by the database. The conformance suite in
// internal/store/storetest defines the behaviour every backend must have.
type Store interface {
	// CreateWorkspace inserts w; ErrAlreadyExists if the name is taken.
	// When admin is not "" the same transaction binds admin as AdminRole of
	// the new workspace (granted by admin, at w.CreatedAt), so a creator is
	// never left without the right to manage what it created.
	// ErrUnstorableText if admin cannot be stored.
	CreateWorkspace(ctx context.Context, w Workspace, admin string) error
	// GetWorkspace returns the named workspace or ErrNotFound.
	GetWorkspace(ctx context.Context, name string) (Workspace, error)
	// ListWorkspaces returns one page in the order of q.Sort (ties by name
	// ascending) and the total number of workspaces.
	ListWorkspaces(ctx context.Context, q WorkspaceQuery) ([]Workspace, int, error)
	// UpdateWorkspace applies u and returns the result, or ErrNotFound.
	UpdateWorkspace(ctx context.Context, name string, u WorkspaceUpdate) (Workspace, error)
	// DeleteWorkspace removes the workspace with its secrets and role
	// bindings, or returns ErrNotFound.
	DeleteWorkspace(ctx context.Context, name string) error

	// CreateSecret inserts r (its ID and Revision are ignored; the revision
	// starts at 1) and returns the stored record. ErrNoWorkspace if the
	// workspace is missing, ErrAlreadyExists if the name is taken.
	CreateSecret(ctx context.Context, r Record) (Record, error)
	// GetSecret returns a record or ErrNotFound (also when the workspace is missing).
	GetSecret(ctx context.Context, ws, name string) (Record, error)
	// ListSecrets returns one page of a workspace's secrets ordered by
	// created_at descending then name ascending, and the total count; both
	// leave out q.Exclude. ErrNoWorkspace if the workspace is missing.
	ListSecrets(ctx context.Context, ws string, q SecretQuery) ([]Secret, int, error)
	// UpdateSecret applies u, increments the revision and returns the new
	// metadata, or ErrNotFound. Concurrent updates apply one after the other.
	UpdateSecret(ctx context.Context, ws, name string, u SecretUpdate) (Secret, error)
	// DeleteSecret removes a secret or returns ErrNotFound.
	DeleteSecret(ctx context.Context, ws, name string) error

	// ScanSecrets returns up to limit records with ID > afterID in ascending
	// ID order (keyset pagination for rotation).
	ScanSecrets(ctx context.Context, afterID int64, limit int) ([]Record, error)
	// GetSecretByID returns a record by internal ID or ErrNotFound.
	GetSecretByID(ctx context.Context, id int64) (Record, error)
	// ResealSecrets re-seals a batch in one transaction (rotation). For
	// each rs[i] whose record still has revision rs[i].Revision it replaces
	// the sealed value and increments the revision, leaving metadata and
	// timestamps alone; errs[i] is then nil. A record whose revision changed
	// gets ErrRevisionChanged and one that is gone ErrNotFound; either is
	// left as it is while the rest of the batch is still re-sealed. err
	// fails the whole call (a database error, a repeated ID): then nothing
	// changed and errs is nil.
	ResealSecrets(ctx context.Context, rs []Reseal) (errs []error, err error)
	// CountByProvider returns the number of stored secrets per provider name.
	CountByProvider(ctx context.Context) (map[string]int, error)

	// ImportSecret stores an imported record (crypto.md §7): its Sealed,
	// timestamps and created_by/updated_by as given, revision 1. If
	// (workspace, name) exists: with replace false it returns (false, nil)
	// and changes nothing; with replace true it overwrites the description,
	// sealed value, timestamps and *_by, increments the revision and returns
	// (true, nil). ErrNoWorkspace if the workspace is missing.
	ImportSecret(ctx context.Context, r Record, replace bool) (stored bool, err error)

	// Role bindings (auth.md §5, api.md §6.7). Principal and role strings
	// that fail StorableText hold no roles: lookups skip them and writes
	// return ErrUnstorableText; a workspace name that fails it names no
	// workspace.

	// RolesOf returns, for each of principals holding at least one role in
	// ws, its roles in grant order.
	RolesOf(ctx context.Context, ws string, principals []string) (map[string][]string, error)
	// WorkspacesOf returns the names (sorted by byte order) of workspaces
	// where any of principals holds a role.
	WorkspacesOf(ctx context.Context, principals []string) ([]string, error)
	// ListBindings returns every binding of ws grouped per principal:
	// principals ordered by their earliest granted_at then principal, each
	// principal's bindings in grant order. ErrNotFound if ws does not exist.
	ListBindings(ctx context.Context, ws string) ([]Binding, error)
	// GrantRoles adds the roles principal lacks in ws, granted by by at at;
	// existing ones are untouched. ErrNotFound if ws does not exist.
	GrantRoles(ctx context.Context, ws, principal string, roles []string, by *string, at time.Time) error
	// SetRoles makes principal's roles in ws exactly roles: it removes the
	// others and grants the missing ones (by, at); kept roles are untouched.
	// If principal holds AdminRole, roles lacks it and no other principal
	// holds AdminRole in ws, it returns ErrLastAdmin and changes nothing.
	// ErrNotFound if ws does not exist.
	SetRoles(ctx context.Context, ws, principal string, roles []string, by *string, at time.Time) error
	// RemoveMember deletes all of principal's roles in ws and returns how
	// many were removed. ErrNotFound if it holds none (or ws is missing);
	// ErrLastAdmin if it holds AdminRole and no other principal does.
	RemoveMember(ctx context.Context, ws, principal string) (int, error)
	// Seed creates b once per database: if no seed named key was ever
	// recorded, it records key and inserts b (an identical existing binding
	// is fine) in one transaction and returns true; otherwise it changes
	// nothing and returns false, so a seed removed later stays removed.
	// Seed records stay when their workspace is deleted. ErrNotFound if b's
	// workspace does not exist (nothing is recorded). Safe when several
	// replicas seed at once: exactly one of them returns true.
	Seed(ctx context.Context, key string, b Binding) (bool, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Reseal is a record's new sealed value for ResealSecrets, guarded by the
// revision at which the record was read, so that a write in between (a
// PATCH of the value) is never overwritten with a re-seal of the old one.
type Reseal struct {
	ID       int64
	Revision int64
	Sealed   envelope.Sealed
}

// CheckReseals refuses a batch that names an ID twice, before a backend
// writes anything: one UPDATE joining the batch (PostgreSQL) would apply
// an arbitrary one of the two, so neither backend accepts it.
func CheckReseals(rs []Reseal) error {
	seen := make(map[int64]struct{}, len(rs))
	for _, r := range rs {
		if _, dup := seen[r.ID]; dup {
			return fmt.Errorf("reseal: record %d appears twice in one batch", r.ID)
		}
		seen[r.ID] = struct{}{}
	}
	return nil
}

// WorkspaceQuery selects a page of workspaces.
type WorkspaceQuery struct {
	Sort   string // created_at, -created_at, updated_at or -updated_at
	Offset int
	Limit  int
}

// SecretQuery selects a page of one workspace's secrets.
type SecretQuery struct {
	Offset  int
	Limit   int
	Exclude string // a name neither listed nor counted ("" = none)
}

// WorkspaceUpdate changes a workspace; a nil Description leaves it unchanged.
type WorkspaceUpdate struct {
	Description *string
	UpdatedAt   time.Time
	UpdatedBy   *string
}

// SecretUpdate changes a secret; nil fields are left unchanged.
type SecretUpdate struct {
	Description *string
	Sealed      *envelope.Sealed
	UpdatedAt   time.Time
	UpdatedBy   *string
}

// WorkspaceSorts are the accepted WorkspaceQuery.Sort values.
var WorkspaceSorts = []string{"created_at", "-created_at", "updated_at", "-updated_at"}
