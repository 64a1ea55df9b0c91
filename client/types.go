package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Secret is the metadata of a secret. It never carries the value.
type Secret struct {
	Name        string     `json:"name"`
	Workspace   string     `json:"workspace"`
	Description *string    `json:"description"`
	CreatedAt   *time.Time `json:"created_at"` // nil only for the virtual NGC secret
	UpdatedAt   *time.Time `json:"updated_at"`
	// CurrentVersion is the version /access returns (docs/lifecycle.md);
	// nil for the virtual NGC secret and from servers without versions.
	CurrentVersion *int64 `json:"current_version"`

	// ETag is the entity tag of the secret's state, from the ETag header of
	// a single-secret answer (create, get, update, restore); "" in list
	// items and from servers that send none. Pass it to IfMatch to make a
	// later write fail if someone else changed the secret meanwhile.
	ETag string `json:"-"`

	// Raw is the JSON object the server sent. List items omit null members,
	// single answers include them; Raw keeps that difference.
	Raw json.RawMessage `json:"-"`
}

// SecretValue is the answer of AccessSecret, the only one holding a value.
type SecretValue struct {
	Name      string `json:"name"`
	Workspace string `json:"workspace"`
	Value     string `json:"value"`

	// Version is the number of the version read, from the
	// Coffer-Secret-Version header; 0 from servers without versions.
	Version int64 `json:"-"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// Pagination describes one page of a list answer. TotalPages is 0 for an
// empty collection.
type Pagination struct {
	Page            int `json:"page"`
	PageSize        int `json:"page_size"`
	CurrentPageSize int `json:"current_page_size"`
	TotalPages      int `json:"total_pages"`
	TotalResults    int `json:"total_results"`
}

// SecretPage is one page of ListSecrets.
type SecretPage struct {
	Data       []Secret   `json:"data"`
	Pagination Pagination `json:"pagination"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// FailedSecret names a secret that a key rotation could not re-encrypt.
type FailedSecret struct {
	Workspace string `json:"workspace"`
	Name      string `json:"name"`
	// Version is the version that failed; 0 from servers without versions.
	Version int64  `json:"version"`
	Error   string `json:"error"`
}

// RotationResult is the outcome of RotateEncryptionKeys. Success is false
// when any secret failed; FailedSecrets holds at most the first 1,000.
// The secret counts are per secret whatever its number of versions.
type RotationResult struct {
	RotatedSecrets int            `json:"rotated_secrets"`
	Success        bool           `json:"success"`
	SkippedSecrets int            `json:"skipped_secrets"`
	FailedSecrets  []FailedSecret `json:"failed_secrets"`
	FailedCount    int            `json:"failed_count"`
	// RotatedVersions counts the stored versions re-wrapped and
	// DeletedSecretsRotated the recycle-bin entries; both are 0 from
	// servers without versions.
	RotatedVersions       int `json:"rotated_versions"`
	DeletedSecretsRotated int `json:"deleted_secrets_rotated"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// EncryptionStatus is what a key rotation has left to do: the stored
// versions per provider and record format (a Coffer extension; servers
// without it answer 404).
type EncryptionStatus struct {
	CurrentProvider string `json:"current_provider"`
	// Providers are every configured provider, sorted; "" is the
	// development key.
	Providers []string                 `json:"providers"`
	Records   []EncryptionStatusRecord `json:"records"`
	// TotalVersions counts every stored version, VersionsToRotate those
	// a rotation would re-encrypt and UnreadableVersions those whose
	// provider is not configured.
	TotalVersions      int `json:"total_versions"`
	VersionsToRotate   int `json:"versions_to_rotate"`
	UnreadableVersions int `json:"unreadable_versions"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// EncryptionStatusRecord counts the stored versions one provider seals in
// one record format: current versions of live secrets, their kept older
// versions and the versions of secrets in the recycle bin. UpToDate is
// true for the current provider in format 2 only.
type EncryptionStatusRecord struct {
	Provider           string `json:"provider"`
	Format             int    `json:"format"`
	CurrentVersions    int    `json:"current_versions"`
	KeptVersions       int    `json:"kept_versions"`
	RecycleBinVersions int    `json:"recycle_bin_versions"`
	TotalVersions      int    `json:"total_versions"`
	UpToDate           bool   `json:"up_to_date"`
	ProviderConfigured bool   `json:"provider_configured"`
}

// States of a Version.
const (
	VersionEnabled   = "enabled"   // the value can be read
	VersionDestroyed = "destroyed" // destroyed or pruned: the value is gone for good
)

// Version is one entry of a secret's history. It never carries the value;
// read it with AccessSecretVersion.
type Version struct {
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy is the principal that wrote the version, when auth knew one.
	CreatedBy *string `json:"created_by"`
	// State is VersionEnabled or VersionDestroyed.
	State string `json:"state"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// VersionPage is one page of ListVersions.
type VersionPage struct {
	Data       []Version  `json:"data"`
	Pagination Pagination `json:"pagination"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// DeletedSecret is an entry of a workspace's recycle bin: the metadata of
// a deleted secret that RestoreDeleted can bring back until PurgeAt.
type DeletedSecret struct {
	// ID names the entry; the same Name can be in the bin several times.
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Workspace      string    `json:"workspace"`
	Description    *string   `json:"description"`
	CurrentVersion int64     `json:"current_version"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	DeletedAt      time.Time `json:"deleted_at"`
	DeletedBy      *string   `json:"deleted_by"`
	// PurgeAt is when the entry is erased for good.
	PurgeAt time.Time `json:"purge_at"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// DeletedPage is one page of ListDeleted.
type DeletedPage struct {
	Data       []DeletedSecret `json:"data"`
	Pagination Pagination      `json:"pagination"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// Workspace groups secrets and role bindings.
type Workspace struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description *string   `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   *string   `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   *string   `json:"updated_by"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// WorkspacePage is one page of ListWorkspaces. Sort echoes the order used.
type WorkspacePage struct {
	Data       []Workspace `json:"data"`
	Pagination Pagination  `json:"pagination"`
	Sort       string      `json:"sort"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// Member is a principal with its roles in one workspace.
type Member struct {
	Principal string     `json:"principal"`
	Roles     []string   `json:"roles"`
	GrantedAt *time.Time `json:"granted_at"`
	GrantedBy *string    `json:"granted_by"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// MemberList is every member of a workspace; it is not paginated.
type MemberList struct {
	Data []Member `json:"data"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// DeleteResult answers the deletion of a workspace or of a member.
type DeleteResult struct {
	Message      string `json:"message"`
	ID           string `json:"id"`
	DeletedCount int    `json:"deleted_count"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a Secret, accepting the reference service's
// zone-less timestamps as UTC, and keeps the input in Raw.
func (s *Secret) UnmarshalJSON(b []byte) error {
	type plain Secret
	var w struct {
		plain
		CreatedAt *timestamp `json:"created_at"`
		UpdatedAt *timestamp `json:"updated_at"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Secret(w.plain)
	s.CreatedAt, s.UpdatedAt = w.CreatedAt.ptr(), w.UpdatedAt.ptr()
	s.Raw = bytes.Clone(b)
	return nil
}

// UnmarshalJSON decodes a Workspace like Secret.UnmarshalJSON does.
func (ws *Workspace) UnmarshalJSON(b []byte) error {
	type plain Workspace
	var w struct {
		plain
		CreatedAt timestamp `json:"created_at"`
		UpdatedAt timestamp `json:"updated_at"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*ws = Workspace(w.plain)
	ws.CreatedAt, ws.UpdatedAt = time.Time(w.CreatedAt), time.Time(w.UpdatedAt)
	ws.Raw = bytes.Clone(b)
	return nil
}

// UnmarshalJSON decodes a Member like Secret.UnmarshalJSON does.
func (m *Member) UnmarshalJSON(b []byte) error {
	type plain Member
	var w struct {
		plain
		GrantedAt *timestamp `json:"granted_at"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = Member(w.plain)
	m.GrantedAt = w.GrantedAt.ptr()
	m.Raw = bytes.Clone(b)
	return nil
}

// UnmarshalJSON decodes a Version like Secret.UnmarshalJSON does.
func (v *Version) UnmarshalJSON(b []byte) error {
	type plain Version
	var w struct {
		plain
		CreatedAt timestamp `json:"created_at"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*v = Version(w.plain)
	v.CreatedAt = time.Time(w.CreatedAt)
	v.Raw = bytes.Clone(b)
	return nil
}

// UnmarshalJSON decodes a DeletedSecret like Secret.UnmarshalJSON does.
func (d *DeletedSecret) UnmarshalJSON(b []byte) error {
	type plain DeletedSecret
	var w struct {
		plain
		CreatedAt timestamp `json:"created_at"`
		UpdatedAt timestamp `json:"updated_at"`
		DeletedAt timestamp `json:"deleted_at"`
		PurgeAt   timestamp `json:"purge_at"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = DeletedSecret(w.plain)
	d.CreatedAt, d.UpdatedAt = time.Time(w.CreatedAt), time.Time(w.UpdatedAt)
	d.DeletedAt, d.PurgeAt = time.Time(w.DeletedAt), time.Time(w.PurgeAt)
	d.Raw = bytes.Clone(b)
	return nil
}

// UnmarshalJSON decodes a VersionPage and keeps the input in Raw.
func (p *VersionPage) UnmarshalJSON(b []byte) error {
	type plain VersionPage
	return decodeKeepingRaw(b, (*plain)(p), &p.Raw)
}

// UnmarshalJSON decodes a DeletedPage and keeps the input in Raw.
func (p *DeletedPage) UnmarshalJSON(b []byte) error {
	type plain DeletedPage
	return decodeKeepingRaw(b, (*plain)(p), &p.Raw)
}

// UnmarshalJSON decodes a SecretValue and keeps the input in Raw.
func (v *SecretValue) UnmarshalJSON(b []byte) error {
	type plain SecretValue
	return decodeKeepingRaw(b, (*plain)(v), &v.Raw)
}

// UnmarshalJSON decodes a SecretPage and keeps the input in Raw.
func (p *SecretPage) UnmarshalJSON(b []byte) error {
	type plain SecretPage
	return decodeKeepingRaw(b, (*plain)(p), &p.Raw)
}

// UnmarshalJSON decodes a RotationResult and keeps the input in Raw.
func (r *RotationResult) UnmarshalJSON(b []byte) error {
	type plain RotationResult
	return decodeKeepingRaw(b, (*plain)(r), &r.Raw)
}

// UnmarshalJSON decodes an EncryptionStatus and keeps the input in Raw.
func (st *EncryptionStatus) UnmarshalJSON(b []byte) error {
	type plain EncryptionStatus
	return decodeKeepingRaw(b, (*plain)(st), &st.Raw)
}

// UnmarshalJSON decodes a WorkspacePage and keeps the input in Raw.
func (p *WorkspacePage) UnmarshalJSON(b []byte) error {
	type plain WorkspacePage
	return decodeKeepingRaw(b, (*plain)(p), &p.Raw)
}

// UnmarshalJSON decodes a MemberList and keeps the input in Raw.
func (l *MemberList) UnmarshalJSON(b []byte) error {
	type plain MemberList
	return decodeKeepingRaw(b, (*plain)(l), &l.Raw)
}

// UnmarshalJSON decodes a DeleteResult and keeps the input in Raw.
func (d *DeleteResult) UnmarshalJSON(b []byte) error {
	type plain DeleteResult
	return decodeKeepingRaw(b, (*plain)(d), &d.Raw)
}

// decodeKeepingRaw decodes b into v (a method-less alias of the caller's
// type, so this does not recurse) and stores a copy of b: the decoder reuses
// its buffer.
func decodeKeepingRaw(b []byte, v any, raw *json.RawMessage) error {
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	*raw = bytes.Clone(b)
	return nil
}

// timestamp reads RFC 3339 (Coffer) and zone-less ISO 8601 (the reference
// service), the latter as UTC.
type timestamp time.Time

var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

func (t *timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for _, layout := range timestampLayouts {
		if parsed, err := time.Parse(layout, s); err == nil {
			*t = timestamp(parsed)
			return nil
		}
	}
	return fmt.Errorf("client: unrecognised timestamp %q", s)
}

func (t *timestamp) ptr() *time.Time {
	if t == nil {
		return nil
	}
	v := time.Time(*t)
	return &v
}
