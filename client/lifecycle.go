package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Versions, the recycle bin, conditional writes and list queries: Coffer
// additions to the NeMo Platform secrets API (docs/lifecycle.md). A server
// without them answers these calls 404 or 405, or ignores the query
// parameters and headers.

// CallOption changes one request, e.g. IfMatch.
type CallOption func(*callConfig)

// callConfig is what CallOptions set; unexported so options can grow
// without changing CallOption.
type callConfig struct {
	header http.Header
}

// IfMatch makes a write conditional on the secret's entity tag
// (Secret.ETag): if the secret changed since the tag was read, or no longer
// exists, the server changes nothing and the call fails with an error for
// which errors.Is(err, ErrPreconditionFailed) is true. "*" matches any
// existing secret. A tag without its surrounding double quotes is quoted,
// so one a user typed without them still matches; "" never matches.
func IfMatch(etag string) CallOption {
	tag := quoteETag(etag)
	return func(c *callConfig) { c.header.Add("If-Match", tag) }
}

func quoteETag(t string) string {
	if t == "*" || strings.HasPrefix(t, `"`) || strings.HasPrefix(t, `W/"`) {
		return t
	}
	return `"` + t + `"`
}

// ListOptions selects and orders the items of ListSecretsWith and
// ListDeleted. Zero members leave the server's defaults.
type ListOptions struct {
	// Page (from 1) and PageSize (default 10, at most 1,000).
	Page, PageSize int
	// Sort is name, created_at or updated_at, prefixed with "-" for
	// descending; ListDeleted also takes deleted_at. The default is
	// "-created_at" for secrets and "-deleted_at" for the recycle bin.
	Sort string
	// Search keeps the items whose name or description contains it,
	// ignoring case.
	Search string
	// Filter keeps the items that match all of its non-zero members.
	Filter Filter
}

// Filter narrows a list; every non-zero member must hold. The LIKE patterns
// are SQL's: % stands for any run of characters, _ for one, \ makes the
// next character literal, and case is ignored.
type Filter struct {
	Name            string // the exact name
	NameLike        string // a LIKE pattern on the name
	DescriptionLike string // a LIKE pattern on the description
	// Inclusive bounds on created_at and updated_at.
	CreatedFrom, CreatedTo time.Time
	UpdatedFrom, UpdatedTo time.Time
}

// query encodes o in the platform's deepObject style, e.g.
// filter[name][$like]=prod-%.
func (o ListOptions) query() url.Values {
	q := pageQuery(o.Page, o.PageSize)
	setIf(q, "sort", o.Sort)
	setIf(q, "search", o.Search)
	f := o.Filter
	setIf(q, "filter[name]", f.Name)
	setIf(q, "filter[name][$like]", f.NameLike)
	setIf(q, "filter[description][$like]", f.DescriptionLike)
	setTime(q, "filter[created_at][gte]", f.CreatedFrom)
	setTime(q, "filter[created_at][lte]", f.CreatedTo)
	setTime(q, "filter[updated_at][gte]", f.UpdatedFrom)
	setTime(q, "filter[updated_at][lte]", f.UpdatedTo)
	return q
}

func setIf(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}

func setTime(q url.Values, key string, t time.Time) {
	if !t.IsZero() {
		q.Set(key, t.UTC().Format(time.RFC3339Nano))
	}
}

func versionsPath(workspace, name string) string {
	return secretPath(workspace, name) + "/versions"
}

func deletedPath(workspace string) string {
	return pathOf(secretsRoot, workspace) + "/deleted-secrets"
}

// ListVersions returns one page of a secret's versions, newest first by
// default. Zero page or pageSize and an empty sort leave the server's
// defaults (1, 10, "-created_at"); sort is one of created_at, -created_at,
// version, -version (the number is creation order, so the pairs agree).
func (c *Client) ListVersions(ctx context.Context, workspace, name string, page, pageSize int, sort string) (*VersionPage, error) {
	q := pageQuery(page, pageSize)
	setIf(q, "sort", sort)
	var out VersionPage
	err := c.do(ctx, http.MethodGet, versionsPath(workspace, name), q, nil, &out)
	return result(&out, err)
}

// RestoreVersion copies the value of version into a new version, which
// becomes current, and returns the new metadata. The old version stays as
// it was, so a restore can itself be undone. A destroyed or pruned version
// is ErrNotFound.
func (c *Client) RestoreVersion(ctx context.Context, workspace, name string, version int64, opts ...CallOption) (*Secret, error) {
	path := pathOf(versionsPath(workspace, name), strconv.FormatInt(version, 10)) + "/restore"
	return c.secretCall(ctx, request{method: http.MethodPost, path: path, opts: opts})
}

// DestroyVersion erases the value of one version for good; the version
// stays listed as VersionDestroyed. The current version cannot be
// destroyed (ErrConflict): update or delete the secret instead.
func (c *Client) DestroyVersion(ctx context.Context, workspace, name string, version int64, opts ...CallOption) error {
	path := pathOf(versionsPath(workspace, name), strconv.FormatInt(version, 10))
	_, err := c.call(ctx, request{method: http.MethodDelete, path: path, opts: opts})
	return err
}

// ListDeleted returns one page of a workspace's recycle bin, most recently
// deleted first by default.
func (c *Client) ListDeleted(ctx context.Context, workspace string, o ListOptions) (*DeletedPage, error) {
	var out DeletedPage
	err := c.do(ctx, http.MethodGet, deletedPath(workspace), o.query(), nil, &out)
	return result(&out, err)
}

// RestoreDeleted brings a recycle-bin entry back with all its versions,
// under newName or, when newName is "", under its old name. A name that is
// live again is ErrConflict; restore under another name then.
func (c *Client) RestoreDeleted(ctx context.Context, workspace, id, newName string) (*Secret, error) {
	var body any
	if newName != "" {
		body = struct {
			Name string `json:"name"`
		}{newName}
	}
	path := pathOf(deletedPath(workspace), id) + "/restore"
	return c.secretCall(ctx, request{method: http.MethodPost, path: path, in: body})
}

// PurgeDeleted erases a recycle-bin entry and all its versions for good,
// before its PurgeAt.
func (c *Client) PurgeDeleted(ctx context.Context, workspace, id string) error {
	return c.do(ctx, http.MethodDelete, pathOf(deletedPath(workspace), id), nil, nil, nil)
}
