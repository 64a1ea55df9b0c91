package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// logRecord is one captured log line.
type logRecord struct {
	Level   slog.Level
	Message string
	Attrs   string
}

// capture is a slog handler that keeps every record, so tests can check
// exact messages and that no key material was logged.
type capture struct {
	mu      sync.Mutex
	records []logRecord
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, "%s=%v ", a.Key, a.Value.Resolve())
		return true
	})
	c.mu.Lock()
	c.records = append(c.records, logRecord{r.Level, r.Message, b.String()})
	c.mu.Unlock()
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }

func newCapture() (*capture, *slog.Logger) {
	c := &capture{}
	return c, slog.New(c)
}

// at returns the messages logged at level.
func (c *capture) at(level slog.Level) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.records {
		if r.Level == level {
			out = append(out, r.Message)
		}
	}
	return out
}

func (c *capture) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, r := range c.records {
		fmt.Fprintf(&b, "%s %s %s\n", r.Level, r.Message, r.Attrs)
	}
	return b.String()
}

// keyB64 is a valid 32-byte key; seqKey(n) gives distinct keys per n.
func seqKey(n byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i) + n
	}
	return k
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// assertNoKey fails when s contains the key in base64, hex or raw form.
func assertNoKey(t *testing.T, what, s string, key []byte) {
	t.Helper()
	for _, form := range []string{b64(key), b64(key)[:16], hex.EncodeToString(key)[:16], string(key[:8])} {
		if strings.Contains(s, form) {
			t.Errorf("%s contains key material: %q", what, s)
			return
		}
	}
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func keyOf(t *testing.T, k *SecretKey) []byte {
	t.Helper()
	if k == nil {
		t.Fatal("nil key")
	}
	return bytes.Clone(k.key)
}
