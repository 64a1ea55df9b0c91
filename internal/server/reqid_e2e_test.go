package server

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// generatedID is the shape of an id Coffer makes up (internal/reqid).
var generatedID = regexp.MustCompile(`^[0-9a-v]{26}$`)

// TestRequestIDs checks docs/operations.md, "Request ids": every response
// carries X-Request-Id, whoever answers it (a handler, the router's 404 and
// 405, authentication's 401 and 403, the in-flight bound's 503, public
// routes); a well-formed client id comes back unchanged and anything else is
// replaced; the request's log lines name the id.
func TestRequestIDs(t *testing.T) {
	env := authEnv()
	env["COFFER_HTTP_MAX_IN_FLIGHT"] = "1"
	ts := start(t, env, "")
	svc := "X-NMP-Principal-Id: service:jobs"
	admin := "X-NMP-Principal-Id: boss@corp.com"
	if r := ts.do(t, "POST", base+"/default/secrets", `{"name":"key1","value":"v"}`, admin); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}

	long := strings.Repeat("a", 128)
	tests := []struct {
		name, method, path string
		headers            []string
		status             int
		sent               string // X-Request-Id sent ("" = none)
		kept               bool   // whether it must come back unchanged
	}{
		{"value read keeps a client id", "GET", base + "/default/secrets/key1/access", []string{svc}, 200, "job-42.attempt_1", true},
		{"128 characters are kept", "GET", base + "/default/secrets/key1", []string{svc}, 200, long, true},
		{"129 characters are replaced", "GET", base + "/default/secrets/key1", []string{svc}, 200, long + "a", false},
		{"a space is replaced", "GET", base + "/default/secrets/key1", []string{svc}, 200, "a b", false},
		{"markup is replaced", "GET", base + "/default/secrets/key1", []string{svc}, 200, "<script>", false},
		{"none sent: one is made", "GET", base + "/default/secrets/key1", []string{svc}, 200, "", false},
		{"unknown secret", "GET", base + "/default/secrets/nope", []string{svc}, 404, "id-404", true},
		{"unknown path", "GET", "/nowhere", []string{admin}, 404, "id-route", true},
		{"wrong method", "PUT", base + "/default/secrets", []string{admin}, 405, "id-405", true},
		{"anonymous", "GET", base + "/default/secrets", nil, 401, "id-401", true},
		{"not allowed", "GET", base + "/default/secrets/key1/access", []string{"X-NMP-Principal-Id: viewer1"}, 403, "id-403", true},
		{"malformed identity header", "GET", base + "/default/secrets", []string{"X-NMP-Principal-Id: a b"}, 400, "id-400", true},
		{"health is public", "GET", "/health/live", nil, 200, "id-health", true},
		{"version is public", "GET", "/version", nil, 200, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers := tt.headers
			if tt.sent != "" {
				headers = append(headers[:len(headers):len(headers)], "X-Request-Id: "+tt.sent)
			}
			r := ts.do(t, tt.method, tt.path, "", headers...)
			if r.Status != tt.status {
				t.Fatalf("status %d %s, want %d", r.Status, r.Body, tt.status)
			}
			got := r.Header.Values("X-Request-Id")
			if len(got) != 1 {
				t.Fatalf("X-Request-Id = %q, want one value", got)
			}
			if tt.kept && got[0] != tt.sent {
				t.Errorf("X-Request-Id = %q, want the client's %q", got[0], tt.sent)
			}
			if !tt.kept && !generatedID.MatchString(got[0]) {
				t.Errorf("X-Request-Id = %q, want a generated id", got[0])
			}
		})
	}

	// The in-flight bound's 503: one request holds the only slot while
	// its body trickles in.
	held, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(held, "POST %s/default/secrets HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Length: 100\r\n\r\n{", base, admin)
	time.Sleep(200 * time.Millisecond)
	r := ts.do(t, "GET", base+"/default/secrets", "", admin, "X-Request-Id: id-503")
	held.Close()
	if r.Status != 503 || r.Header.Get("X-Request-Id") != "id-503" {
		t.Errorf("busy: %d, X-Request-Id %q", r.Status, r.Header.Get("X-Request-Id"))
	}

	// The request's lines (the debug request lines; the audit trail, not
	// the log, records the access) name its id; the text handler writes it
	// as an attribute.
	waitForLog(t, ts, `msg=request method=PUT`)
	for _, want := range []string{
		`msg=request method=GET path=/apis/secrets/v2/workspaces/default/secrets/key1/access status=200`,
		`msg=request method=PUT path=/apis/secrets/v2/workspaces/default/secrets status=405`,
	} {
		line := logLine(ts.Logs.String(), want)
		if !strings.HasSuffix(line, map[bool]string{true: " request_id=job-42.attempt_1", false: " request_id=id-405"}[strings.Contains(want, "access")]) {
			t.Errorf("log line %q does not end with its request id", line)
		}
	}
}

// TestVersionEndpoint checks GET /version and the startup log line.
func TestVersionEndpoint(t *testing.T) {
	ts := start(t, authEnv(), "")
	r := ts.do(t, "GET", "/version", "") // anonymous: public
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /version: %d %s", r.Status, r.Body)
	}
	var v struct {
		Version   string `json:"version"`
		Commit    string `json:"commit"`
		BuildDate string `json:"build_date"`
		GoVersion string `json:"go_version"`
	}
	dec := json.NewDecoder(strings.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("GET /version: %v: %s", err, r.Body)
	}
	// A test binary is built from the working tree without -ldflags.
	if v.Version != "devel" || v.GoVersion != runtime.Version() || v.Commit == "" || v.BuildDate == "" {
		t.Errorf("GET /version = %s", r.Body)
	}
	if r := ts.do(t, "HEAD", "/version", ""); r.Status != 200 || r.Body != "" {
		t.Errorf("HEAD /version: %d %q", r.Status, r.Body)
	}
	line := logLine(ts.Logs.String(), `msg="Coffer starting"`)
	want := fmt.Sprintf(`msg="Coffer starting" version=devel commit=%s build_date=%s go_version=%s auth_enabled=true`,
		v.Commit, v.BuildDate, v.GoVersion)
	if !strings.Contains(line, want) {
		t.Errorf("startup line %q\nwant it to contain %q", line, want)
	}
}

// logLine returns the first line of logs containing substr, or "".
func logLine(logs, substr string) string {
	for line := range strings.Lines(logs) {
		if strings.Contains(line, substr) {
			return strings.TrimSuffix(line, "\n")
		}
	}
	return ""
}

// waitForLog waits until the server has logged a line containing substr.
func waitForLog(t *testing.T, ts *testServer, substr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ts.Logs.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line contains %q", substr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
