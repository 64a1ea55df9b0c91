// Package reqid carries a request's id (the X-Request-Id header) through a
// context, so log lines and audit events of one request can be joined.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/base32"
)

// Header is the HTTP header that carries the id in both directions.
const Header = "X-Request-Id"

// maxLen bounds an id a client may choose (docs/operations.md, "Request ids").
const maxLen = 128

type ctxKey struct{}

// idContext carries an id. It is one allocation where context.WithValue
// with a string costs two (the context and the boxed string), and it holds
// the id as a one-element slice that WithHeader hands out as the header's
// value: this runs for every request.
type idContext struct {
	context.Context
	id [1]string
}

// Value returns the idContext itself for ctxKey, so reading it boxes
// nothing; other keys go to the parent.
func (c *idContext) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return &idContext{Context: ctx, id: [1]string{id}}
}

// WithHeader returns ctx carrying id and id as a header value
// ([]string{id}) sharing the context's allocation. The caller must not
// modify the slice.
func WithHeader(ctx context.Context, id string) (context.Context, []string) {
	c := &idContext{Context: ctx, id: [1]string{id}}
	return c, c.id[:]
}

// From returns the id ctx carries, or "".
func From(ctx context.Context) string {
	if c, ok := ctx.Value(ctxKey{}).(*idContext); ok {
		return c.id[0]
	}
	return ""
}

// Valid reports whether a client-sent id may be kept: 1–128 characters of
// [A-Za-z0-9._-]. Anything else is replaced, so an id can never smuggle
// markup or line breaks into logs or the audit trail.
func Valid(id string) bool {
	if id == "" || len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

var encoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// New returns a fresh random id (26 characters, 128 bits). It runs for
// every request that brings no id, so it encodes on the stack and allocates
// only the string.
func New() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	var out [26]byte
	encoding.Encode(out[:], b[:])
	return string(out[:])
}

// Ensure returns the client's id when Valid, else a new one.
func Ensure(client string) string {
	if Valid(client) {
		return client
	}
	return New()
}
