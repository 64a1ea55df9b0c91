//go:build unix

package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
)

// TestClientClosedIsNot5xx: a client that hangs up while its /access waits
// on the database is counted as a 499, a 4xx, in /metrics and recorded with
// status 499 in the audit trail, not as a server error (docs/operations.md,
// "Metrics"): whether the wait is the read itself (another session holds a
// lock on the secrets table) or, with auth enabled, the role lookup of the
// authorization (a lock on role_bindings), which used to answer the 500 of
// a decision that could not be made.
func TestClientClosedIsNot5xx(t *testing.T) {
	for _, tc := range []struct {
		name, table string
		env         map[string]string
		principal   string // X-NMP-Principal-Id of the request, when auth is on
	}{
		{name: "waiting on the read", table: "secrets"},
		{name: "waiting on the authorization", table: "role_bindings",
			env: map[string]string{"NMP_AUTH_ENABLED": "true"}, principal: "service:jobs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.NewDSN(t)
			env := map[string]string{"COFFER_DATABASE_DSN": dsn,
				// The development key is refused with PostgreSQL: a test key (32 bytes 0x00..0x1f).
				"NMP_SECRETS_ENCRYPTION":                  `{"providers":{"secret_key":{"k1":{"value":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}}}}`,
				"NMP_SECRETS_ENCRYPTION_CURRENT_PROVIDER": "k1"}
			maps.Copy(env, tc.env)
			srv, base := startServerEnv(t, io.Discard, env)
			ctx := t.Context()
			if _, err := srv.Service.CreateWorkspace(ctx, "ws", nil, nil, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Service.CreateSecret(ctx, "ws", secrets.NewSecret{Name: "s", Value: "v"}, nil); err != nil {
				t.Fatal(err)
			}
			tx := lockTable(t, dsn, tc.table)
			abandonAccess(t, base+"/apis/secrets/v2/workspaces/ws/secrets/s/access", tc.principal)

			const route = `route="/apis/secrets/v2/workspaces/{workspace}/secrets/{name}/access"`
			var counts map[string]string
			waitFor(t, "the abandoned request to be counted", func() bool {
				counts = requestCounts(t, base, route)
				return len(counts) > 0
			})
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			if counts["4xx"] != "1" || counts["5xx"] != "" {
				t.Errorf("access requests by class %v, want one 4xx and no 5xx", counts)
			}
			if tc.principal != "" {
				return // the audit query would need a principal allowed to read it
			}
			waitFor(t, "the audit event", func() bool {
				statuses := auditStatuses(t, base+"/apis/secrets/v2/workspaces/ws/audit?filter[action]=secret.access")
				if len(statuses) > 1 || (len(statuses) == 1 && statuses[0] != 499) {
					t.Fatalf("access events with statuses %v, want one with 499", statuses)
				}
				return len(statuses) == 1
			})
		})
	}
}

// abandonAccess sends a GET to url (as principal, when set) with a 300 ms
// deadline and requires that the deadline, not an answer, ends it.
func abandonAccess(t *testing.T, url, principal string) {
	t.Helper()
	reqCtx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if principal != "" {
		req.Header.Set("X-NMP-Principal-Id", principal)
	}
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("access answered %d while the table was locked", res.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("access: %v, want the client's deadline", err)
	}
}

// lockTable takes an ACCESS EXCLUSIVE lock on table in a transaction of its
// own, which the caller rolls back to release it.
func lockTable(t *testing.T, dsn, table string) pgx.Tx {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return tx
}

// requestCounts returns coffer_http_requests_total of the series with
// label (a route="…" pair), by status class, as /metrics writes them.
func requestCounts(t *testing.T, base, label string) map[string]string {
	t.Helper()
	body := get(t, base+"/metrics")
	out := map[string]string{}
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, "coffer_http_requests_total{") || !strings.Contains(line, label) {
			continue
		}
		_, after, _ := strings.Cut(line, `code_class="`)
		class, _, _ := strings.Cut(after, `"`)
		fields := strings.Fields(line)
		if v := fields[len(fields)-1]; v != "0" {
			out[class] = v
		}
	}
	return out
}

// auditStatuses returns the statuses of the events an audit query lists.
func auditStatuses(t *testing.T, url string) []int {
	t.Helper()
	var page struct {
		Data []struct {
			Status int `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(get(t, url)), &page); err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range page.Data {
		out = append(out, e.Status)
	}
	return out
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, res.StatusCode, b, err)
	}
	return string(b)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
