package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/sqlite"
)

// brokenFile is a sink whose disk is gone: every write fails. (A fake of
// the file system, which cannot be made to fail on demand here.)
type brokenFile struct{ mu sync.Mutex }

func (b *brokenFile) Write(p []byte) (int, error) { return 0, errors.New("no space left on device") }

// blockedFile is a sink that never returns from Write until released.
type blockedFile struct{ release chan struct{} }

func (b *blockedFile) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

// lockedBuffer is a sink that keeps what it was given.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func openAuditStore(t *testing.T) secrets.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "coffer.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func event(action string) secrets.AuditEvent {
	now := secrets.Now()
	return secrets.AuditEvent{Time: now, Action: action, Outcome: secrets.OutcomeSuccess, Status: 200, Workspace: "default"}
}

// TestAuditLogSinkFailuresNeverBlock: events are stored although the sink
// fails or hangs; sink failures are counted.
func TestAuditLogSinkFailuresNeverBlock(t *testing.T) {
	for name, sink := range map[string]interface{ Write([]byte) (int, error) }{
		"failing": &brokenFile{},
		"hanging": &blockedFile{release: make(chan struct{})},
	} {
		t.Run(name, func(t *testing.T) {
			st := openAuditStore(t)
			l := secrets.NewAuditLog(secrets.AuditLogConfig{Store: st, Sink: sink})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			const n = 5000 // more than the sink's queue (4096)
			for i := range n {
				if i%1000 == 0 {
					if err := l.Write(ctx, event(secrets.ActionSecretAccess)); err != nil {
						t.Fatalf("sync write %d: %v", i, err)
					}
				} else {
					l.Enqueue(ctx, event(secrets.ActionSecretAccess))
				}
			}
			if err := l.Write(ctx, event(secrets.ActionSecretAccess)); err != nil {
				t.Fatal(err)
			}
			if got := l.EventsWritten(); got != n+1 {
				t.Errorf("EventsWritten %d, want %d", got, n+1)
			}
			if _, total, _ := st.ListAudit(ctx, secrets.AuditQuery{Limit: 1}); total != n+1 {
				t.Errorf("%d events stored, want %d", total, n+1)
			}
			deadline := time.Now().Add(5 * time.Second)
			for l.SinkFailures() == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if l.SinkFailures() == 0 {
				t.Error("sink failures not counted")
			}
			if b, ok := sink.(*blockedFile); ok {
				close(b.release)
			}
			l.Close()
		})
	}
}

// TestAuditLogSinkLines: each stored event is one JSON line, in the order
// stored; Close flushes.
func TestAuditLogSinkLines(t *testing.T) {
	st := openAuditStore(t)
	var out lockedBuffer
	l := secrets.NewAuditLog(secrets.AuditLogConfig{Store: st, Sink: &out, FlushInterval: time.Millisecond})
	ctx := context.Background()
	l.Enqueue(ctx, event(secrets.ActionSecretAccess))
	if err := l.Write(ctx, event(secrets.ActionSecretRead)); err != nil {
		t.Fatal(err)
	}
	stored := event(secrets.ActionSecretCreate)
	stored.ID = secrets.NewAuditID(stored.Time)
	l.Stored(stored)
	l.Close()
	lines := strings.Split(strings.TrimSuffix(out.b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), out.b.String())
	}
	for i, action := range []string{"secret.access", "secret.read", "secret.create"} {
		if !strings.Contains(lines[i], `"action":"`+action+`"`) || !strings.HasPrefix(lines[i], `{"id":"`) {
			t.Errorf("line %d: %s", i, lines[i])
		}
	}
	if err := l.Write(ctx, event(secrets.ActionSecretRead)); err == nil {
		t.Error("Write after Close succeeded")
	}
}

// TestAuditLogStoreFailure: a sync write reports a store that cannot take
// the event (the caller then withholds the value).
func TestAuditLogStoreFailure(t *testing.T) {
	st := openAuditStore(t)
	l := secrets.NewAuditLog(secrets.AuditLogConfig{Store: st})
	defer l.Close()
	bad := event("") // violates the table's CHECK
	if err := l.Write(context.Background(), bad); err == nil {
		t.Fatal("Write of an event the store refuses: no error")
	}
	if l.EventsFailed() != 1 {
		t.Errorf("EventsFailed %d, want 1", l.EventsFailed())
	}
}
