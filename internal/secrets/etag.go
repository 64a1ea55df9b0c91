package secrets

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// ETag returns the strong entity tag of a secret's state (docs/lifecycle.md,
// conditional requests). The revision changes with every change a client can
// see (value, description, a destroyed version, a restore), and the internal
// id with a delete and re-create, so the tag changes exactly then; it is the
// same on every replica because it depends on stored data only. The id and
// revision are hashed so the tag stays opaque.
func ETag(id, revision int64) string {
	var buf [40]byte
	b := append(buf[:0], "coffer-etag:"...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, revision, 10)
	sum := sha256.Sum256(b)
	// Quoted on the stack: every get answers with the tag, so one
	// allocation (the string) instead of two.
	var q [2 + 2*12]byte
	q[0], q[len(q)-1] = '"', '"'
	hex.Encode(q[1:len(q)-1], sum[:12])
	return string(q[:])
}

// Cond is a write's If-Match precondition; the zero value imposes none.
type Cond struct {
	Set  bool     // an If-Match header was sent
	Any  bool     // If-Match: * (any existing secret)
	Tags []string // the entity tags listed, as sent (quoted; W/ tags never match)
}

// ParseIfMatch turns If-Match header values into a Cond (RFC 9110 §13.1.1).
// No values means no condition.
func ParseIfMatch(values []string) Cond {
	if len(values) == 0 {
		return Cond{}
	}
	c := Cond{Set: true}
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			switch t = strings.TrimSpace(t); t {
			case "":
			case "*":
				c.Any = true
			default:
				c.Tags = append(c.Tags, t)
			}
		}
	}
	return c
}

// Holds reports whether a write may go ahead on a secret in the given
// state: always without a condition; otherwise only on an existing secret
// whose tag is listed (or any with *). Comparison is strong: a weak tag
// never matches.
func (c Cond) Holds(exists bool, id, revision int64) bool {
	if !c.Set {
		return true
	}
	if !exists {
		return false
	}
	if c.Any {
		return true
	}
	tag := ETag(id, revision)
	for _, t := range c.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// MatchesNone reports whether an If-None-Match header's values match tag
// (weak comparison, RFC 9110 §13.1.2), so a GET can answer 304.
func MatchesNone(values []string, tag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == tag {
				return true
			}
		}
	}
	return false
}
