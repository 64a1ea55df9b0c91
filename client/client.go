// Package client is a Go client for the Coffer secrets service and for any
// NVIDIA NeMo Platform deployment that serves the same secrets and
// workspaces APIs (see docs/api.md, the wire contract).
//
// Every method takes a context, sends one request (GET requests are retried
// on transient failures) and returns the decoded response. Each decoded
// response type keeps the exact JSON the server sent in its Raw field, so a
// caller can forward or print the body without re-encoding it.
//
// Errors answered by the server are *APIError values; transport failures are
// returned as they come from net/http. No error built by this package ever
// contains a secret value.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxGetAttempts is one try plus the two retries the platform CLI and SDK make.
const maxGetAttempts = 3

// Client talks to one Coffer (or NeMo Platform) base URL. It is safe for
// concurrent use once built.
type Client struct {
	baseURL string
	http    *http.Client
	header  http.Header
	backoff time.Duration
}

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient replaces http.DefaultClient, e.g. to set timeouts, TLS or a
// proxy.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithBearerToken sends "Authorization: Bearer <token>" on every request; an
// empty token sends nothing.
func WithBearerToken(token string) Option {
	return func(c *Client) {
		if token != "" {
			c.header.Set("Authorization", "Bearer "+token)
		}
	}
}

// WithHeader sets an extra header on every request, e.g. X-NMP-Principal-Id
// for a platform service calling from a trusted network.
func WithHeader(key, value string) Option {
	return func(c *Client) { c.header.Set(key, value) }
}

// New returns a client for baseURL, e.g. "http://localhost:8080". A path in
// baseURL (a deployment behind a prefix) is kept; a trailing slash is not.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		baseURL: strings.TrimRight(baseURL, "/"),
		http:    http.DefaultClient,
		header:  http.Header{},
		backoff: 200 * time.Millisecond,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// do sends one API call and decodes a successful answer into out (unless
// out is nil). path must already be escaped.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("client: encoding the %s %s request: %w", method, path, err)
		}
	}
	target := c.baseURL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	status, respBody, err := c.send(ctx, method, target, body)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return newAPIError(status, respBody)
	}
	if out == nil {
		return nil
	}
	// The decoder's own message can quote response bytes, which for /access
	// are part of a secret value, so it is not wrapped.
	if json.Unmarshal(respBody, out) != nil {
		return fmt.Errorf("client: %s %s: the server answered %d with a body that is not the expected JSON", method, path, status)
	}
	return nil
}

// send performs the request, retrying GETs on connection errors and on 502,
// 503 and 504, which a restarting server or a load balancer produce.
func (c *Client) send(ctx context.Context, method, target string, body []byte) (int, []byte, error) {
	attempts := 1
	if method == http.MethodGet {
		attempts = maxGetAttempts
	}
	for try := 1; ; try++ {
		status, respBody, err := c.sendOnce(ctx, method, target, body)
		if try == attempts || !retryable(ctx, status, err) {
			return status, respBody, err
		}
		if err := sleep(ctx, time.Duration(try)*c.backoff); err != nil {
			return 0, nil, err
		}
	}
}

func (c *Client) sendOnce(ctx context.Context, method, target string, body []byte) (int, []byte, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return 0, nil, fmt.Errorf("client: %w", err)
	}
	req.Header = c.header.Clone()
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("client: reading the %s %s response: %w", method, req.URL.Redacted(), err)
	}
	return resp.StatusCode, respBody, nil
}

func retryable(ctx context.Context, status int, err error) bool {
	if err != nil {
		// A cancelled or expired context is the caller's decision, not a
		// transient failure.
		return ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pathOf joins escaped segments, so that names containing "/", "?", "%" or
// spaces reach the server as one path segment each.
func pathOf(prefix string, segments ...string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// pageQuery encodes the list parameters; zero values are left to the server's
// defaults.
func pageQuery(page, pageSize int) url.Values {
	q := url.Values{}
	if page > 0 {
		q.Set("page", fmt.Sprint(page))
	}
	if pageSize > 0 {
		q.Set("page_size", fmt.Sprint(pageSize))
	}
	return q
}
