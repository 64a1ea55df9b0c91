package server

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The audit trail end to end (docs/operations.md, "Audit trail").

// auditEvent is an event as the query API answers it.
type auditEvent struct {
	ID         string `json:"id"`
	Time       string `json:"time"`
	Action     string `json:"action"`
	Outcome    string `json:"outcome"`
	Status     int    `json:"status"`
	Workspace  string `json:"workspace"`
	Secret     string `json:"secret"`
	Version    int64  `json:"version"`
	Principal  string `json:"principal"`
	OnBehalfOf string `json:"on_behalf_of"`
	AuthMethod string `json:"auth_method"`
	RequestID  string `json:"request_id"`
	RemoteAddr string `json:"remote_addr"`
	UserAgent  string `json:"user_agent"`
}

// brief is what most tests compare of an event.
func (e auditEvent) brief() string {
	s := fmt.Sprintf("%s %s %d %s/%s", e.Action, e.Outcome, e.Status, e.Workspace, e.Secret)
	if e.Version != 0 {
		s += fmt.Sprintf(" v%d", e.Version)
	}
	if e.Principal != "" {
		s += " by " + e.Principal
	}
	return s
}

type auditPage struct {
	Data       []auditEvent `json:"data"`
	Pagination struct {
		Page         int `json:"page"`
		PageSize     int `json:"page_size"`
		CurrentCount int `json:"current_page_size"`
		TotalPages   int `json:"total_pages"`
		TotalResults int `json:"total_results"`
	} `json:"pagination"`
}

// auditQuery GETs path and decodes the page; it fails unless 200.
func (ts *testServer) auditQuery(t *testing.T, path string, headers ...string) auditPage {
	t.Helper()
	r := ts.do(t, "GET", path, "", headers...)
	if r.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	var p auditPage
	decode(t, r, &p)
	return p
}

// waitAudit polls path until it lists n events (async events land within
// the flush interval) and returns them, oldest first.
func (ts *testServer) waitAudit(t *testing.T, path string, n int, headers ...string) []auditEvent {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := ts.auditQuery(t, path+sep+"page_size=1000", headers...)
		if len(p.Data) >= n || time.Now().After(deadline) {
			out := make([]auditEvent, len(p.Data))
			for i, e := range p.Data {
				out[len(out)-1-i] = e
			}
			if len(out) != n {
				t.Fatalf("%s: %d events, want %d:\n%s", path, len(out), n, briefs(out))
			}
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func briefs(es []auditEvent) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.brief() + "\n")
	}
	return b.String()
}

func wantBriefs(t *testing.T, got []auditEvent, want ...string) {
	t.Helper()
	if g, w := briefs(got), strings.Join(want, "\n")+"\n"; g != w {
		t.Errorf("events:\n%s\nwant:\n%s", g, w)
	}
}

const auditBase = "/apis/secrets/v2/workspaces/ml/audit"

