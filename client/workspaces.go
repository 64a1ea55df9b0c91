package client

import (
	"context"
	"encoding/json"
	"net/http"
)

const workspacesRoot = "/apis/entities/v2/workspaces"

// WorkspaceCreate is the body of CreateWorkspace.
type WorkspaceCreate struct {
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
}

// WorkspaceUpdate is the body of UpdateWorkspace; a nil Description leaves
// it unchanged.
type WorkspaceUpdate struct {
	Description *string `json:"description,omitempty"`
}

// MemberCreate is the body of AddMember. A nil Roles is not sent, so the
// server grants its default (Editor); an empty non-nil Roles grants nothing.
type MemberCreate struct {
	Principal string   `json:"principal"`
	Roles     []string `json:"roles"`
}

// MarshalJSON leaves out a nil Roles, which encoding/json's omitempty cannot
// tell apart from an empty list.
func (m MemberCreate) MarshalJSON() ([]byte, error) {
	if m.Roles == nil {
		return json.Marshal(struct {
			Principal string `json:"principal"`
		}{m.Principal})
	}
	type plain MemberCreate
	return json.Marshal(plain(m))
}

// CreateWorkspace creates a workspace; with auth enabled the caller becomes
// its Admin.
func (c *Client) CreateWorkspace(ctx context.Context, in WorkspaceCreate) (*Workspace, error) {
	var out Workspace
	err := c.do(ctx, http.MethodPost, workspacesRoot, nil, in, &out)
	return result(&out, err)
}

// GetWorkspace returns one workspace.
func (c *Client) GetWorkspace(ctx context.Context, name string) (*Workspace, error) {
	var out Workspace
	err := c.do(ctx, http.MethodGet, pathOf(workspacesRoot, name), nil, nil, &out)
	return result(&out, err)
}

// ListWorkspaces returns one page of the workspaces the caller may see.
// Zero page or pageSize and an empty sort leave the server's defaults (1,
// 100, "-created_at"); sort is one of created_at, -created_at, updated_at,
// -updated_at.
func (c *Client) ListWorkspaces(ctx context.Context, page, pageSize int, sort string) (*WorkspacePage, error) {
	q := pageQuery(page, pageSize)
	if sort != "" {
		q.Set("sort", sort)
	}
	var out WorkspacePage
	err := c.do(ctx, http.MethodGet, workspacesRoot, q, nil, &out)
	return result(&out, err)
}

// UpdateWorkspace replaces the description when upd.Description is not nil;
// updated_at changes in any case.
func (c *Client) UpdateWorkspace(ctx context.Context, name string, upd WorkspaceUpdate) (*Workspace, error) {
	var out Workspace
	err := c.do(ctx, http.MethodPut, pathOf(workspacesRoot, name), nil, upd, &out)
	return result(&out, err)
}

// DeleteWorkspace deletes a workspace with all its secrets and role
// bindings.
func (c *Client) DeleteWorkspace(ctx context.Context, name string) (*DeleteResult, error) {
	var out DeleteResult
	err := c.do(ctx, http.MethodDelete, pathOf(workspacesRoot, name), nil, nil, &out)
	return result(&out, err)
}

func membersPath(workspace string) string {
	return pathOf(workspacesRoot, workspace) + "/members"
}

// ListMembers returns every principal holding a role in workspace.
func (c *Client) ListMembers(ctx context.Context, workspace string) (*MemberList, error) {
	var out MemberList
	err := c.do(ctx, http.MethodGet, membersPath(workspace), nil, nil, &out)
	return result(&out, err)
}

// AddMember grants the listed roles the principal lacks; existing roles are
// kept.
func (c *Client) AddMember(ctx context.Context, workspace string, in MemberCreate) (*Member, error) {
	var out Member
	err := c.do(ctx, http.MethodPost, membersPath(workspace), nil, in, &out)
	return result(&out, err)
}

// SetMember makes the principal's roles exactly roles (nil means none).
func (c *Client) SetMember(ctx context.Context, workspace, principal string, roles []string) (*Member, error) {
	if roles == nil {
		roles = []string{}
	}
	body := struct {
		Roles []string `json:"roles"`
	}{roles}
	var out Member
	err := c.do(ctx, http.MethodPut, pathOf(membersPath(workspace), principal), nil, body, &out)
	return result(&out, err)
}

// RemoveMember removes all of the principal's roles in workspace.
func (c *Client) RemoveMember(ctx context.Context, workspace, principal string) (*DeleteResult, error) {
	var out DeleteResult
	err := c.do(ctx, http.MethodDelete, pathOf(membersPath(workspace), principal), nil, nil, &out)
	return result(&out, err)
}
