package server

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/keys/transittest"
)

// vaultEnv configures the vault provider "v" on srv as the current one.
func vaultEnv(srv *transittest.Server, token, extra string) map[string]string {
	return map[string]string{"NMP_SECRETS_ENCRYPTION": `{"current_provider":"v","providers":{"vault":{"v":{"address":"` +
		srv.URL + `","token":"` + token + `","timeout_seconds":1` + extra + `}}}}`}
}

// meta is the metadata body of a new secret in default.
func meta(name string) string {
	return `{"name":"` + name + `","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`
}

// TestTransitOutage: through a real listener, a Transit outage answers 503
// {"detail":"Key provider unavailable"} with Retry-After on every route
// that needs a value, routes that do not keep working, a transient failure
// is absorbed by a retry, and service resumes with Vault.
func TestTransitOutage(t *testing.T) {
	srv := transittest.New(t)
	ts := start(t, vaultEnv(srv, srv.Token(), `,"max_retries":1`), "")
	s := base + "/default/secrets"
	expect(t, ts.do(t, "POST", s, `{"name":"aa","value":"v1"}`), 201, meta("aa"))

	srv.FailWith(503)
	const unavailable = `{"detail":"Key provider unavailable"}`
	for _, r := range []response{
		ts.do(t, "POST", s, `{"name":"bb","value":"v"}`),
		ts.do(t, "GET", s+"/aa/access", ""),
		ts.do(t, "PATCH", s+"/aa", `{"value":"v2"}`),
	} {
		expect(t, r, 503, unavailable)
		if r.Header.Get("Retry-After") != "5" {
			t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
		}
	}
	expect(t, ts.do(t, "GET", s+"/aa", ""), 200, meta("aa"))
	srv.Stop()
	expect(t, ts.do(t, "GET", s+"/aa/access", ""), 503, unavailable)
	srv.Restart()
	srv.FailWith(0)

	srv.FailNext(502) // transient: one retry absorbs it
	expect(t, ts.do(t, "GET", s+"/aa/access", ""), 200, `{"name":"aa","workspace":"default","value":"v1"}`)
	expect(t, ts.do(t, "POST", s, `{"name":"bb","value":"v"}`), 201, meta("bb"))
	if logs := ts.Logs.String(); !strings.Contains(logs, "vault transit request failed") || strings.Contains(logs, srv.Token()) {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestTransitExpiredStaticToken: an expired static token is an ERROR in the
// log and the reason /health/ready gives for 503.
func TestTransitExpiredStaticToken(t *testing.T) {
	srv := transittest.New(t)
	// 15 s: long enough that a slow start on a loaded machine (seen: over
	// 6 s) still sees the token valid, short enough to wait for. Readiness
	// is polled past the expiry rather than read after a fixed sleep.
	const ttl = 15 * time.Second
	tok := srv.IssueToken(transittest.TokenPolicy{TTL: ttl})
	expires := time.Now().Add(ttl)
	ts := start(t, vaultEnv(srv, tok, ""), "")
	expect(t, ts.do(t, "GET", "/health/ready", ""), 200, `{"status":"ready"}`)
	r := ts.do(t, "GET", "/health/ready", "")
	for deadline := expires.Add(5 * time.Second); r.Status == 200 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		r = ts.do(t, "GET", "/health/ready", "")
	}
	if r.Status != 503 || !strings.HasPrefix(r.Body, `{"detail":{"reason":"key provider 'v': Vault token expired at `) ||
		!strings.HasSuffix(r.Body, `; issue a new token and restart Coffer","status":"not_ready"}}`) {
		t.Errorf("got %d %s", r.Status, r.Body)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(ts.Logs.String(), "vault token expired"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no ERROR line:\n%s", ts.Logs.String())
		}
	}
	if strings.Contains(ts.Logs.String(), tok) {
		t.Error("token in the logs")
	}
}

// TestShutdownClosesVaultProvider: shutting the server down stops the
// Vault provider's token renewal; the provider logs that it closed only
// after its renewal goroutine has ended (internal/keys tests the goroutine
// itself).
func TestShutdownClosesVaultProvider(t *testing.T) {
	srv := transittest.New(t)
	tok := srv.IssueToken(transittest.TokenPolicy{TTL: time.Hour, MaxTTL: 2 * time.Hour, Renewable: true})
	ts := start(t, vaultEnv(srv, tok, ""), "")
	expect(t, ts.do(t, "GET", "/health/ready", ""), 200, `{"status":"ready"}`)
	const closed = "vault provider closed; its token is no longer renewed"
	if strings.Contains(ts.Logs.String(), closed) {
		t.Fatal("provider closed while serving")
	}
	ts.stop()
	if logs := ts.Logs.String(); !strings.Contains(logs, closed) || !strings.Contains(logs, "provider=v") {
		t.Errorf("no %q line after shutdown:\n%s", closed, logs)
	}
}
