//go:build unix

package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// lockedBuffer collects log output written from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAccessLogLine: when the audit trail does not record value reads
// (coffer.audit.reads off), every /access, successful or not, writes one
// log line with principal, on-behalf-of, workspace, name, outcome and the
// request id, and never the value. When the trail records them, the
// events carry the same facts and no line repeats them.
func TestAccessLogLine(t *testing.T) {
	for _, reads := range []string{"off", "access"} {
		t.Run("reads="+reads, func(t *testing.T) {
			logs := &lockedBuffer{}
			srv, _ := startServerEnv(t, logs, map[string]string{"COFFER_AUDIT_READS": reads})
			const value = "hf_audit_secret_value_0123456789"
			if _, err := srv.Service.CreateSecret(context.Background(), "default",
				secrets.NewSecret{Name: "hf-token", Value: value}, nil); err != nil {
				t.Fatal(err)
			}
			access := func(name string, headers ...string) int {
				r := httptest.NewRequest(http.MethodGet, "/apis/secrets/v2/workspaces/default/secrets/"+name+"/access", nil)
				r.RemoteAddr = "127.0.0.1:40000" // a trusted peer: identity headers count
				for i := 0; i+1 < len(headers); i += 2 {
					r.Header.Set(headers[i], headers[i+1])
				}
				w := httptest.NewRecorder()
				srv.Handler().ServeHTTP(w, r)
				return w.Code
			}
			if code := access("hf-token", "X-NMP-Principal-Id", "service:jobs", "X-NMP-Principal-On-Behalf-Of", "alice",
				"X-Request-Id", "audit-1"); code != http.StatusOK {
				t.Fatalf("access: %d", code)
			}
			if code := access("missing", "X-Request-Id", "audit-2"); code != http.StatusNotFound {
				t.Fatalf("access of a missing secret: %d", code)
			}
			if reads == "off" {
				checkAccessLines(t, logs.String())
			} else {
				checkAccessEvents(t, srv.Service)
				if strings.Contains(logs.String(), `msg="secret access"`) {
					t.Errorf("an access line although the audit trail records accesses:\n%s", logs)
				}
			}
			if strings.Contains(logs.String(), value) {
				t.Error("the log contains the secret value")
			}
		})
	}
}

// checkAccessLines checks the two log lines of TestAccessLogLine.
func checkAccessLines(t *testing.T, logs string) {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `msg="secret access"`) {
			lines = append(lines, line)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d access lines, want 2:\n%s", len(lines), logs)
	}
	for i, want := range []string{
		`level=INFO msg="secret access" principal=service:jobs on_behalf_of=alice workspace=default name=hf-token version=1 outcome=ok request_id=audit-1`,
		`level=INFO msg="secret access" principal="" on_behalf_of="" workspace=default name=missing version=current outcome="Secret default/missing not found" request_id=audit-2`,
	} {
		if !strings.HasPrefix(lines[i], "time=") || !strings.HasSuffix(lines[i], want) {
			t.Errorf("access line %d:\n got %s\nwant time=… %s", i, lines[i], want)
		}
	}
}

// checkAccessEvents checks the two audit events of TestAccessLogLine,
// polling until the batcher has stored them.
func checkAccessEvents(t *testing.T, svc *secrets.Service) {
	t.Helper()
	var events []secrets.AuditEvent
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		events, _, err = svc.ListAudit(context.Background(),
			secrets.AuditQuery{Workspace: "default", Action: secrets.ActionSecretAccess}, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(events) != 2 {
		t.Fatalf("%d access events, want 2: %+v", len(events), events)
	}
	want := map[string]secrets.AuditEvent{
		"audit-1": {Principal: "service:jobs", OnBehalfOf: "alice", Secret: "hf-token", Version: 1, Outcome: secrets.OutcomeSuccess},
		"audit-2": {Secret: "missing", Outcome: secrets.OutcomeNotFound},
	}
	for _, e := range events {
		w, ok := want[e.RequestID]
		if !ok || e.Principal != w.Principal || e.OnBehalfOf != w.OnBehalfOf || e.Workspace != "default" ||
			e.Secret != w.Secret || e.Version != w.Version || e.Outcome != w.Outcome {
			t.Errorf("event %+v, want %+v in workspace default", e, w)
		}
	}
}
