package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

const (
	secretsRoot  = "/apis/secrets/v2/workspaces"
	rotationPath = "/apis/secrets/v2/rotate-encryption-keys"
	statusPath   = "/apis/secrets/v2/encryption-status"

	// versionHeader names the version an /access answer holds.
	versionHeader = "Coffer-Secret-Version"
)

// SecretCreate is the body of CreateSecret.
type SecretCreate struct {
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
	Value       string  `json:"value"`
}

// SecretUpdate is the body of UpdateSecret: nil members are not sent and
// stay unchanged on the server. An empty SecretUpdate sends {}, which only
// touches updated_at.
type SecretUpdate struct {
	Description *string `json:"description,omitempty"`
	Value       *string `json:"value,omitempty"`
}

// String keeps the value out of %v output, e.g. in logs and test failures.
func (u SecretCreate) String() string {
	return fmt.Sprintf("client.SecretCreate{Name:%q, Value:<redacted>}", u.Name)
}

// GoString keeps the value out of %#v output.
func (u SecretCreate) GoString() string { return u.String() }

// String keeps the value out of %v output, e.g. in logs and test failures.
func (u SecretUpdate) String() string {
	return fmt.Sprintf("client.SecretUpdate{Description:%s, Value:%s}", present(u.Description), present(u.Value))
}

// GoString keeps the value out of %#v output.
func (u SecretUpdate) GoString() string { return u.String() }

// String keeps the value out of %v output, e.g. in logs and test failures.
func (v SecretValue) String() string {
	return fmt.Sprintf("client.SecretValue{Name:%q, Workspace:%q, Version:%d, Value:<redacted>}", v.Name, v.Workspace, v.Version)
}

// GoString keeps the value out of %#v output.
func (v SecretValue) GoString() string { return v.String() }

func present(s *string) string {
	if s == nil {
		return "nil"
	}
	return "<redacted>"
}

func secretPath(workspace, name string) string {
	return pathOf(secretsRoot, workspace) + pathOf("/secrets", name)
}

// CreateSecret stores a new secret in workspace and returns its metadata.
func (c *Client) CreateSecret(ctx context.Context, workspace string, in SecretCreate) (*Secret, error) {
	return c.secretCall(ctx, request{method: http.MethodPost, path: pathOf(secretsRoot, workspace) + "/secrets", in: in})
}

// GetSecret returns the metadata of one secret.
func (c *Client) GetSecret(ctx context.Context, workspace, name string) (*Secret, error) {
	return c.secretCall(ctx, request{method: http.MethodGet, path: secretPath(workspace, name)})
}

// ListSecrets returns one page of a workspace's secrets, newest first. A
// page or pageSize of 0 leaves the server's default (1 and 10). It is
// ListSecretsWith with only Page and PageSize.
func (c *Client) ListSecrets(ctx context.Context, workspace string, page, pageSize int) (*SecretPage, error) {
	return c.ListSecretsWith(ctx, workspace, ListOptions{Page: page, PageSize: pageSize})
}

// ListSecretsWith returns one page of a workspace's secrets, sorted,
// filtered and searched as o says.
func (c *Client) ListSecretsWith(ctx context.Context, workspace string, o ListOptions) (*SecretPage, error) {
	var out SecretPage
	err := c.do(ctx, http.MethodGet, pathOf(secretsRoot, workspace)+"/secrets", o.query(), nil, &out)
	return result(&out, err)
}

// UpdateSecret changes the members of upd that are not nil. It is
// UpdateSecretWith without options.
func (c *Client) UpdateSecret(ctx context.Context, workspace, name string, upd SecretUpdate) (*Secret, error) {
	return c.UpdateSecretWith(ctx, workspace, name, upd)
}

// UpdateSecretWith is UpdateSecret with per-call options, e.g.
// IfMatch(secret.ETag) to change nothing if the secret changed since it was
// read. A new value makes a new version, which becomes current.
func (c *Client) UpdateSecretWith(ctx context.Context, workspace, name string, upd SecretUpdate, opts ...CallOption) (*Secret, error) {
	return c.secretCall(ctx, request{method: http.MethodPatch, path: secretPath(workspace, name), in: upd, opts: opts})
}

// DeleteSecret removes a secret; its name can be reused at once. A Coffer
// server keeps it in the workspace's recycle bin for a while (ListDeleted).
// It is DeleteSecretWith without options.
func (c *Client) DeleteSecret(ctx context.Context, workspace, name string) error {
	return c.DeleteSecretWith(ctx, workspace, name)
}

// DeleteSecretWith is DeleteSecret with per-call options, e.g. IfMatch.
func (c *Client) DeleteSecretWith(ctx context.Context, workspace, name string, opts ...CallOption) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: secretPath(workspace, name), opts: opts})
	return err
}

// AccessSecret returns the decrypted value of a secret's current version.
// With auth enabled only service principals may call it (see WithHeader).
func (c *Client) AccessSecret(ctx context.Context, workspace, name string) (*SecretValue, error) {
	return c.AccessSecretVersion(ctx, workspace, name, 0)
}

// AccessSecretVersion returns the decrypted value of one version of a
// secret, or of the current version when version is 0; the result's
// Version says which was read. A destroyed or pruned version is
// ErrNotFound.
func (c *Client) AccessSecretVersion(ctx context.Context, workspace, name string, version int64) (*SecretValue, error) {
	var q url.Values
	if version != 0 {
		q = url.Values{"version": {strconv.FormatInt(version, 10)}}
	}
	var out SecretValue
	h, err := c.call(ctx, request{method: http.MethodGet, path: secretPath(workspace, name) + "/access", query: q, out: &out})
	if err != nil {
		return nil, err
	}
	// A server without versions sends no header; 0 says so.
	out.Version, _ = strconv.ParseInt(h.Get(versionHeader), 10, 64)
	return &out, nil
}

// RotateEncryptionKeys re-encrypts every secret that is not under the
// current key provider and format. It runs to completion before answering
// and is never retried (it is a POST); re-running it is safe.
func (c *Client) RotateEncryptionKeys(ctx context.Context) (*RotationResult, error) {
	var out RotationResult
	err := c.do(ctx, http.MethodPost, rotationPath, nil, nil, &out)
	return result(&out, err)
}

// EncryptionStatus reads how the stored values are sealed and how many a
// rotation would still re-encrypt (PlatformAdmins only). It decrypts
// nothing, so it is cheap to poll.
func (c *Client) EncryptionStatus(ctx context.Context) (*EncryptionStatus, error) {
	var out EncryptionStatus
	err := c.do(ctx, http.MethodGet, statusPath, nil, nil, &out)
	return result(&out, err)
}

// secretCall sends r, whose answer is one secret's metadata, and keeps the
// entity tag the server sent with it.
func (c *Client) secretCall(ctx context.Context, r request) (*Secret, error) {
	var out Secret
	r.out = &out
	h, err := c.call(ctx, r)
	if err != nil {
		return nil, err
	}
	out.ETag = h.Get("ETag")
	return &out, nil
}

// result drops the half-filled value when the call failed.
func result[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}
