package secrets

import (
	"context"
	"errors"
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
	CreateWorkspace(ctx context.Context, w Workspace) error
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
	// ResealSecret replaces the sealed value of record id if its revision is
	// still revision, incrementing the revision and leaving metadata and
	// timestamps alone. ErrRevisionChanged if it changed, ErrNotFound if gone.
	ResealSecret(ctx context.Context, id, revision int64, s envelope.Sealed) error
	// CountByProvider returns the number of stored secrets per provider name.
	CountByProvider(ctx context.Context) (map[string]int, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
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
