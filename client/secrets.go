package client

import (
	"context"
	"fmt"
	"net/http"
)

const (
	secretsRoot  = "/apis/secrets/v2/workspaces"
	rotationPath = "/apis/secrets/v2/rotate-encryption-keys"
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
	return fmt.Sprintf("client.SecretValue{Name:%q, Workspace:%q, Value:<redacted>}", v.Name, v.Workspace)
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
	var out Secret
	err := c.do(ctx, http.MethodPost, pathOf(secretsRoot, workspace)+"/secrets", nil, in, &out)
	return result(&out, err)
}

// GetSecret returns the metadata of one secret.
func (c *Client) GetSecret(ctx context.Context, workspace, name string) (*Secret, error) {
	var out Secret
	err := c.do(ctx, http.MethodGet, secretPath(workspace, name), nil, nil, &out)
	return result(&out, err)
}

// ListSecrets returns one page of a workspace's secrets, newest first. A
// page or pageSize of 0 leaves the server's default (1 and 10).
func (c *Client) ListSecrets(ctx context.Context, workspace string, page, pageSize int) (*SecretPage, error) {
	var out SecretPage
	err := c.do(ctx, http.MethodGet, pathOf(secretsRoot, workspace)+"/secrets", pageQuery(page, pageSize), nil, &out)
	return result(&out, err)
}

// UpdateSecret changes the members of upd that are not nil.
func (c *Client) UpdateSecret(ctx context.Context, workspace, name string, upd SecretUpdate) (*Secret, error) {
	var out Secret
	err := c.do(ctx, http.MethodPatch, secretPath(workspace, name), nil, upd, &out)
	return result(&out, err)
}

// DeleteSecret removes a secret; its name can be reused at once.
func (c *Client) DeleteSecret(ctx context.Context, workspace, name string) error {
	return c.do(ctx, http.MethodDelete, secretPath(workspace, name), nil, nil, nil)
}

// AccessSecret returns the decrypted value of a secret. With auth enabled
// only service principals may call it (see WithHeader).
func (c *Client) AccessSecret(ctx context.Context, workspace, name string) (*SecretValue, error) {
	var out SecretValue
	err := c.do(ctx, http.MethodGet, secretPath(workspace, name)+"/access", nil, nil, &out)
	return result(&out, err)
}

// RotateEncryptionKeys re-encrypts every secret that is not under the
// current key provider and format. It runs to completion before answering
// and is never retried (it is a POST); re-running it is safe.
func (c *Client) RotateEncryptionKeys(ctx context.Context) (*RotationResult, error) {
	var out RotationResult
	err := c.do(ctx, http.MethodPost, rotationPath, nil, nil, &out)
	return result(&out, err)
}

// result drops the half-filled value when the call failed.
func result[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}
