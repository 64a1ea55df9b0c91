// Package client is a Go client for the Coffer secrets service and for any
// NVIDIA NeMo Platform deployment that serves the same secrets and
// workspaces APIs (docs/cli.md, "Go client").
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

// request is one API call. path must already be escaped; out, when not
// nil, receives the decoded 2xx body.
type request struct {
	method, path string
	query        url.Values
	in, out      any
	opts         []CallOption
}

// do sends one API call without per-call options and decodes a successful
// answer into out (unless out is nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	_, err := c.call(ctx, request{method: method, path: path, query: query, in: in, out: out})
	return err
}

// call sends r and returns the response headers of a 2xx answer, which
// carry what the body does not (ETag, Coffer-Secret-Version).
func (c *Client) call(ctx context.Context, r request) (http.Header, error) {
	var body []byte
	if r.in != nil {
		var err error
		if body, err = json.Marshal(r.in); err != nil {
			return nil, fmt.Errorf("client: encoding the %s %s request: %w", r.method, r.path, err)
		}
	}
	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	cfg := callConfig{header: c.header.Clone()}
	for _, opt := range r.opts {
		opt(&cfg)
	}
	resp, err := c.send(ctx, r.method, target, cfg.header, body)
	if err != nil {
		return nil, err
	}
	if resp.status < 200 || resp.status > 299 {
		return nil, newAPIError(resp.status, resp.body)
	}
	if r.out == nil {
		return resp.header, nil
	}
	// The decoder's own message can quote response bytes, which for /access
	// are part of a secret value, so it is not wrapped.
	if json.Unmarshal(resp.body, r.out) != nil {
		return nil, fmt.Errorf("client: %s %s: the server answered %d with a body that is not the expected JSON", r.method, r.path, resp.status)
	}
	return resp.header, nil
}

// response is what send keeps of an answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send performs the request, retrying GETs on connection errors and on 502,
// 503 and 504, which a restarting server or a load balancer produce.
func (c *Client) send(ctx context.Context, method, target string, header http.Header, body []byte) (response, error) {
	attempts := 1
	if method == http.MethodGet {
		attempts = maxGetAttempts
	}
	for try := 1; ; try++ {
		resp, err := c.sendOnce(ctx, method, target, header, body)
		if try == attempts || !retryable(ctx, resp.status, err) {
			return resp, err
		}
		if err := sleep(ctx, time.Duration(try)*c.backoff); err != nil {
			return response{}, err
		}
	}
}

func (c *Client) sendOnce(ctx context.Context, method, target string, header http.Header, body []byte) (response, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return response{}, fmt.Errorf("client: %w", err)
	}
	req.Header = header.Clone()
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("client: reading the %s %s response: %w", method, req.URL.Redacted(), err)
	}
	return response{resp.StatusCode, resp.Header, respBody}, nil
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