// TestAuditTrailRecordsRequests: writes with their outcome and version,
// accesses (also failed ones), no metadata reads by default; request ids,
// user agents (truncated), auth method, newest first.
func TestAuditTrailRecordsRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, envf func(t *testing.T) map[string]string) {
		ts := start(t, envf(t), "")
		ua := "User-Agent: " + strings.Repeat("é", 200) // 400 bytes
		ts.do(t, "POST", wsBase, `{"name":"ml"}`, "X-NMP-Principal-Id: alice", "X-Request-Id: req-ws")
		ts.do(t, "POST", base+"/ml/secrets", `{"name":"key","value":"v1"}`, "X-NMP-Principal-Id: alice", ua)
		ts.do(t, "PATCH", base+"/ml/secrets/key", `{"value":"v2"}`, "X-NMP-Principal-Id: alice")
		ts.do(t, "GET", base+"/ml/secrets/key/access", "", "X-NMP-Principal-Id: service:jobs",
			"X-NMP-Principal-On-Behalf-Of: bob", "X-Request-Id: req-access")
		ts.do(t, "GET", base+"/ml/secrets/key/access?version=1", "")
		ts.do(t, "GET", base+"/ml/secrets/missing/access", "")
		ts.do(t, "GET", base+"/ml/secrets/key", "") // a metadata read: not recorded
		ts.do(t, "GET", base+"/ml/secrets", "")     // nor a list
		ts.do(t, "PATCH", base+"/ml/secrets/missing", `{"value":"x"}`)
		ts.do(t, "POST", base+"/ml/secrets", `{"name":"key","value":"again"}`)
		ts.do(t, "POST", base+"/ml/secrets/key/versions/1/restore", "")
		ts.do(t, "DELETE", base+"/ml/secrets/key/versions/2", "")
		ts.do(t, "DELETE", base+"/ml/secrets/key", "")
		ts.do(t, "POST", wsBase+"/ml/members", `{"principal":"carol","roles":["Viewer"]}`)
		ts.do(t, "PUT", wsBase+"/ml", `{"description":"d"}`)
		es := ts.waitAudit(t, auditBase, 13)
		wantBriefs(t, es,
			"workspace.create success 201 ml/ by alice",
			"secret.create success 201 ml/key v1 by alice",
			"secret.update success 200 ml/key v2 by alice",
			"secret.access success 200 ml/key v2 by service:jobs",
			"secret.access success 200 ml/key v1",
			"secret.access not_found 404 ml/missing",
			"secret.update not_found 404 ml/missing",
			"secret.create conflict 409 ml/key",
			"secret.restore success 200 ml/key v3",
			"secret.version.destroy success 204 ml/key v2",
			"secret.delete success 204 ml/key",
			"member.add success 201 ml/",
			"workspace.update success 200 ml/",
		)
		if t.Failed() {
			return
		}
		if e := es[0]; e.RequestID != "req-ws" || e.AuthMethod != "header" || !strings.HasPrefix(e.RemoteAddr, "127.0.0.1:") {
			t.Errorf("workspace.create event: %+v", e)
		}
		if e := es[1]; len(e.UserAgent) != 256 || !strings.HasPrefix(e.UserAgent, "éé") {
			t.Errorf("user agent kept: %d bytes %q, want 256", len(e.UserAgent), e.UserAgent)
		}
		if e := es[3]; e.OnBehalfOf != "bob" || e.RequestID != "req-access" {
			t.Errorf("access event: %+v", e)
		}
		if e := es[4]; e.AuthMethod != "none" || e.Principal != "" {
			t.Errorf("anonymous access event: %+v", e)
		}
		for i := 1; i < len(es); i++ {
			if es[i].ID <= es[i-1].ID || es[i].Time < es[i-1].Time {
				t.Errorf("events %d and %d out of order: %s %s / %s %s", i-1, i, es[i-1].ID, es[i-1].Time, es[i].ID, es[i].Time)
			}
		}
		// The workspace's deletion is recorded, and its events outlive it.
		ts.do(t, "DELETE", wsBase+"/ml", "")
		ts.waitAudit(t, auditBase, 14)
	})
}

// TestAuditQueryFilters: filters, paging, and 422s for bad filters, on the
// workspace and the global query.
func TestAuditQueryFilters(t *testing.T) {
	ts := start(t, map[string]string{}, "")
	ts.do(t, "POST", wsBase, `{"name":"ml"}`)
	for i := range 3 {
		ts.do(t, "POST", base+"/ml/secrets", fmt.Sprintf(`{"name":"s%d","value":"v"}`, i), "X-NMP-Principal-Id: p"+fmt.Sprint(i))
	}
	ts.do(t, "GET", base+"/ml/secrets/s1/access", "")
	ts.do(t, "GET", base+"/ml/secrets/nope/access", "")
	ts.do(t, "POST", base+"/default/secrets", `{"name":"dd","value":"v"}`)
	all := ts.waitAudit(t, "/apis/secrets/v2/audit", 7)
	mid, _ := time.Parse(time.RFC3339Nano, all[2].Time)
	cases := []struct {
		query string
		want  []string
		total int
	}{
		{"filter[secret]=s1", []string{"secret.access success 200 ml/s1 v1", "secret.create success 201 ml/s1 v1 by p1"}, 2},
		{"filter[principal]=p2", []string{"secret.create success 201 ml/s2 v1 by p2"}, 1},
		{"filter[action]=secret.access", []string{"secret.access not_found 404 ml/nope", "secret.access success 200 ml/s1 v1"}, 2},
		{"filter[outcome]=not_found", []string{"secret.access not_found 404 ml/nope"}, 1},
		{"filter[time][gte]=" + mid.Format(time.RFC3339Nano) + "&filter[time][lte]=" + mid.Format(time.RFC3339Nano),
			[]string{"secret.create success 201 ml/s1 v1 by p1"}, 1},
		{"page=2&page_size=2", []string{"secret.create success 201 ml/s2 v1 by p2", "secret.create success 201 ml/s1 v1 by p1"}, 6},
	}
	for _, c := range cases {
		p := ts.auditQuery(t, auditBase+"?"+c.query)
		if got := briefs(p.Data); got != strings.Join(c.want, "\n")+"\n" || p.Pagination.TotalResults != c.total {
			t.Errorf("%s: total %d\n%swant total %d\n%s", c.query, p.Pagination.TotalResults, got, c.total, strings.Join(c.want, "\n"))
		}
	}
	p := ts.auditQuery(t, "/apis/secrets/v2/audit?filter[workspace]=default")
	wantBriefs(t, p.Data, "secret.create success 201 default/dd v1")
	expect(t, ts.do(t, "GET", auditBase+"?filter[workspace]=default", ""), 422,
		`{"detail":[{"type":"extra_forbidden","loc":["query","filter","workspace"],"msg":"Unknown filter \"filter[workspace]\"; accepted: filter[action], filter[outcome], filter[principal], filter[secret], filter[time][gte], filter[time][lte]","input":"default"}]}`)
	r := ts.do(t, "GET", auditBase+"?filter[outcome]=fine&filter[time][gte]=yesterday", "")
	if r.Status != 422 || !strings.Contains(r.Body, `"enum"`) || !strings.Contains(r.Body, `"datetime_parsing"`) {
		t.Errorf("bad filters: %d %s", r.Status, r.Body)
	}
}

