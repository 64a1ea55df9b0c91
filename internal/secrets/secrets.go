// Package secrets is Coffer's domain: workspaces, secrets, their names and
// limits, the storage contract every backend implements, and the use cases
// (Service) that HTTP handlers and the CLI's offline commands call.
//
// It depends on nothing but the standard library and package envelope; HTTP
// and storage adapters depend on it.
package secrets

import (
	"math"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// Secret is the metadata of a secret. Timestamps are zero only for the
// virtual NGC secret.
type Secret struct {
	Name        string
	Workspace   string
	Description *string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	CreatedBy   *string
	UpdatedBy   *string
	// Version is the current version's number: 1 after create, one more
	// per new value. 0 only for the NGC secret, which has no versions.
	Version int64
	// ETag is the entity tag of single-secret answers of the Service
	// (docs/lifecycle.md); stores leave it "".
	ETag string
}

// Record is a stored secret: metadata, the sealed value and the bookkeeping
// rotation needs. ID is internal and never exposed over the API.
type Record struct {
	ID int64
	Secret
	Sealed   envelope.Sealed
	Revision int64
}

// Workspace groups secrets and role bindings.
type Workspace struct {
	ID          string
	Name        string
	Description *string
	CreatedAt   time.Time
	CreatedBy   *string
	UpdatedAt   time.Time
	UpdatedBy   *string
}

// Page describes one page of a list answer.
type Page struct {
	Page         int
	PageSize     int
	TotalResults int
}

// TotalPages is ceil(total/size): 0 for an empty collection.
func (p Page) TotalPages() int {
	if p.PageSize <= 0 {
		return 0
	}
	return (p.TotalResults + p.PageSize - 1) / p.PageSize
}

// Offset is the number of items before this page.
// It saturates instead of overflowing for absurd page numbers, which then
// simply return an empty page.
func (p Page) Offset() int {
	if p.PageSize > 0 && p.Page-1 > math.MaxInt/p.PageSize {
		return math.MaxInt
	}
	return (p.Page - 1) * p.PageSize
}

// Now returns the current time in UTC truncated to microseconds, the precision
// both backends store, so that a create answers exactly what later reads do.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Built-in workspaces, created at first start and never deletable.
const (
	DefaultWorkspace = "default"
	SystemWorkspace  = "system"
)

// BuiltinWorkspaces lists the workspaces created before the listener opens,
// with their descriptions (docs/api.md §9.1).
var BuiltinWorkspaces = []struct{ Name, Description string }{
	{DefaultWorkspace, "General-purpose workspace (all users have write access)"},
	{SystemWorkspace, "Platform-provided resources (read-only for users)"},
}

// IsBuiltin reports whether the workspace can never be deleted.
func IsBuiltin(name string) bool { return name == DefaultWorkspace || name == SystemWorkspace }
