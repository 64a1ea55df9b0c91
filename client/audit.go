package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// The audit trail (docs/operations.md, "Audit trail"): a Coffer addition.

// AuditEvent is one entry of the trail. It never holds a value, a token
// or a request body.
type AuditEvent struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Action     string    `json:"action"`  // e.g. secret.access, secret.update
	Outcome    string    `json:"outcome"` // success, denied, not_found, conflict, invalid or error
	Status     int       `json:"status"`
	Workspace  string    `json:"workspace,omitempty"`
	Secret     string    `json:"secret,omitempty"`
	Version    int64     `json:"version,omitempty"`
	Principal  string    `json:"principal,omitempty"`
	OnBehalfOf string    `json:"on_behalf_of,omitempty"`
	AuthMethod string    `json:"auth_method,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	RemoteAddr string    `json:"remote_addr,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes an AuditEvent and keeps the input in Raw.
func (e *AuditEvent) UnmarshalJSON(b []byte) error {
	type plain AuditEvent
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	e.Raw = bytes.Clone(b)
	return nil
}

// AuditPage is one page of ListAudit, newest first.
type AuditPage struct {
	Data       []AuditEvent `json:"data"`
	Pagination Pagination   `json:"pagination"`

	// Raw is the JSON object the server sent.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes an AuditPage and keeps the input in Raw.
func (p *AuditPage) UnmarshalJSON(b []byte) error {
	type plain AuditPage
	return decodeKeepingRaw(b, (*plain)(p), &p.Raw)
}

// AuditQuery selects events; zero members select everything.
type AuditQuery struct {
	Page, PageSize int
	// Workspace "" asks for every workspace's events (PlatformAdmin only).
	Workspace string
	Secret    string
	Principal string
	Action    string
	Outcome   string
	// Inclusive bounds on the event time.
	From, To time.Time
}

// ListAudit returns one page of audit events, newest first: of
// q.Workspace (its Admins may read it), or of every workspace when
// q.Workspace is "".
func (c *Client) ListAudit(ctx context.Context, q AuditQuery) (*AuditPage, error) {
	v := pageQuery(q.Page, q.PageSize)
	path := "/apis/secrets/v2/audit"
	if q.Workspace != "" {
		path = pathOf(secretsRoot, q.Workspace) + "/audit"
	}
	setIf(v, "filter[secret]", q.Secret)
	setIf(v, "filter[principal]", q.Principal)
	setIf(v, "filter[action]", q.Action)
	setIf(v, "filter[outcome]", q.Outcome)
	setTime(v, "filter[time][gte]", q.From)
	setTime(v, "filter[time][lte]", q.To)
	var out AuditPage
	err := c.do(ctx, http.MethodGet, path, v, nil, &out)
	return result(&out, err)
}