// TestAuditRoleMatrix: a workspace's trail for its Admins and PlatformAdmin,
// the global one for PlatformAdmin only; refused requests are recorded as
// denied with the workspace and name from the path.
func TestAuditRoleMatrix(t *testing.T) {
	ts := start(t, authEnv(), "")
	setupMatrix(t, ts)
	for _, c := range []struct {
		caller     string
		ws, global int
	}{
		{"anonymous", 401, 401},
		{"viewer", 403, 403},
		{"editor", 403, 403},
		{"admin", 200, 403},
		{"other-member", 403, 403}, // Admin of "other", not of ml
		{"platformadmin", 200, 200},
	} {
		if r := ts.do(t, "GET", auditBase, "", callers[c.caller]...); r.Status != c.ws {
			t.Errorf("%s: GET %s = %d, want %d", c.caller, auditBase, r.Status, c.ws)
		}
		if r := ts.do(t, "GET", "/apis/secrets/v2/audit", "", callers[c.caller]...); r.Status != c.global {
			t.Errorf("%s: GET global audit = %d, want %d", c.caller, r.Status, c.global)
		}
	}
	if r := ts.do(t, "GET", "/apis/secrets/v2/workspaces/other/audit", "", callers["other-member"]...); r.Status != 200 {
		t.Errorf("Admin of other: own trail %d", r.Status)
	}
	ts.do(t, "PATCH", base+"/ml/secrets/key1", `{"value":"x"}`, callers["viewer"]...)
	ts.do(t, "GET", base+"/ml/secrets/key1/access", "", callers["admin"]...)
	ts.do(t, "DELETE", base+"/ml/secrets/key1", "")
	// A metadata read is not recorded by default, but a refused one is.
	ts.do(t, "GET", base+"/ml/secrets/key1", "")
	admin := callers["admin"]
	es := ts.waitAudit(t, auditBase+"?filter[outcome]=denied", 4, admin...)
	wantBriefs(t, es,
		"secret.update denied 403 ml/key1 by viewer1",
		"secret.access denied 403 ml/key1 by admin1",
		"secret.delete denied 401 ml/key1",
		"secret.read denied 401 ml/key1")
}

// TestAuditReadModes: reads=all records metadata reads and lists; reads=off
// records only denied reads.
func TestAuditReadModes(t *testing.T) {
	ts := start(t, map[string]string{"COFFER_AUDIT_READS": "all"}, "")
	ts.do(t, "POST", base+"/default/secrets", `{"name":"key","value":"v"}`)
	ts.do(t, "GET", base+"/default/secrets/key", "")
	ts.do(t, "GET", base+"/default/secrets", "")
	ts.do(t, "GET", base+"/default/secrets/key/versions", "")
	ts.do(t, "GET", base+"/default/secrets/key/access", "")
	wantBriefs(t, ts.waitAudit(t, "/apis/secrets/v2/workspaces/default/audit", 5),
		"secret.create success 201 default/key v1", "secret.read success 200 default/key", "secret.list success 200 default/",
		"secret.read success 200 default/key", "secret.access success 200 default/key v1")

	env := authEnv()
	env["COFFER_AUDIT_READS"] = "off"
	ts = start(t, env, "")
	setupMatrix(t, ts)
	ts.do(t, "GET", base+"/ml/secrets/key1/access", "", callers["service"]...)
	ts.do(t, "GET", base+"/ml/secrets/key1/access", "", callers["viewer"]...)
	wantBriefs(t, ts.waitAudit(t, auditBase+"?filter[action]=secret.access", 1, callers["admin"]...),
		"secret.access denied 403 ml/key1 by viewer1")
}

