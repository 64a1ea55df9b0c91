package secrets

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// The audit trail (docs/operations.md, "Audit trail"): who did what to which
// secret or workspace, when, and how it ended. Events are rows in the same
// database as the secrets, so every replica writes to and reads from one
// trail, and a write's event commits in the write's own transaction.
//
// An event never holds a value, a token, a key or a request body: its
// fields are names, ids and outcomes only.

// Audit actions.
const (
	ActionSecretCreate    = "secret.create"
	ActionSecretUpdate    = "secret.update"
	ActionSecretDelete    = "secret.delete"
	ActionSecretAccess    = "secret.access"
	ActionSecretRestore   = "secret.restore"
	ActionVersionDestroy  = "secret.version.destroy"
	ActionSecretPurge     = "secret.purge"
	ActionSecretList      = "secret.list"
	ActionSecretRead      = "secret.read"
	ActionWorkspaceCreate = "workspace.create"
	ActionWorkspaceUpdate = "workspace.update"
	ActionWorkspaceDelete = "workspace.delete"
	ActionMemberAdd       = "member.add"
	ActionMemberSet       = "member.set"
	ActionMemberRemove    = "member.remove"
	ActionKeysRotate      = "keys.rotate"
)

// AuditActions lists every action, for validating a filter.
var AuditActions = []string{
	ActionSecretCreate, ActionSecretUpdate, ActionSecretDelete, ActionSecretAccess, ActionSecretRestore,
	ActionVersionDestroy, ActionSecretPurge, ActionSecretList, ActionSecretRead, ActionWorkspaceCreate,
	ActionWorkspaceUpdate, ActionWorkspaceDelete, ActionMemberAdd, ActionMemberSet, ActionMemberRemove,
	ActionKeysRotate,
}

// Audit outcomes.
const (
	OutcomeSuccess  = "success"
	OutcomeDenied   = "denied"
	OutcomeNotFound = "not_found"
	OutcomeConflict = "conflict"
	OutcomeInvalid  = "invalid"
	OutcomeError    = "error"
)

// AuditOutcomes lists every outcome, for validating a filter.
var AuditOutcomes = []string{OutcomeSuccess, OutcomeDenied, OutcomeNotFound, OutcomeConflict, OutcomeInvalid, OutcomeError}

// OutcomeOf classifies an HTTP status as an audit outcome.
func OutcomeOf(status int) string {
	switch {
	case status < 400:
		return OutcomeSuccess
	case status == 401 || status == 403:
		return OutcomeDenied
	case status == 404:
		return OutcomeNotFound
	case status == 409 || status == 412:
		return OutcomeConflict
	case status < 500:
		return OutcomeInvalid
	}
	return OutcomeError
}

// MaxUserAgent bounds the user agent an event keeps, in bytes.
const MaxUserAgent = 256

// AuditEvent is one entry of the trail. Empty strings and a zero Version
// mean "does not apply" (a workspace-level action has no Secret).
type AuditEvent struct {
	ID         string    // opaque; ordering ids orders events by time
	Time       time.Time // microseconds, UTC
	Action     string
	Outcome    string
	Status     int // the HTTP status answered
	Workspace  string
	Secret     string
	Version    int64
	Principal  string
	OnBehalfOf string
	AuthMethod string // header, jwt or none
	RequestID  string
	RemoteAddr string
	UserAgent  string
}

// NewAuditID returns an event id for time t: the microseconds since the
// epoch and 64 random bits, in hex, so ids sort by time (ties in one
// microsecond in random order) and never collide across replicas.
func NewAuditID(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMicro()))
	binary.BigEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// TruncateUserAgent cuts ua to MaxUserAgent bytes without splitting a
// UTF-8 sequence.
func TruncateUserAgent(ua string) string {
	if len(ua) <= MaxUserAgent {
		return ua
	}
	cut := MaxUserAgent
	for cut > 0 && ua[cut]&0xc0 == 0x80 {
		cut--
	}
	return ua[:cut]
}

// AuditQuery selects a page of events, newest first (time, then id,
// descending). Every set field must hold.
type AuditQuery struct {
	Offset    int
	Limit     int
	Workspace string // "" for every workspace
	Secret    string
	Principal string
	Action    string
	Outcome   string
	From      *time.Time // time >= (inclusive)
	To        *time.Time // time <= (inclusive)
}

// AuditDraft is the event of a write, handed to the store through the
// context (WithAuditDraft) rather than as a parameter of every write
// method: the store's one write path (every backend has one) inserts it in
// the write's transaction, after the write's statements succeeded, so the
// change and its event commit together or not at all. The caller fills
// every field but Version, which the write sets when it creates a version
// (SetAuditVersion); the store records Outcome and Status as given (the
// success the caller will answer).
//
// A draft is inserted at most once: the first write of the context that
// commits takes it (Committed then reports true), so a failed write leaves
// it for the caller to record as a failure (AppendAudit).
type AuditDraft struct {
	Event     AuditEvent
	committed bool
}

// Committed reports whether the draft was stored with a committed write.
// Read it only after the write returned.
func (d *AuditDraft) Committed() bool { return d.committed }

// MarkCommitted is called by a store once the write holding the draft has
// committed.
func (d *AuditDraft) MarkCommitted() { d.committed = true }

type auditDraftKey struct{}

// WithAuditDraft returns ctx carrying d for the next write.
func WithAuditDraft(ctx context.Context, d *AuditDraft) context.Context {
	return context.WithValue(ctx, auditDraftKey{}, d)
}

// PendingAudit returns the draft a write of ctx must store with its change,
// or nil when there is none or it is already stored.
func PendingAudit(ctx context.Context) *AuditDraft {
	d, _ := ctx.Value(auditDraftKey{}).(*AuditDraft)
	if d == nil || d.committed {
		return nil
	}
	return d
}

// SetAuditVersion records, inside a write, the version it created in the
// pending draft, if any.
func SetAuditVersion(ctx context.Context, v int64) {
	if d := PendingAudit(ctx); d != nil {
		d.Event.Version = v
	}
}

// AuditIDFloor is the smallest id of an event at or after t: the fixed-width
// hex of t's microseconds NewAuditID starts with. Stores turn time bounds
// into id bounds with it.
func AuditIDFloor(t time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(max(t.UnixMicro(), 0)))
	return hex.EncodeToString(b[:])
}

// ListAudit returns one page of the events q selects (q.Offset and q.Limit
// are set from page and pageSize), newest first.
func (s *Service) ListAudit(ctx context.Context, q AuditQuery, page, pageSize int) ([]AuditEvent, Page, error) {
	p := Page{Page: page, PageSize: pageSize}
	q.Offset, q.Limit = p.Offset(), pageSize
	items, total, err := s.store.ListAudit(ctx, q)
	if err != nil {
		return nil, p, internal(MsgUnexpected, err)
	}
	p.TotalResults = total
	return items, p, nil
}
