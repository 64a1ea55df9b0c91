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

// TestAccessAuditLine: every /access, successful or not, writes one audit
// line with principal, on-behalf-of, workspace, name, outcome and the
// request id, and never the value.
func TestAccessAuditLine(t *testing.T) {
	logs := &lockedBuffer{}
	srv, _ := startServer(t, logs)
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
	var audit []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg="secret access"`) {
			audit = append(audit, line)
		}
	}
	if len(audit) != 2 {
		t.Fatalf("%d audit lines, want 2:\n%s", len(audit), logs)
	}
	for i, want := range []string{
		`level=INFO msg="secret access" principal=service:jobs on_behalf_of=alice workspace=default name=hf-token version=1 outcome=ok request_id=audit-1`,
		`level=INFO msg="secret access" principal="" on_behalf_of="" workspace=default name=missing version=current outcome="Secret default/missing not found" request_id=audit-2`,
	} {
		if !strings.HasPrefix(audit[i], "time=") || !strings.HasSuffix(audit[i], want) {
			t.Errorf("audit line %d:\n got %s\nwant time=… %s", i, audit[i], want)
		}
	}
	if strings.Contains(logs.String(), value) {
		t.Error("the log contains the secret value")
	}
}