// forceAuditFailure makes every insert of an event with action fail in the
// database of ts (a trigger), as a full disk or a broken table would.
func forceAuditFailure(t *testing.T, ts *testServer, action string) {
	t.Helper()
	if dsn := ts.Env["COFFER_DATABASE_DSN"]; dsn != "" {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		for _, q := range []string{
			`CREATE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced audit failure'; END $$`,
			`CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = '` + action + `') EXECUTE FUNCTION audit_fail()`,
		} {
			if _, err := conn.Exec(context.Background(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.DataDir, "coffer.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events WHEN NEW.action = '` + action +
		`' BEGIN SELECT RAISE(ABORT, 'forced audit failure'); END`
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestAuditWriteFailsWithoutItsEvent: when a write's event cannot be
// stored, the write does not happen and the API answers 500.
func TestAuditWriteFailsWithoutItsEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, envf func(t *testing.T) map[string]string) {
		ts := start(t, envf(t), "")
		ts.do(t, "POST", base+"/default/secrets", `{"name":"key","value":"before"}`)
		forceAuditFailure(t, ts, secrets.ActionSecretUpdate)
		expect(t, ts.do(t, "PATCH", base+"/default/secrets/key", `{"value":"after"}`), 500,
			`{"detail":"An unexpected error occurred."}`)
		expect(t, ts.do(t, "GET", base+"/default/secrets/key/access", ""), 200,
			`{"name":"key","workspace":"default","value":"before"}`)
		// Other writes are unaffected.
		if r := ts.do(t, "POST", base+"/default/secrets", `{"name":"key2","value":"v"}`); r.Status != 201 {
			t.Errorf("create: %d %s", r.Status, r.Body)
		}
		es := ts.waitAudit(t, "/apis/secrets/v2/workspaces/default/audit?filter[secret]=key2", 1)
		wantBriefs(t, es, "secret.create success 201 default/key2 v1")
	})
}

// TestAuditSyncReads: with read_durability sync an access's event is
// stored before the value is sent, and when it cannot be the value is
// not sent (503).
func TestAuditSyncReads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, envf func(t *testing.T) map[string]string) {
		env := envf(t)
		env["COFFER_AUDIT_READ_DURABILITY"] = "sync"
		env["COFFER_AUDIT_FLUSH_INTERVAL"] = "1m" // async events would wait that long
		ts := start(t, env, "")
		ts.do(t, "POST", base+"/default/secrets", `{"name":"key","value":"v"}`)
		expect(t, ts.do(t, "GET", base+"/default/secrets/key/access", ""), 200, `{"name":"key","workspace":"default","value":"v"}`)
		p := ts.auditQuery(t, "/apis/secrets/v2/workspaces/default/audit?filter[action]=secret.access")
		wantBriefs(t, p.Data, "secret.access success 200 default/key v1")
		forceAuditFailure(t, ts, secrets.ActionSecretAccess)
		r := ts.do(t, "GET", base+"/default/secrets/key/access", "")
		if r.Status != 503 || strings.Contains(r.Body, `"value"`) || r.Header.Get("Retry-After") != "1" {
			t.Errorf("access without its event: %d %s", r.Status, r.Body)
		}
	})
}

// TestAuditRetention: the prune pass deletes events past retention.
func TestAuditRetention(t *testing.T) {
	ts := start(t, map[string]string{}, "")
	ts.do(t, "POST", base+"/default/secrets", `{"name":"key","value":"v"}`)
	ts.waitAudit(t, "/apis/secrets/v2/audit", 1)
	time.Sleep(2 * time.Millisecond)
	ts.srv.auditPruneOnce(context.Background(), time.Millisecond)
	if p := ts.auditQuery(t, "/apis/secrets/v2/audit"); len(p.Data) != 0 {
		t.Errorf("events past retention kept: %s", briefs(p.Data))
	}
}

