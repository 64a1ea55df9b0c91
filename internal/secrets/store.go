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
	// ErrPreconditionFailed: a write's Cond does not hold.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrVersionNotFound: the secret exists, the version does not (or its
	// ciphertext was erased).
	ErrVersionNotFound = errors.New("version not found")
	// ErrCurrentVersion: the current version cannot be destroyed.
	ErrCurrentVersion = errors.New("current version")
)

// Store is the persistence contract. Every method is one transaction: it
// happens fully or not at all, and returns only after the change is durable.
// Uniqueness is enforced by the database. The conformance suite in
// internal/store/storetest defines the behaviour every backend must have.
type Store interface {
	// CreateWorkspace inserts w; ErrAlreadyExists if the name is taken.
	// When admin is not "" the same transaction binds admin as RoleAdmin of
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

	// CreateSecret inserts r as a live secret with its version 1 (sealed
	// r.Sealed, created at r.CreatedAt by r.CreatedBy) and returns the
	// stored record: revision 1, Version 1. r.ID, r.Revision and r.Version
	// are ignored. ErrNoWorkspace if the workspace is missing,
	// ErrAlreadyExists if a live secret has the name (secrets in the
	// recycle bin do not count).
	CreateSecret(ctx context.Context, r Record) (Record, error)
	// GetSecret returns a live secret with its current version's Sealed, or
	// ErrNotFound (also when the workspace is missing).
	GetSecret(ctx context.Context, ws, name string) (Record, error)
	// GetVersion returns a live secret with version's Sealed in place of the
	// current one (the Record's Version stays the current version number).
	// ErrNotFound if there is no such live secret, ErrVersionNotFound if
	// the version never existed or its ciphertext was erased.
	GetVersion(ctx context.Context, ws, name string, version int64) (Record, error)
	// ListSecrets returns one page of a workspace's live secrets in q.Sort
	// order (ties by name ascending) matching q.Filter, and the number of
	// secrets that match; both leave out q.Exclude. ErrNoWorkspace if the
	// workspace is missing.
	ListSecrets(ctx context.Context, ws string, q SecretQuery) ([]Secret, int, error)
	// UpdateSecret applies u to a live secret and increments its revision.
	// With u.Sealed it adds the next version (created at u.UpdatedAt by
	// u.UpdatedBy), makes it current, and erases the ciphertext of every
	// version <= new - u.Keep in the same transaction. It returns the
	// record without Sealed. ErrNotFound if there is no live secret,
	// ErrPreconditionFailed if u.Cond does not hold (then nothing changes).
	// Concurrent updates apply one after the other.
	UpdateSecret(ctx context.Context, ws, name string, u SecretUpdate) (Record, error)
	// DeleteSecret takes a live secret out of use: with d.BinID it moves it
	// with all its versions to the recycle bin under that id (the name is
	// free at once), without it erases it. ErrNotFound if there is no live
	// secret, ErrPreconditionFailed if d.Cond does not hold.
	DeleteSecret(ctx context.Context, ws, name string, d SecretDelete) error

	// ListVersions returns one page of a live secret's versions (destroyed
	// ones included, as Destroyed) created within q's bounds, newest first
	// unless q.Ascending, and how many match. ErrNotFound if there is no
	// live secret.
	ListVersions(ctx context.Context, ws, name string, q VersionQuery) ([]Version, int, error)
	// RestoreVersion copies version's sealed value into a new version, as
	// UpdateSecret does with a new value (same pruning, revision, and
	// u.Description is ignored). ErrNotFound, ErrVersionNotFound,
	// ErrPreconditionFailed as for GetVersion and UpdateSecret.
	RestoreVersion(ctx context.Context, ws, name string, version int64, u SecretUpdate) (Record, error)
	// DestroyVersion erases the ciphertext and wrapped DEK of one version
	// and increments the secret's revision; destroying a version already
	// erased changes nothing and succeeds. ErrNotFound if there is no live
	// secret, ErrVersionNotFound if the version never existed,
	// ErrCurrentVersion if it is the current one, ErrPreconditionFailed if
	// cond does not hold.
	DestroyVersion(ctx context.Context, ws, name string, version int64, cond Cond) error

	// ListDeleted returns one page of a workspace's recycle bin (entries
	// whose PurgeAt is after q.Now) in q.Sort order, and how many match.
	// ErrNoWorkspace if the workspace is missing.
	ListDeleted(ctx context.Context, ws string, q DeletedQuery) ([]Deleted, int, error)
	// GetDeleted returns a bin entry of ws that is visible at now, with its
	// versions that still have a ciphertext (ascending), or ErrNotFound.
	GetDeleted(ctx context.Context, ws, id string, now time.Time) (Deleted, []StoredVersion, error)
	// RestoreDeleted makes a visible bin entry of ws live again, under
	// r.Name when it is not "" (its versions re-sealed as r.Reseals say,
	// each guarded like ResealVersions; r.Reseals must then cover every
	// version that has a ciphertext), else under its old name with its
	// ciphertexts as they are. updated_at/by become r.UpdatedAt/By and the
	// revision increments; versions, created_at/by are kept. ErrNotFound if
	// no such entry is visible at r.Now, ErrAlreadyExists if the name is
	// live, ErrRevisionChanged if a version changed since it was read (then
	// nothing changes; read it again and retry).
	RestoreDeleted(ctx context.Context, ws, id string, r BinRestore) (Record, error)
	// PurgeDeleted erases a bin entry of ws visible at now, or returns
	// ErrNotFound.
	PurgeDeleted(ctx context.Context, ws, id string, now time.Time) error
	// PurgeExpired erases up to limit bin entries whose PurgeAt is at or
	// before now and returns how many it erased. Safe when several
	// replicas run it at once.
	PurgeExpired(ctx context.Context, now time.Time, limit int) (int, error)

	// ScanVersions returns up to limit stored versions (ciphertext not
	// erased) of live and binned secrets with a key after after, in
	// ascending (SecretID, Version) order: keyset pagination for rotation.
	ScanVersions(ctx context.Context, after VersionKey, limit int) ([]StoredVersion, error)
	// GetStoredVersion returns one stored version, or ErrNotFound when it
	// is gone or erased.
	GetStoredVersion(ctx context.Context, key VersionKey) (StoredVersion, error)
	// ResealVersions re-seals a batch in one transaction (rotation). For
	// each rs[i] whose version still holds rs[i].Old it replaces the sealed
	// value, leaving everything else alone (no revision change: a re-seal
	// is not a change a client sees); errs[i] is then nil. A version
	// holding another ciphertext gets ErrRevisionChanged and one that is
	// gone or erased ErrNotFound; either is left as it is while the rest of
	// the batch is still re-sealed. err fails the whole call (a database
	// error, a repeated key): then nothing changed and errs is nil.
	ResealVersions(ctx context.Context, rs []Reseal) (errs []error, err error)
	// CountSealed returns how many stored versions (ciphertext not erased)
	// each (provider, format) seals, split by where they are (SealedCount),
	// ordered by provider then format; pairs with no stored version are
	// left out. It reads no value: one aggregate query.
	CountSealed(ctx context.Context) ([]SealedCount, error)

	// ImportSecret stores an imported record (docs/import.md): its
	// timestamps and created_by/updated_by as given, revision 1, r.Sealed as
	// version 1 (created at r.CreatedAt by r.CreatedBy). If a live secret
	// has the name: with replace false it returns (false, nil) and changes
	// nothing; with replace true it overwrites the description, timestamps
	// and *_by, adds r.Sealed as the next version (created at r.UpdatedAt
	// by r.UpdatedBy) pruned to keep versions as UpdateSecret does,
	// increments the revision and returns (true, nil). ErrNoWorkspace if
	// the workspace is missing.
	ImportSecret(ctx context.Context, r Record, replace bool, keep int) (stored bool, err error)

	// Role bindings (docs/auth.md "Roles", docs/api.md §9.7). Principal and role strings
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
	// If principal holds RoleAdmin, roles lacks it and no other principal
	// holds RoleAdmin in ws, it returns ErrLastAdmin and changes nothing.
	// ErrNotFound if ws does not exist.
	SetRoles(ctx context.Context, ws, principal string, roles []string, by *string, at time.Time) error
	// RemoveMember deletes all of principal's roles in ws and returns how
	// many were removed. ErrNotFound if it holds none (or ws is missing);
	// ErrLastAdmin if it holds RoleAdmin and no other principal does.
	RemoveMember(ctx context.Context, ws, principal string) (int, error)
	// Seed creates b once per database: if no seed named key was ever
	// recorded, it records key and inserts b (an identical existing binding
	// is fine) in one transaction and returns true; otherwise it changes
	// nothing and returns false, so a seed removed later stays removed.
	// Seed records stay when their workspace is deleted. ErrNotFound if b's
	// workspace does not exist (nothing is recorded). Safe when several
	// replicas seed at once: exactly one of them returns true.
	Seed(ctx context.Context, key string, b Binding) (bool, error)

	// The audit trail (docs/operations.md, "Audit trail"). Every write
	// method above, when its context carries a PendingAudit draft, inserts
	// the draft's event in its own transaction after its statements
	// succeeded and marks the draft committed once it committed; if the
	// insert fails the write fails and changes nothing. Events are kept
	// exactly as given (an empty ID is filled with NewAuditID(Time)).

	// AppendAudit stores events in one transaction, durable when it
	// returns: the events of reads and of failed writes.
	AppendAudit(ctx context.Context, events []AuditEvent) error
	// ListAudit returns one page of the events matching q, newest first
	// (by id, which orders by time), and how many match.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, int, error)
	// PruneAudit deletes up to limit of the oldest events older than
	// before and returns how many it deleted. Safe when several replicas
	// run it at once.
	PruneAudit(ctx context.Context, before time.Time, limit int) (int, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// VersionKey names one stored version.
type VersionKey struct {
	SecretID int64
	Version  int64
}

// StoredVersion is one version's sealed value and the name it is sealed
// under (its associated data, docs/crypto.md §2), for rotation and restores.
type StoredVersion struct {
	VersionKey
	Workspace string
	Name      string
	Sealed    envelope.Sealed
	Deleted   bool // its secret is in the recycle bin
}

// SealedCount is how many stored versions one provider seals in one
// record format (docs/crypto.md), by where they are: the current version
// of a live secret, an older kept version of a live secret, or a version
// of a secret in the recycle bin.
type SealedCount struct {
	Provider string // "" is the development key
	Format   int
	Current  int
	Kept     int
	Binned   int
}

// Total is the number of stored versions c counts.
func (c SealedCount) Total() int { return c.Current + c.Kept + c.Binned }

// Reseal is a version's new sealed value for ResealVersions and
// RestoreDeleted, guarded by the ciphertext that was read (Old): every
// seal has a fresh DEK and nonce, so a version re-sealed or rewritten in
// between holds another ciphertext, and a write of a re-seal of what was
// read would lose that change.
type Reseal struct {
	VersionKey
	Old    []byte
	Sealed envelope.Sealed
}

// CheckReseals refuses a batch that names a version twice, before a
// backend writes anything: one UPDATE joining the batch (PostgreSQL) would
// apply an arbitrary one of the two, so neither backend accepts it.
func CheckReseals(rs []Reseal) error {
	seen := make(map[VersionKey]struct{}, len(rs))
	for _, r := range rs {
		if _, dup := seen[r.VersionKey]; dup {
			return fmt.Errorf("reseal: version %d of record %d appears twice in one batch", r.Version, r.SecretID)
		}
		seen[r.VersionKey] = struct{}{}
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
	Sort    string // one of SecretSorts; "" is -created_at
	Filter  Filter
}

// Filter narrows a list of secrets or bin entries (docs/lifecycle.md, list
// queries). Every set field must hold; the zero Filter matches everything.
// Patterns are SQL LIKE patterns ('%' any run, '_' one character, '\'
// escapes the next character), compared case-insensitively (ASCII).
type Filter struct {
	Name            *string    // exact name
	NameLike        *string    // pattern on the name
	DescriptionLike *string    // pattern on the description (no description never matches)
	CreatedFrom     *time.Time // created_at >= (inclusive)
	CreatedTo       *time.Time // created_at <= (inclusive)
	UpdatedFrom     *time.Time
	UpdatedTo       *time.Time
	Search          string // "" or a case-insensitive substring of the name or the description
}

// IsZero reports whether f matches everything.
func (f Filter) IsZero() bool { return f == Filter{} }

// SecretSorts are the accepted SecretQuery.Sort and DeletedQuery.Sort
// values; DeletedQuery also takes DeletedSorts.
var SecretSorts = []string{"name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"}

// DeletedSorts are the sorts only the recycle bin has.
var DeletedSorts = []string{"deleted_at", "-deleted_at"}

// VersionQuery selects a page of one secret's versions.
type VersionQuery struct {
	Offset      int
	Limit       int
	Ascending   bool       // oldest first; the default is newest first
	CreatedFrom *time.Time // created_at >= (inclusive); nil: no bound
	CreatedTo   *time.Time // created_at <= (inclusive)
}

// DeletedQuery selects a page of one workspace's recycle bin.
type DeletedQuery struct {
	Offset int
	Limit  int
	Now    time.Time // entries whose PurgeAt is not after Now are invisible
	Sort   string    // one of SecretSorts or DeletedSorts; "" is -deleted_at (ties by name, then id)
	Filter Filter
}

// Version describes one version of a secret; its value is never here.
type Version struct {
	Number    int64
	CreatedAt time.Time
	CreatedBy *string
	Destroyed bool // ciphertext erased (destroyed or pruned)
}

// Deleted is a recycle-bin entry: the secret as it was deleted.
type Deleted struct {
	ID string // the bin id, opaque
	Secret
	DeletedAt time.Time
	DeletedBy *string
	PurgeAt   time.Time
}

// SecretDelete says how DeleteSecret takes a secret out of use.
type SecretDelete struct {
	Cond      Cond
	BinID     string // "" erases the secret at once
	DeletedAt time.Time
	DeletedBy *string
	PurgeAt   time.Time
}

// BinRestore is the input of RestoreDeleted.
type BinRestore struct {
	Name      string   // the new name; "" keeps the old one
	Reseals   []Reseal // every stored version sealed under Name (only with Name)
	UpdatedAt time.Time
	UpdatedBy *string
	Now       time.Time
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
	Sealed      *envelope.Sealed // a new version
	UpdatedAt   time.Time
	UpdatedBy   *string
	Keep        int  // versions to keep when one is added (at least 1)
	Cond        Cond // If-Match
}

// WorkspaceSorts are the accepted WorkspaceQuery.Sort values.
var WorkspaceSorts = []string{"created_at", "-created_at", "updated_at", "-updated_at"}