// TestAuditSinkAndCanary writes a recognisable value through writes,
// accesses and failures with the JSON-lines sink on: the sink holds one
// line per stored event, and the value is in no event, no sink line and
// no log line.
func TestAuditSinkAndCanary(t *testing.T) {
	const canary = "CANARY-audit-4c1e-do-not-leak"
	sink := filepath.Join(t.TempDir(), "audit.jsonl")
	ts := start(t, map[string]string{"COFFER_AUDIT_FILE": sink, "COFFER_AUDIT_READS": "all"}, "")
	v := `"value":"` + canary + `"`
	ts.do(t, "POST", base+"/default/secrets", `{"name":"cc",`+v+`}`, "User-Agent: ua-"+canary[:6])
	ts.do(t, "POST", base+"/default/secrets", `{"name":"cc",`+v+`}`)
	ts.do(t, "POST", base+"/default/secrets", `{"name":"bad name!",`+v+`}`)
	ts.do(t, "PATCH", base+"/default/secrets/cc", `{`+v+`,"description":"d"}`)
	ts.do(t, "GET", base+"/default/secrets/cc/access", "", "Authorization: Bearer "+canary)
	ts.do(t, "GET", base+"/default/secrets/cc", "")
	ts.do(t, "DELETE", base+"/default/secrets/cc", "")
	events := ts.waitAudit(t, "/apis/secrets/v2/audit", 7)
	raw := ts.do(t, "GET", "/apis/secrets/v2/audit?page_size=1000", "").Body
	ts.stop() // flushes the sink
	b, err := os.ReadFile(sink)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(sink)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("sink mode %v, want 0600", info.Mode().Perm())
	}
	var lines []auditEvent
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("sink line %q: %v", sc.Text(), err)
		}
		lines = append(lines, e)
	}
	byID := map[string]auditEvent{}
	for _, e := range lines {
		byID[e.ID] = e
	}
	if len(lines) != len(events) || len(byID) != len(events) {
		t.Errorf("sink has %d lines (%d ids) for %d events:\n%s", len(lines), len(byID), len(events), b)
	}
	for _, e := range events {
		if byID[e.ID] != e {
			t.Errorf("sink line of %s: %+v, want %+v", e.ID, byID[e.ID], e)
		}
	}
	for what, text := range map[string]string{"sink": string(b), "events": raw, "log": ts.Logs.String()} {
		if strings.Contains(text, canary) {
			t.Errorf("the %s contains the canary value", what)
		}
	}
}

// TestKilledServerLosesNoWriteEvent kills `coffer serve` with SIGKILL under
// a write load: every acknowledged write has its event, since both
// committed in one transaction.
func TestKilledServerLosesNoWriteEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, envf func(t *testing.T) map[string]string) {
		env := envf(t)
		dir := t.TempDir()
		if env["COFFER_DATABASE_DSN"] == "" {
			env["COFFER_DATABASE_DSN"] = "sqlite:" + filepath.Join(dir, "coffer.db")
		}
		r := startReplica(t, env)
		var acked sync.Map
		var writers sync.WaitGroup
		for w := range 8 {
			writers.Go(func() {
				for i := 0; ; i++ {
					name := fmt.Sprintf("w%d-%d", w, i)
					code, err := tryDo(t, r.URL, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":"%s","value":"v"}`, name))
					if err != nil {
						return // the server is gone
					}
					if code == 201 {
						acked.Store(name, true)
					}
				}
			})
		}
		time.Sleep(700 * time.Millisecond)
		r.cmd.Process.Kill()
		writers.Wait()
		r.cmd.Wait()
		ts := start(t, env, dir)
		p := ts.auditQuery(t, "/apis/secrets/v2/workspaces/default/audit?filter[action]=secret.create&page_size=1000")
		recorded := map[string]bool{}
		for page := 2; len(p.Data) > 0; page++ {
			for _, e := range p.Data {
				if e.Outcome == "success" {
					recorded[e.Secret] = true
				}
			}
			p = ts.auditQuery(t, fmt.Sprintf("/apis/secrets/v2/workspaces/default/audit?filter[action]=secret.create&page_size=1000&page=%d", page))
		}
		count := 0
		acked.Range(func(k, _ any) bool {
			count++
			if !recorded[k.(string)] {
				t.Errorf("acknowledged create of %s has no event", k)
			}
			return true
		})
		if count == 0 {
			t.Fatal("no write was acknowledged before the kill")
		}
		t.Logf("%d acknowledged writes, %d create events after SIGKILL", count, len(recorded))
	})
}
