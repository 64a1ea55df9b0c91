package server

// End-to-end tests of the secret lifecycle (docs/lifecycle.md):
// versions (§1), the recycle bin (§2), conditional requests (§3), list
// queries (§4) and the rotation counts that come with them, through a real
// listener on both storage backends. Every request goes through lcServer,
// which fails the test when a value sent in a request body comes back
// anywhere but /access, or shows up in the log.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/secrets"
)

const (
	deletedBase = base + "/default/deleted-secrets"
	// changed412 is the 412 body for default/kk.
	changed412 = `{"detail":"Precondition failed: secret default/kk has changed"}`
)

// lcServer is a testServer that remembers every value sent in a request
// body and checks that none comes back except from /access, and that none
// reaches the log.
type lcServer struct {
	*testServer
	mu     sync.Mutex
	values []string
}

// startLC starts a server with env (dataDir "" = a new one).
func startLC(t *testing.T, env map[string]string, dataDir string) *lcServer {
	t.Helper()
	s := &lcServer{testServer: start(t, env, dataDir)}
	t.Cleanup(func() { s.checkLogs(t) })
	return s
}

// restart stops s and starts a server on its data directory with env; the
// values s learnt carry over.
func (s *lcServer) restart(t *testing.T, env map[string]string) *lcServer {
	t.Helper()
	s.stop()
	n := startLC(t, env, s.DataDir)
	n.values = slices.Clone(s.values)
	return n
}

func (s *lcServer) do(t *testing.T, method, path, body string, headers ...string) response {
	t.Helper()
	s.note(body)
	r := s.testServer.do(t, method, path, body, headers...)
	if isAccess(path) {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.values {
		if strings.Contains(r.Body, v) {
			t.Errorf("%s %s: a value (%q) is in the response body %s", method, path, v, r.Body)
		}
		for k, hs := range r.Header {
			for _, h := range hs {
				if strings.Contains(h, v) {
					t.Errorf("%s %s: a value (%q) is in the response header %s: %s", method, path, v, k, h)
				}
			}
		}
	}
	return r
}

// note records the "value" of a JSON request body. Values are long and
// distinctive in these tests so a match is never a coincidence.
func (s *lcServer) note(body string) {
	var o map[string]any
	if json.Unmarshal([]byte(body), &o) != nil {
		return
	}
	if v, ok := o["value"].(string); ok && len(v) >= 8 {
		s.mu.Lock()
		s.values = append(s.values, v)
		s.mu.Unlock()
	}
}

func (s *lcServer) checkLogs(t *testing.T) {
	logs := s.Logs.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.values {
		if strings.Contains(logs, v) {
			t.Errorf("a value (%q) is in the log", v)
		}
	}
}

func isAccess(path string) bool {
	p, _, _ := strings.Cut(path, "?")
	return strings.HasSuffix(p, "/access")
}

var binIDRe = regexp.MustCompile(`"id":"[^"]*"`)

// lcNormalize is normalize plus recycle-bin ids, which must be opaque
// (>= 16 random bytes, hex or base58).
func lcNormalize(t *testing.T, body string) string {
	t.Helper()
	return binIDRe.ReplaceAllStringFunc(normalize(body), func(m string) string {
		id := m[len(`"id":"`) : len(m)-1]
		if !validBinID(id) {
			t.Errorf("recycle-bin id %q is not >= 16 random bytes in hex or base58", id)
		}
		return `"id":"<bin>"`
	})
}

var (
	hexIDRe    = regexp.MustCompile(`^[0-9a-f]{32,}$`)
	base58IDRe = regexp.MustCompile(`^[1-9A-HJ-NP-Za-km-z]{22,}$`)
)

func validBinID(id string) bool { return hexIDRe.MatchString(id) || base58IDRe.MatchString(id) }

// lcExpect is expect with recycle-bin ids normalized.
func lcExpect(t *testing.T, r response, status int, body string) {
	t.Helper()
	if got := lcNormalize(t, r.Body); r.Status != status || got != body {
		t.Errorf("got %d %s\nwant %d %s", r.Status, got, status, body)
	}
	if r.Body != "" && r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
}

// expect204 checks an empty 204.
func expect204(t *testing.T, r response) {
	t.Helper()
	if r.Status != 204 || r.Body != "" {
		t.Errorf("got %d %q, want 204 and no body", r.Status, r.Body)
	}
}

// etag returns the response's ETag, which must be strong and quoted.
func etag(t *testing.T, r response) string {
	t.Helper()
	e := r.Header.Get("ETag")
	if len(e) < 3 || e[0] != '"' || e[len(e)-1] != '"' || strings.Count(e, `"`) != 2 {
		t.Errorf("ETag %q is not a strong entity tag (status %d)", e, r.Status)
	}
	return e
}

// expectAccess checks an /access answer: value, version header, no-store.
func expectAccess(t *testing.T, r response, ws, name, value string, version int) {
	t.Helper()
	expect(t, r, 200, fmt.Sprintf(`{"name":%q,"workspace":%q,"value":%q}`, name, ws, value))
	if got := r.Header.Get("Coffer-Secret-Version"); got != fmt.Sprint(version) {
		t.Errorf("Coffer-Secret-Version = %q, want %d", got, version)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
}

// jsonField returns one top-level field of a JSON object body.
func jsonField(t *testing.T, r response, key string) any {
	t.Helper()
	var m map[string]any
	decode(t, r, &m)
	return m[key]
}

// parseTS parses a response timestamp.
func parseTS(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("timestamp %v: %v", v, err)
	}
	return ts
}

// page is a decoded list page; items keep what every list item has.
type page struct {
	Data []struct {
		ID             string  `json:"id"`
		Name           string  `json:"name"`
		Version        int     `json:"version"`
		State          string  `json:"state"`
		CreatedBy      *string `json:"created_by"`
		CurrentVersion *int    `json:"current_version"`
	} `json:"data"`
	Pagination struct {
		Page            int `json:"page"`
		PageSize        int `json:"page_size"`
		CurrentPageSize int `json:"current_page_size"`
		TotalPages      int `json:"total_pages"`
		TotalResults    int `json:"total_results"`
	} `json:"pagination"`
}

func getPage(t *testing.T, s *lcServer, path string, headers ...string) page {
	t.Helper()
	r := s.do(t, "GET", path, "", headers...)
	if r.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	var p page
	decode(t, r, &p)
	return p
}

// names lists the names of a page and its total as "[a b]/2".
func (p page) names() string {
	var out []string
	for _, d := range p.Data {
		out = append(out, d.Name)
	}
	return fmt.Sprintf("%v/%d", out, p.Pagination.TotalResults)
}

// versions lists a version page as "[3:enabled 2:destroyed]/3".
func (p page) versions() string {
	var out []string
	for _, d := range p.Data {
		out = append(out, fmt.Sprintf("%d:%s", d.Version, d.State))
	}
	return fmt.Sprintf("%v/%d", out, p.Pagination.TotalResults)
}

// binID returns the id of the newest recycle-bin entry of ws named name.
func binID(t *testing.T, s *lcServer, ws, name string, headers ...string) string {
	t.Helper()
	p := getPage(t, s, base+"/"+ws+"/deleted-secrets?"+url.Values{"filter[name]": {name}}.Encode(), headers...)
	if len(p.Data) == 0 {
		t.Fatalf("no recycle-bin entry %s/%s", ws, name)
	}
	return p.Data[0].ID
}

// mustDo sends a request that must answer want.
func mustDo(t *testing.T, s *lcServer, want int, method, path, body string, headers ...string) response {
	t.Helper()
	r := s.do(t, method, path, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r
}

// withEnv returns a copy of env with extra set.
func withEnv(env map[string]string, extra map[string]string) map[string]string {
	out := make(map[string]string, len(env)+len(extra))
	for k, v := range env {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// storedVersions returns the numbers of the versions of ws/name that still
// hold a ciphertext in the database, live or in the recycle bin.
func storedVersions(t *testing.T, s *lcServer, ws, name string) []int64 {
	t.Helper()
	var out []int64
	var after secrets.VersionKey
	for {
		batch, err := s.srv.store.ScanVersions(context.Background(), after, 500)
		if err != nil {
			t.Fatalf("ScanVersions: %v", err)
		}
		if len(batch) == 0 {
			return out
		}
		for _, v := range batch {
			if v.Workspace == ws && v.Name == name {
				out = append(out, v.Version)
			}
		}
		after = batch[len(batch)-1].VersionKey
	}
}

// storedCiphertexts returns the ciphertext of each stored version of ws/name.
func storedCiphertexts(t *testing.T, s *lcServer, ws, name string) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	var after secrets.VersionKey
	for {
		batch, err := s.srv.store.ScanVersions(context.Background(), after, 500)
		if err != nil {
			t.Fatalf("ScanVersions: %v", err)
		}
		if len(batch) == 0 {
			return out
		}
		for _, v := range batch {
			if v.Workspace == ws && v.Name == name {
				out[v.Version] = string(v.Sealed.Ciphertext)
			}
		}
		after = batch[len(batch)-1].VersionKey
	}
}

// ---------------------------------------------------------------- §1 versions

func TestLifecycleVersions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		p := base + "/default/secrets/kk"
		created := s.do(t, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-ver-1","description":"d"}`, "X-NMP-Principal-Id: alice")
		expect(t, created, 201, `{"name":"kk","workspace":"default","description":"d","created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		etag(t, created)
		expect(t, s.do(t, "GET", p, ""), 200, `{"name":"kk","workspace":"default","description":"d","created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", "VALUE-ver-1", 1)

		// A PATCH with a value makes version 2; without one, no version.
		patched := s.do(t, "PATCH", p, `{"value":"VALUE-ver-2"}`, "X-NMP-Principal-Id: bob")
		expect(t, patched, 200, `{"name":"kk","workspace":"default","description":"d","created_at":"<ts>","updated_at":"<ts>","current_version":2}`)
		etag(t, patched)
		expect(t, s.do(t, "PATCH", p, `{"description":"d2"}`), 200, `{"name":"kk","workspace":"default","description":"d2","created_at":"<ts>","updated_at":"<ts>","current_version":2}`)
		expect(t, s.do(t, "PATCH", p, `{}`), 200, `{"name":"kk","workspace":"default","description":"d2","created_at":"<ts>","updated_at":"<ts>","current_version":2}`)
		expect(t, s.do(t, "GET", p, ""), 200, `{"name":"kk","workspace":"default","description":"d2","created_at":"<ts>","updated_at":"<ts>","current_version":2}`)
		expect(t, s.do(t, "GET", base+"/default/secrets", ""), 200,
			`{"data":[{"name":"kk","workspace":"default","description":"d2","created_at":"<ts>","updated_at":"<ts>","current_version":2}],"pagination":{"page":1,"page_size":10,"current_page_size":1,"total_pages":1,"total_results":1}}`)

		expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", "VALUE-ver-2", 2)
		expectAccess(t, s.do(t, "GET", p+"/access?version=1", ""), "default", "kk", "VALUE-ver-1", 1)
		expectAccess(t, s.do(t, "GET", p+"/access?version=2", ""), "default", "kk", "VALUE-ver-2", 2)
		expect(t, s.do(t, "GET", p+"/access?version=3", ""), 404, `{"detail":"Secret default/kk version 3 not found"}`)

		// Versions: newest first, created_by is the writer, created_at the
		// time of the write that made the version.
		vl := s.do(t, "GET", p+"/versions", "")
		expect(t, vl, 200, `{"data":[{"version":2,"created_at":"<ts>","created_by":"bob","state":"enabled"},{"version":1,"created_at":"<ts>","created_by":"alice","state":"enabled"}],"pagination":{"page":1,"page_size":10,"current_page_size":2,"total_pages":1,"total_results":2}}`)
		var vs struct {
			Data []struct {
				CreatedAt string `json:"created_at"`
			}
		}
		decode(t, vl, &vs)
		if len(vs.Data) == 2 {
			if c := jsonField(t, created, "created_at"); vs.Data[1].CreatedAt != c {
				t.Errorf("version 1 created_at %s, secret created_at %v", vs.Data[1].CreatedAt, c)
			}
			if u := jsonField(t, patched, "updated_at"); vs.Data[0].CreatedAt != u {
				t.Errorf("version 2 created_at %s, PATCH updated_at %v", vs.Data[0].CreatedAt, u)
			}
		}

		// Restore copies version 1 into a new version 3.
		restored := s.do(t, "POST", p+"/versions/1/restore", "")
		expect(t, restored, 200, `{"name":"kk","workspace":"default","description":"d2","created_at":"<ts>","updated_at":"<ts>","current_version":3}`)
		etag(t, restored)
		if jsonField(t, restored, "created_at") != jsonField(t, created, "created_at") {
			t.Error("restore changed created_at")
		}
		expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", "VALUE-ver-1", 3)
		expect(t, s.do(t, "GET", p+"/versions", ""), 200, `{"data":[{"version":3,"created_at":"<ts>","state":"enabled"},{"version":2,"created_at":"<ts>","created_by":"bob","state":"enabled"},{"version":1,"created_at":"<ts>","created_by":"alice","state":"enabled"}],"pagination":{"page":1,"page_size":10,"current_page_size":3,"total_pages":1,"total_results":3}}`)

		// Destroy version 1: gone for good, still listed, its copy (3) stays.
		expect204(t, s.do(t, "DELETE", p+"/versions/1", ""))
		expect(t, s.do(t, "GET", p+"/access?version=1", ""), 404, `{"detail":"Secret default/kk version 1 not found"}`)
		expectAccess(t, s.do(t, "GET", p+"/access?version=3", ""), "default", "kk", "VALUE-ver-1", 3)
		if got := getPage(t, s, p+"/versions").versions(); got != "[3:enabled 2:enabled 1:destroyed]/3" {
			t.Errorf("versions after destroy = %s", got)
		}
		if got := storedVersions(t, s, "default", "kk"); !reflect.DeepEqual(got, []int64{2, 3}) {
			t.Errorf("stored versions after destroying 1 = %v, want [2 3] (the ciphertext must be gone)", got)
		}
		expect204(t, s.do(t, "DELETE", p+"/versions/1", "")) // already destroyed: no change
		expect(t, s.do(t, "POST", p+"/versions/1/restore", ""), 404, `{"detail":"Secret default/kk version 1 not found"}`)
		expect(t, s.do(t, "POST", p+"/versions/99/restore", ""), 404, `{"detail":"Secret default/kk version 99 not found"}`)
		expect(t, s.do(t, "DELETE", p+"/versions/99", ""), 404, `{"detail":"Secret default/kk version 99 not found"}`)

		cur := s.do(t, "DELETE", p+"/versions/3", "")
		expect(t, cur, 409, `{"detail":"Cannot destroy the current version 3 of secret default/kk; update or delete the secret instead"}`)
		if cur.Header.Get("x-should-retry") != "false" {
			t.Error("409 without x-should-retry: false")
		}
		expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", "VALUE-ver-1", 3)

		// Numbers are never reused: destroy 2, the next write is 4.
		expect204(t, s.do(t, "DELETE", p+"/versions/2", ""))
		expect(t, s.do(t, "PATCH", p, `{"value":"VALUE-ver-4"}`), 200, `{"name":"kk","workspace":"default","description":"d2","created_at":"<ts>","updated_at":"<ts>","current_version":4}`)
		if got := getPage(t, s, p+"/versions").versions(); got != "[4:enabled 3:enabled 2:destroyed 1:destroyed]/4" {
			t.Errorf("versions = %s", got)
		}

		// A missing secret: the secret's message, not a version's.
		for _, m := range []struct{ method, path string }{
			{"GET", "/versions"}, {"POST", "/versions/1/restore"}, {"DELETE", "/versions/1"}, {"GET", "/access?version=1"},
		} {
			expect(t, s.do(t, m.method, base+"/default/secrets/missing"+m.path, ""), 404, `{"detail":"Secret default/missing not found"}`)
			expect(t, s.do(t, m.method, base+"/nows/secrets/kk"+m.path, ""), 404, `{"detail":"Secret nows/kk not found"}`)
		}

		// Delete and re-create: a new secret, starting at version 1.
		expect204(t, s.do(t, "DELETE", p, ""))
		for _, path := range []string{"/versions", "/access?version=4"} {
			expect(t, s.do(t, "GET", p+path, ""), 404, `{"detail":"Secret default/kk not found"}`)
		}
		expect(t, s.do(t, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-ver-new"}`), 201,
			`{"name":"kk","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		if got := getPage(t, s, p+"/versions").versions(); got != "[1:enabled]/1" {
			t.Errorf("versions of the new secret = %s", got)
		}
		expectAccess(t, s.do(t, "GET", p+"/access?version=1", ""), "default", "kk", "VALUE-ver-new", 1)
	})
}

func TestLifecycleVersionNumberValidation(t *testing.T) {
	s := startLC(t, map[string]string{}, "")
	mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-val-1"}`)
	intItem := `{"detail":[{"type":"int_parsing","loc":[%q,"version"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":%q}]}`
	geItem := `{"detail":[{"type":"greater_than_equal","loc":[%q,"version"],"msg":"Input should be greater than or equal to 1","input":%q,"ctx":{"ge":1}}]}`
	tests := []struct {
		method, path, want string
	}{
		{"GET", "/kk/access?version=0", fmt.Sprintf(geItem, "query", "0")},
		{"GET", "/kk/access?version=-1", fmt.Sprintf(geItem, "query", "-1")},
		{"GET", "/kk/access?version=abc", fmt.Sprintf(intItem, "query", "abc")},
		{"GET", "/kk/access?version=1.5", fmt.Sprintf(intItem, "query", "1.5")},
		{"GET", "/kk/access?version=", fmt.Sprintf(intItem, "query", "")},
		{"GET", "/kk/access?version=99999999999999999999", fmt.Sprintf(intItem, "query", "99999999999999999999")},
		// Validation comes before the lookup, as in the reference (FastAPI).
		{"GET", "/missing/access?version=0", fmt.Sprintf(geItem, "query", "0")},
		{"POST", "/kk/versions/abc/restore", fmt.Sprintf(intItem, "path", "abc")},
		{"POST", "/kk/versions/0/restore", fmt.Sprintf(geItem, "path", "0")},
		{"POST", "/kk/versions/-1/restore", fmt.Sprintf(geItem, "path", "-1")},
		{"DELETE", "/kk/versions/abc", fmt.Sprintf(intItem, "path", "abc")},
		{"DELETE", "/kk/versions/0", fmt.Sprintf(geItem, "path", "0")},
		{"DELETE", "/missing/versions/x1", fmt.Sprintf(intItem, "path", "x1")},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			expect(t, s.do(t, tt.method, base+"/default/secrets"+tt.path, ""), 422, tt.want)
		})
	}
	// None of them changed anything.
	if got := getPage(t, s, base+"/default/secrets/kk/versions").versions(); got != "[1:enabled]/1" {
		t.Errorf("versions = %s", got)
	}
}

func TestLifecycleVersionHistoryLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		t.Run("max 3", func(t *testing.T) {
			s := startLC(t, withEnv(env(t), map[string]string{"COFFER_MAX_VERSIONS": "3"}), "")
			p := base + "/default/secrets/kk"
			mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-lim-1"}`)
			for i := 2; i <= 4; i++ {
				mustDo(t, s, 200, "PATCH", p, fmt.Sprintf(`{"value":"VALUE-lim-%d"}`, i))
			}
			// Writing version 4 erased version 1 (<= 4 - 3).
			if got := getPage(t, s, p+"/versions").versions(); got != "[4:enabled 3:enabled 2:enabled 1:destroyed]/4" {
				t.Errorf("versions = %s", got)
			}
			expect(t, s.do(t, "GET", p+"/access?version=1", ""), 404, `{"detail":"Secret default/kk version 1 not found"}`)
			expect(t, s.do(t, "POST", p+"/versions/1/restore", ""), 404, `{"detail":"Secret default/kk version 1 not found"}`)
			expectAccess(t, s.do(t, "GET", p+"/access?version=2", ""), "default", "kk", "VALUE-lim-2", 2)
			if got := storedVersions(t, s, "default", "kk"); !reflect.DeepEqual(got, []int64{2, 3, 4}) {
				t.Errorf("stored versions = %v, want [2 3 4] (a pruned ciphertext must be gone)", got)
			}
			// A description-only PATCH makes no version and prunes nothing.
			mustDo(t, s, 200, "PATCH", p, `{"description":"x"}`)
			expectAccess(t, s.do(t, "GET", p+"/access?version=2", ""), "default", "kk", "VALUE-lim-2", 2)
			// Restoring version 3 makes version 5 and prunes version 2.
			r := s.do(t, "POST", p+"/versions/3/restore", "")
			expect(t, r, 200, `{"name":"kk","workspace":"default","description":"x","created_at":"<ts>","updated_at":"<ts>","current_version":5}`)
			if got := getPage(t, s, p+"/versions").versions(); got != "[5:enabled 4:enabled 3:enabled 2:destroyed 1:destroyed]/5" {
				t.Errorf("versions after restore = %s", got)
			}
			expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", "VALUE-lim-3", 5)
			if got := storedVersions(t, s, "default", "kk"); !reflect.DeepEqual(got, []int64{3, 4, 5}) {
				t.Errorf("stored versions = %v, want [3 4 5]", got)
			}
		})
		t.Run("max 1", func(t *testing.T) {
			s := startLC(t, withEnv(env(t), map[string]string{"COFFER_MAX_VERSIONS": "1"}), "")
			p := base + "/default/secrets/kk"
			mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-one-1"}`)
			mustDo(t, s, 200, "PATCH", p, `{"value":"VALUE-one-2"}`)
			if got := getPage(t, s, p+"/versions").versions(); got != "[2:enabled 1:destroyed]/2" {
				t.Errorf("versions = %s", got)
			}
			expect(t, s.do(t, "GET", p+"/access?version=1", ""), 404, `{"detail":"Secret default/kk version 1 not found"}`)
			expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", "VALUE-one-2", 2)
			if got := storedVersions(t, s, "default", "kk"); !reflect.DeepEqual(got, []int64{2}) {
				t.Errorf("stored versions = %v, want [2]", got)
			}
		})
	})
}

func TestLifecycleVersionPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		p := base + "/default/secrets/kk"
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-page-1"}`)
		for i := 2; i <= 5; i++ {
			mustDo(t, s, 200, "PATCH", p, fmt.Sprintf(`{"value":"VALUE-page-%d"}`, i))
		}
		mustDo(t, s, 204, "DELETE", p+"/versions/3", "")
		tests := []struct{ query, want string }{
			{"", "[5:enabled 4:enabled 3:destroyed 2:enabled 1:enabled]/5"},
			{"?page_size=2", "[5:enabled 4:enabled]/5"},
			{"?page_size=2&page=2", "[3:destroyed 2:enabled]/5"},
			{"?page_size=2&page=3", "[1:enabled]/5"},
			{"?page_size=2&page=4", "[]/5"},
			{"?sort=created_at", "[1:enabled 2:enabled 3:destroyed 4:enabled 5:enabled]/5"},
			{"?sort=-created_at&page_size=1&page=5", "[1:enabled]/5"},
		}
		for _, tt := range tests {
			if got := getPage(t, s, p+"/versions"+tt.query).versions(); got != tt.want {
				t.Errorf("versions%s = %s, want %s", tt.query, got, tt.want)
			}
		}
		pg := getPage(t, s, p+"/versions?page_size=2&page=3").Pagination
		if pg.Page != 3 || pg.PageSize != 2 || pg.CurrentPageSize != 1 || pg.TotalPages != 3 || pg.TotalResults != 5 {
			t.Errorf("pagination = %+v", pg)
		}
		expect(t, s.do(t, "GET", p+"/versions?page_size=0", ""), 422,
			`{"detail":[{"type":"greater_than","loc":["query","page_size"],"msg":"Input should be greater than 0","input":"0","ctx":{"gt":0}}]}`)
		expectLocs(t, s.do(t, "GET", p+"/versions?sort=bogus", ""), `enum ["query","sort"]`)
	})
}

func TestLifecycleVersionsNGC(t *testing.T) {
	s := startLC(t, map[string]string{"NGC_API_KEY": "nvapi-lifecycle-xyz"}, "")
	p := base + "/system/secrets/ngc-api-key"
	ngc := `{"name":"ngc-api-key","workspace":"system","description":"Default NGC API key secret for the platform"`
	r := s.do(t, "GET", p, "")
	expect(t, r, 200, ngc+`,"created_at":null,"updated_at":null,"current_version":null}`)
	etag(t, r)
	expect(t, s.do(t, "GET", base+"/system/secrets", ""), 200,
		`{"data":[`+ngc+`}],"pagination":{"page":1,"page_size":10,"current_page_size":1,"total_pages":1,"total_results":1}}`)
	notFound := `{"detail":"Secret system/ngc-api-key not found"}`
	expect(t, s.do(t, "GET", p+"/versions", ""), 404, notFound)
	expect(t, s.do(t, "POST", p+"/versions/1/restore", ""), 404, notFound)
	expect(t, s.do(t, "DELETE", p+"/versions/1", ""), 404, notFound)
	expect(t, s.do(t, "GET", p+"/access?version=1", ""), 404, notFound)
	expect(t, s.do(t, "GET", p+"/access", ""), 200, `{"name":"ngc-api-key","workspace":"system","value":"nvapi-lifecycle-xyz"}`)
}

// ---------------------------------------------------------- §2 recycle bin

func TestDeletedRecycleBin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		p := base + "/default/secrets/kk"
		expect(t, s.do(t, "GET", deletedBase, ""), 200,
			`{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)

		first := mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-bin-1","description":"first"}`, "X-NMP-Principal-Id: alice")
		before := time.Now()
		expect204(t, s.do(t, "DELETE", p, ""))
		// The name is free at once.
		second := s.do(t, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-bin-2a"}`)
		expect(t, second, 201, `{"name":"kk","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		mustDo(t, s, 200, "PATCH", p, `{"value":"VALUE-bin-2b"}`)
		expect204(t, s.do(t, "DELETE", p, "", "X-NMP-Principal-Id: carol"))
		after := time.Now()
		expect(t, s.do(t, "GET", p, ""), 404, `{"detail":"Secret default/kk not found"}`)

		// Both deletions are listed, newest first, with their own ids.
		bin := s.do(t, "GET", deletedBase, "")
		lcExpect(t, bin, 200, `{"data":[`+
			`{"id":"<bin>","name":"kk","workspace":"default","current_version":2,"created_at":"<ts>","updated_at":"<ts>","deleted_at":"<ts>","deleted_by":"carol","purge_at":"<ts>"},`+
			`{"id":"<bin>","name":"kk","workspace":"default","description":"first","current_version":1,"created_at":"<ts>","updated_at":"<ts>","deleted_at":"<ts>","purge_at":"<ts>"}],`+
			`"pagination":{"page":1,"page_size":10,"current_page_size":2,"total_pages":1,"total_results":2}}`)
		var entries struct {
			Data []map[string]any `json:"data"`
		}
		decode(t, bin, &entries)
		if len(entries.Data) != 2 {
			t.Fatalf("bin has %d entries", len(entries.Data))
		}
		id2, id1 := entries.Data[0]["id"].(string), entries.Data[1]["id"].(string)
		if id1 == id2 {
			t.Errorf("both entries have id %s", id1)
		}
		for i, e := range entries.Data {
			deleted, purge := parseTS(t, e["deleted_at"]), parseTS(t, e["purge_at"])
			if d := purge.Sub(deleted); d != 168*time.Hour {
				t.Errorf("entry %d: purge_at - deleted_at = %v, want the default retention 168h", i, d)
			}
			if deleted.Before(before.Add(-time.Second)) || deleted.After(after.Add(time.Second)) {
				t.Errorf("entry %d: deleted_at %v outside the test's deletes (%v..%v)", i, deleted, before, after)
			}
		}
		if entries.Data[1]["created_at"] != jsonField(t, first, "created_at") || entries.Data[0]["created_at"] != jsonField(t, second, "created_at") {
			t.Errorf("bin created_at values %v/%v do not match the creates", entries.Data[1]["created_at"], entries.Data[0]["created_at"])
		}

		// Restore under the old name while the name is live: the create's 409.
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-bin-3"}`)
		conflict := s.do(t, "POST", deletedBase+"/"+id1+"/restore", "")
		expect(t, conflict, 409, `{"detail":"Secret 'default/kk' already exists"}`)
		if conflict.Header.Get("x-should-retry") != "false" {
			t.Error("409 without x-should-retry: false")
		}
		expect(t, s.do(t, "POST", deletedBase+"/"+id1+"/restore", `{"name":"kk"}`), 409, `{"detail":"Secret 'default/kk' already exists"}`)
		expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", "VALUE-bin-3", 1)

		// Under a new name: re-sealed for it, every version readable,
		// versions, created_at and created_by kept, updated_at new.
		restoreStart := time.Now()
		r := s.do(t, "POST", deletedBase+"/"+id1+"/restore", `{"name":"k-first"}`)
		expect(t, r, 200, `{"name":"k-first","workspace":"default","description":"first","created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		etag(t, r)
		if jsonField(t, r, "created_at") != jsonField(t, first, "created_at") {
			t.Errorf("restore changed created_at: %v -> %v", jsonField(t, first, "created_at"), jsonField(t, r, "created_at"))
		}
		if u := parseTS(t, jsonField(t, r, "updated_at")); u.Before(restoreStart.Add(-time.Second)) {
			t.Errorf("updated_at %v is not the restore time (%v)", u, restoreStart)
		}
		expectAccess(t, s.do(t, "GET", base+"/default/secrets/k-first/access", ""), "default", "k-first", "VALUE-bin-1", 1)
		expect(t, s.do(t, "GET", base+"/default/secrets/k-first/versions", ""), 200,
			`{"data":[{"version":1,"created_at":"<ts>","created_by":"alice","state":"enabled"}],"pagination":{"page":1,"page_size":10,"current_page_size":1,"total_pages":1,"total_results":1}}`)

		expect(t, s.do(t, "POST", deletedBase+"/"+id2+"/restore", `{"name":"k-second"}`), 200,
			`{"name":"k-second","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":2}`)
		expectAccess(t, s.do(t, "GET", base+"/default/secrets/k-second/access", ""), "default", "k-second", "VALUE-bin-2b", 2)
		expectAccess(t, s.do(t, "GET", base+"/default/secrets/k-second/access?version=1", ""), "default", "k-second", "VALUE-bin-2a", 1)
		if got := getPage(t, s, base+"/default/secrets/k-second/versions").versions(); got != "[2:enabled 1:enabled]/2" {
			t.Errorf("restored versions = %s", got)
		}
		// A restored entry has left the bin.
		expect(t, s.do(t, "GET", deletedBase, ""), 200,
			`{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)
		for _, id := range []string{id1, id2} {
			msg := fmt.Sprintf(`{"detail":"Deleted secret %s not found"}`, id)
			expect(t, s.do(t, "POST", deletedBase+"/"+id+"/restore", ""), 404, msg)
			expect(t, s.do(t, "DELETE", deletedBase+"/"+id, ""), 404, msg)
		}

		// Under the old name: no body, an empty object, a null name or the
		// same name all keep it, and reuse the ciphertexts.
		sealed := storedCiphertexts(t, s, "default", "kk")
		for i, body := range []string{"", `{}`, `{"name":null}`, `{"name":"kk"}`} {
			expect204(t, s.do(t, "DELETE", p, ""))
			id := binID(t, s, "default", "kk")
			r := s.do(t, "POST", deletedBase+"/"+id+"/restore", body)
			expect(t, r, 200, `{"name":"kk","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
			expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", "VALUE-bin-3", 1)
			if got := storedCiphertexts(t, s, "default", "kk"); !reflect.DeepEqual(got, sealed) || len(got) != 1 {
				t.Errorf("restore under the old name changed the stored ciphertexts (%d before, %d after)", len(sealed), len(got))
			}
			if t.Failed() {
				t.Fatalf("restore body %d (%q) failed", i, body)
			}
		}

		// An entry with a destroyed version comes back with it destroyed;
		// numbering goes on where it stopped.
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"part","value":"VALUE-part-1"}`)
		mustDo(t, s, 200, "PATCH", base+"/default/secrets/part", `{"value":"VALUE-part-2"}`)
		mustDo(t, s, 200, "PATCH", base+"/default/secrets/part", `{"value":"VALUE-part-3"}`)
		mustDo(t, s, 204, "DELETE", base+"/default/secrets/part/versions/2", "")
		old := storedCiphertexts(t, s, "default", "part")
		mustDo(t, s, 204, "DELETE", base+"/default/secrets/part", "")
		mustDo(t, s, 200, "POST", deletedBase+"/"+binID(t, s, "default", "part")+"/restore", `{"name":"part-new"}`)
		if got := getPage(t, s, base+"/default/secrets/part-new/versions").versions(); got != "[3:enabled 2:destroyed 1:enabled]/3" {
			t.Errorf("restored versions = %s", got)
		}
		expect(t, s.do(t, "GET", base+"/default/secrets/part-new/access?version=2", ""), 404, `{"detail":"Secret default/part-new version 2 not found"}`)
		expectAccess(t, s.do(t, "GET", base+"/default/secrets/part-new/access?version=1", ""), "default", "part-new", "VALUE-part-1", 1)
		resealed := storedCiphertexts(t, s, "default", "part-new")
		if len(resealed) != 2 || resealed[1] == old[1] || resealed[3] == old[3] {
			t.Errorf("restore under a new name must re-seal each kept version (versions %v)", slices.Sorted(maps.Keys(resealed)))
		}
		expect(t, s.do(t, "PATCH", base+"/default/secrets/part-new", `{"value":"VALUE-part-4"}`), 200,
			`{"name":"part-new","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":4}`)

		// Purge: gone for good.
		expect204(t, s.do(t, "DELETE", p, ""))
		id := binID(t, s, "default", "kk")
		expect204(t, s.do(t, "DELETE", deletedBase+"/"+id, ""))
		msg := fmt.Sprintf(`{"detail":"Deleted secret %s not found"}`, id)
		expect(t, s.do(t, "DELETE", deletedBase+"/"+id, ""), 404, msg)
		expect(t, s.do(t, "POST", deletedBase+"/"+id+"/restore", ""), 404, msg)
		if got := getPage(t, s, deletedBase).names(); got != "[]/0" {
			t.Errorf("bin after purge = %s", got)
		}
		if got := storedVersions(t, s, "default", "kk"); got != nil {
			t.Errorf("purged secret still has stored versions %v", got)
		}

		// Unknown ids, and ids of another workspace.
		expect(t, s.do(t, "POST", deletedBase+"/nope/restore", ""), 404, `{"detail":"Deleted secret nope not found"}`)
		expect(t, s.do(t, "DELETE", deletedBase+"/nope", ""), 404, `{"detail":"Deleted secret nope not found"}`)
		mustDo(t, s, 201, "POST", wsBase, `{"name":"ml"}`)
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"xx","value":"VALUE-bin-x"}`)
		mustDo(t, s, 204, "DELETE", base+"/default/secrets/xx", "")
		idx := binID(t, s, "default", "xx")
		msg = fmt.Sprintf(`{"detail":"Deleted secret %s not found"}`, idx)
		expect(t, s.do(t, "POST", base+"/ml/deleted-secrets/"+idx+"/restore", ""), 404, msg)
		expect(t, s.do(t, "DELETE", base+"/ml/deleted-secrets/"+idx, ""), 404, msg)
		expect(t, s.do(t, "GET", base+"/ml/deleted-secrets", ""), 200,
			`{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)
		expect(t, s.do(t, "GET", base+"/ml/secrets/xx", ""), 404, `{"detail":"Secret ml/xx not found"}`)
		if got := getPage(t, s, deletedBase).names(); got != "[xx]/1" {
			t.Errorf("default bin = %s", got)
		}
		expect(t, s.do(t, "GET", base+"/nope/deleted-secrets", ""), 404, `{"detail":"Workspace 'nope' not found"}`)
	})
}

func TestDeletedRestoreValidation(t *testing.T) {
	s := startLC(t, map[string]string{}, "")
	mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-rv-1"}`)
	mustDo(t, s, 204, "DELETE", base+"/default/secrets/kk", "")
	id := binID(t, s, "default", "kk")
	tests := []struct{ name, body, want string }{
		{"upper case", `{"name":"Bad"}`, `{"detail":[` + fmt.Sprintf(patternItem, "Bad") + `]}`},
		{"one char", `{"name":"a"}`, `{"detail":[` + fmt.Sprintf(patternItem, "a") + `]}`},
		{"double hyphen", `{"name":"a--b"}`, `{"detail":[` + fmt.Sprintf(patternItem, "a--b") + `]}`},
		{"bad chars", `{"name":"my key"}`, `{"detail":[` + fmt.Sprintf(charsItem, "my key", "my key") + `]}`},
		{"not a string", `{"name":5}`, `{"detail":[{"type":"string_type","loc":["body","name"],"msg":"Input should be a valid string","input":5}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, s.do(t, "POST", deletedBase+"/"+id+"/restore", tt.body), 422, tt.want)
		})
	}
	expectLocs(t, s.do(t, "POST", deletedBase+"/"+id+"/restore", `["kk"]`), `model_attributes_type ["body"]`)
	expectLocs(t, s.do(t, "POST", deletedBase+"/"+id+"/restore", `{"name":`), `json_invalid ["body",8]`)
	// The entry is still there and restores.
	expect(t, s.do(t, "POST", deletedBase+"/"+id+"/restore", `{"name":"k-ok"}`), 200,
		`{"name":"k-ok","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
	expectAccess(t, s.do(t, "GET", base+"/default/secrets/k-ok/access", ""), "default", "k-ok", "VALUE-rv-1", 1)
}

func TestDeletedRetention(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		t.Run("0 erases at once", func(t *testing.T) {
			s := startLC(t, withEnv(env(t), map[string]string{"COFFER_DELETED_RETENTION": "0"}), "")
			mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-ret0-1"}`)
			mustDo(t, s, 200, "PATCH", base+"/default/secrets/kk", `{"value":"VALUE-ret0-2"}`)
			expect204(t, s.do(t, "DELETE", base+"/default/secrets/kk", ""))
			expect(t, s.do(t, "GET", deletedBase, ""), 200,
				`{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)
			if got := storedVersions(t, s, "default", "kk"); got != nil {
				t.Errorf("erased secret still has stored versions %v", got)
			}
			expect(t, s.do(t, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-ret0-3"}`), 201,
				`{"name":"kk","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		})
		t.Run("1h", func(t *testing.T) {
			s := startLC(t, withEnv(env(t), map[string]string{"COFFER_DELETED_RETENTION": "1h"}), "")
			mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-ret1h-1"}`)
			expect204(t, s.do(t, "DELETE", base+"/default/secrets/kk", ""))
			var bin struct{ Data []map[string]any }
			decode(t, s.do(t, "GET", deletedBase, ""), &bin)
			if len(bin.Data) != 1 {
				t.Fatalf("bin = %v", bin.Data)
			}
			if d := parseTS(t, bin.Data[0]["purge_at"]).Sub(parseTS(t, bin.Data[0]["deleted_at"])); d != time.Hour {
				t.Errorf("purge_at - deleted_at = %v, want 1h", d)
			}
		})
		t.Run("expired entries are invisible at once", func(t *testing.T) {
			s := startLC(t, withEnv(env(t), map[string]string{"COFFER_DELETED_RETENTION": "1s"}), "")
			mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-ret1s-1"}`)
			expect204(t, s.do(t, "DELETE", base+"/default/secrets/kk", ""))
			id := binID(t, s, "default", "kk")
			time.Sleep(1500 * time.Millisecond)
			expect(t, s.do(t, "GET", deletedBase, ""), 200,
				`{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)
			msg := fmt.Sprintf(`{"detail":"Deleted secret %s not found"}`, id)
			expect(t, s.do(t, "POST", deletedBase+"/"+id+"/restore", ""), 404, msg)
			expect(t, s.do(t, "DELETE", deletedBase+"/"+id, ""), 404, msg)
			// The background pass erases it.
			s.srv.purgeOnce(context.Background())
			if got := storedVersions(t, s, "default", "kk"); got != nil {
				t.Errorf("expired entry still has stored versions %v after a purge pass", got)
			}
		})
	})
}

func TestDeletedWorkspaceDeletionEmptiesBin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		mustDo(t, s, 201, "POST", wsBase, `{"name":"tmp"}`)
		mustDo(t, s, 201, "POST", base+"/tmp/secrets", `{"name":"kk","value":"VALUE-ws-1"}`)
		mustDo(t, s, 201, "POST", base+"/tmp/secrets", `{"name":"live","value":"VALUE-ws-2"}`)
		mustDo(t, s, 204, "DELETE", base+"/tmp/secrets/kk", "")
		id := binID(t, s, "tmp", "kk")
		mustDo(t, s, 200, "DELETE", wsBase+"/tmp", "")
		expect(t, s.do(t, "GET", base+"/tmp/deleted-secrets", ""), 404, `{"detail":"Workspace 'tmp' not found"}`)
		mustDo(t, s, 201, "POST", wsBase, `{"name":"tmp"}`)
		expect(t, s.do(t, "GET", base+"/tmp/deleted-secrets", ""), 200,
			`{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)
		expect(t, s.do(t, "POST", base+"/tmp/deleted-secrets/"+id+"/restore", ""), 404, fmt.Sprintf(`{"detail":"Deleted secret %s not found"}`, id))
		for _, name := range []string{"kk", "live"} {
			if got := storedVersions(t, s, "tmp", name); got != nil {
				t.Errorf("tmp/%s still has stored versions %v after its workspace was deleted", name, got)
			}
		}
	})
}

// -------------------------------------------------- §3 conditional requests

func TestETagLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		e := env(t)
		s := startLC(t, e, "")
		p := base + "/default/secrets/kk"
		seen := map[string]string{}
		fresh := func(what, tag string) {
			t.Helper()
			if prev, ok := seen[tag]; ok {
				t.Errorf("ETag after %s %s equals the one after %s", what, tag, prev)
			}
			seen[tag] = what
		}
		get := func() string {
			t.Helper()
			return etag(t, mustDo(t, s, 200, "GET", p, ""))
		}

		e1 := etag(t, mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-et-1"}`))
		fresh("create", e1)
		for range 3 {
			if g := get(); g != e1 {
				t.Errorf("GET ETag %s, create ETag %s", g, e1)
			}
		}
		if r := rotate(t, s.testServer); r.Status != 202 {
			t.Errorf("rotate: %d %s", r.Status, r.Body)
		}
		if g := get(); g != e1 {
			t.Errorf("ETag changed by rotation: %s -> %s", e1, g)
		}
		if _, pg := e["COFFER_DATABASE_DSN"]; pg {
			// Another replica on the same database answers the same tag.
			other := startLC(t, e, "")
			if g := etag(t, mustDo(t, other, 200, "GET", p, "")); g != e1 {
				t.Errorf("another replica's ETag %s, want %s", g, e1)
			}
		}

		steps := []struct {
			what, method, path, body string
			status                   int
			tagged                   bool // the response carries the new ETag
		}{
			{"description PATCH", "PATCH", p, `{"description":"d"}`, 200, true},
			{"value PATCH", "PATCH", p, `{"value":"VALUE-et-2"}`, 200, true},
			{"value PATCH", "PATCH", p, `{"value":"VALUE-et-3"}`, 200, true},
			{"version destroy", "DELETE", p + "/versions/1", "", 204, false},
			{"version restore", "POST", p + "/versions/2/restore", "", 200, true},
			{"delete and re-create", "", "", "", 0, false},
			{"restore from the bin", "", "", "", 0, false},
		}
		for _, st := range steps {
			var tag string
			switch st.what {
			case "delete and re-create":
				mustDo(t, s, 204, "DELETE", p, "")
				tag = etag(t, mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-et-1"}`))
			case "restore from the bin":
				mustDo(t, s, 204, "DELETE", p, "")
				tag = etag(t, mustDo(t, s, 200, "POST", deletedBase+"/"+binID(t, s, "default", "kk")+"/restore", ""))
			default:
				r := mustDo(t, s, st.status, st.method, st.path, st.body)
				if st.tagged {
					tag = etag(t, r)
				} else {
					tag = get()
				}
			}
			fresh(st.what, tag)
			if g := get(); g != tag {
				t.Errorf("after %s: GET ETag %s, response ETag %s", st.what, g, tag)
			}
			if g := get(); g != tag {
				t.Errorf("after %s: ETag not stable across GETs", st.what)
			}
		}
	})
}

func TestETagIfNoneMatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		p := base + "/default/secrets/kk"
		tag := etag(t, mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-inm-1"}`))
		tests := []struct {
			header string
			status int
		}{
			{tag, 304},
			{"*", 304},
			{`"other", ` + tag, 304},
			{"W/" + tag, 304}, // If-None-Match compares weakly (RFC 9110 §13.1.2)
			{`"other"`, 200},
		}
		for _, tt := range tests {
			r := s.do(t, "GET", p, "", "If-None-Match: "+tt.header)
			if r.Status != tt.status {
				t.Errorf("If-None-Match %s: %d %s, want %d", tt.header, r.Status, r.Body, tt.status)
				continue
			}
			if tt.status == 304 && r.Body != "" {
				t.Errorf("304 with a body %q", r.Body)
			}
			if g := r.Header.Get("ETag"); g != tag {
				t.Errorf("If-None-Match %s: ETag %q, want %s", tt.header, g, tag)
			}
			if tt.status == 200 {
				expect(t, r, 200, `{"name":"kk","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
			}
		}
		mustDo(t, s, 200, "PATCH", p, `{"description":"new"}`)
		if r := s.do(t, "GET", p, "", "If-None-Match: "+tag); r.Status != 200 {
			t.Errorf("If-None-Match with the old tag after a change: %d", r.Status)
		}
		expect(t, s.do(t, "GET", base+"/default/secrets/missing", "", "If-None-Match: *"), 404, `{"detail":"Secret default/missing not found"}`)

		// Create with If-None-Match: * behaves as create.
		r := s.do(t, "POST", base+"/default/secrets", `{"name":"k2","value":"VALUE-inm-2"}`, "If-None-Match: *")
		expect(t, r, 201, `{"name":"k2","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		expect(t, s.do(t, "POST", base+"/default/secrets", `{"name":"k2","value":"VALUE-inm-3"}`, "If-None-Match: *"), 409,
			`{"detail":"Secret 'default/k2' already exists"}`)
		expectAccess(t, s.do(t, "GET", base+"/default/secrets/k2/access", ""), "default", "k2", "VALUE-inm-2", 1)
	})
}

func TestIfMatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		p := base + "/default/secrets/kk"
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-im-1","description":"d"}`)
		mustDo(t, s, 200, "PATCH", p, `{"value":"VALUE-im-2"}`)
		mustDo(t, s, 200, "PATCH", p, `{"value":"VALUE-im-3"}`)

		// state is everything a client can see of k.
		state := func() string {
			t.Helper()
			g := s.do(t, "GET", p, "")
			return g.Header.Get("ETag") + " " + g.Body + " " + s.do(t, "GET", p+"/versions", "").Body + " " +
				s.do(t, "GET", p+"/access", "").Body + " " + s.do(t, "GET", deletedBase, "").Body
		}
		writes := []struct{ name, method, path, body string }{
			{"PATCH value", "PATCH", p, `{"value":"VALUE-im-x"}`},
			{"PATCH description", "PATCH", p, `{"description":"x"}`},
			{"PATCH empty", "PATCH", p, `{}`},
			{"DELETE", "DELETE", p, ""},
			{"restore version", "POST", p + "/versions/1/restore", ""},
			{"destroy version", "DELETE", p + "/versions/1", ""},
		}
		current := etag(t, mustDo(t, s, 200, "GET", p, ""))
		stale := []string{`"stale"`, "W/" + current, `"stale", "other"`}
		for _, w := range writes {
			for _, h := range stale {
				t.Run(w.name+" If-Match "+h, func(t *testing.T) {
					before := state()
					expect(t, s.do(t, w.method, w.path, w.body, "If-Match: "+h), 412, changed412)
					if after := state(); after != before {
						t.Errorf("a 412 changed the secret:\n%s\n%s", before, after)
					}
				})
			}
		}
		// On a missing secret any If-Match fails, * included.
		for _, w := range writes {
			path := strings.Replace(w.path, "/secrets/kk", "/secrets/missing", 1)
			for _, h := range []string{"*", current} {
				expect(t, s.do(t, w.method, path, w.body, "If-Match: "+h), 412,
					`{"detail":"Precondition failed: secret default/missing has changed"}`)
			}
		}

		// The current tag (alone, in a list, or *) lets each write through.
		do := func(method, path, body, ifMatch string, status int) response {
			t.Helper()
			r := s.do(t, method, path, body, "If-Match: "+ifMatch)
			if r.Status != status {
				t.Fatalf("%s %s If-Match %s: %d %s, want %d", method, path, ifMatch, r.Status, r.Body, status)
			}
			return r
		}
		tag := etag(t, mustDo(t, s, 200, "GET", p, ""))
		tag = etag(t, do("PATCH", p, `{"value":"VALUE-im-4"}`, tag, 200))
		tag = etag(t, do("PATCH", p, `{"description":"e"}`, `"other", `+tag, 200))
		do("DELETE", p+"/versions/1", "", tag, 204)
		tag = etag(t, mustDo(t, s, 200, "GET", p, ""))
		tag = etag(t, do("POST", p+"/versions/2/restore", "", tag, 200))
		expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", "VALUE-im-2", 5)
		etag(t, do("PATCH", p, `{"value":"VALUE-im-6"}`, "*", 200))
		do("DELETE", p+"/versions/2", "", "*", 204)
		etag(t, do("POST", p+"/versions/3/restore", "", "*", 200))
		tag = etag(t, mustDo(t, s, 200, "GET", p, ""))
		do("DELETE", p, "", tag, 204)
		expect(t, s.do(t, "GET", p, ""), 404, `{"detail":"Secret default/kk not found"}`)
		// The old tag does not match a re-created secret of the same name.
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-im-new"}`)
		expect(t, s.do(t, "PATCH", p, `{"value":"VALUE-im-y"}`, "If-Match: "+tag), 412, changed412)
		mustDo(t, s, 204, "DELETE", p, "", "If-Match: *")
	})
}

func TestIfMatchConcurrentPatches(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		p := base + "/default/secrets/kk"
		tag := etag(t, mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-cc-0"}`))
		const n = 16
		statuses := make([]int, n)
		bodies := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := s.do(t, "PATCH", p, fmt.Sprintf(`{"value":"VALUE-cc-%02d"}`, i+1), "If-Match: "+tag)
				statuses[i], bodies[i] = r.Status, r.Body
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, st := range statuses {
			switch st {
			case 200:
				if winner >= 0 {
					t.Errorf("PATCHes %d and %d both succeeded with the same If-Match", winner, i)
				}
				winner = i
			case 412:
				if bodies[i] != changed412 {
					t.Errorf("412 body %s", bodies[i])
				}
			default:
				t.Errorf("PATCH %d: %d %s", i, st, bodies[i])
			}
		}
		if winner < 0 {
			t.Fatalf("no PATCH succeeded: %v", statuses)
		}
		expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "kk", fmt.Sprintf("VALUE-cc-%02d", winner+1), 2)
		if got := getPage(t, s, p+"/versions").versions(); got != "[2:enabled 1:enabled]/2" {
			t.Errorf("versions = %s", got)
		}
	})
}

func TestDeletedRestoreRacesCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		p := base + "/default/secrets/race"
		const rounds = 10
		for i := range rounds {
			mustDo(t, s, 201, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":"race","value":"VALUE-old-%02d"}`, i))
			mustDo(t, s, 204, "DELETE", p, "")
			id := binID(t, s, "default", "race")
			var restore, create response
			var wg sync.WaitGroup
			start := make(chan struct{})
			wg.Add(2)
			go func() { defer wg.Done(); <-start; restore = s.do(t, "POST", deletedBase+"/"+id+"/restore", "") }()
			go func() {
				defer wg.Done()
				<-start
				create = s.do(t, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":"race","value":"VALUE-new-%02d"}`, i))
			}()
			close(start)
			wg.Wait()
			conflict := `{"detail":"Secret 'default/race' already exists"}`
			switch {
			case restore.Status == 200 && create.Status == 409:
				expect(t, create, 409, conflict)
				expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "race", fmt.Sprintf("VALUE-old-%02d", i), 1)
			case restore.Status == 409 && create.Status == 201:
				expect(t, restore, 409, conflict)
				expectAccess(t, s.do(t, "GET", p+"/access", ""), "default", "race", fmt.Sprintf("VALUE-new-%02d", i), 1)
				// The losing entry is still in the bin.
				mustDo(t, s, 204, "DELETE", deletedBase+"/"+id, "")
			default:
				t.Fatalf("round %d: restore %d %s, create %d %s; want exactly one success and one 409",
					i, restore.Status, restore.Body, create.Status, create.Body)
			}
			mustDo(t, s, 204, "DELETE", p, "")
		}
	})
}

func TestDeletedRestoreRacesRestore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		for i := range 10 {
			name := fmt.Sprintf("dr-%d", i)
			mustDo(t, s, 201, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":%q,"value":"VALUE-dr-%02d"}`, name, i))
			mustDo(t, s, 204, "DELETE", base+"/default/secrets/"+name, "")
			id := binID(t, s, "default", name)
			var rs [2]response
			var wg sync.WaitGroup
			start := make(chan struct{})
			for j := range rs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					rs[j] = s.do(t, "POST", deletedBase+"/"+id+"/restore", fmt.Sprintf(`{"name":"%s-%d"}`, name, j))
				}()
			}
			close(start)
			wg.Wait()
			if rs[0].Status == rs[1].Status || rs[0].Status+rs[1].Status != 200+404 {
				t.Fatalf("two restores of one entry: %d %s and %d %s; want one 200 and one 404", rs[0].Status, rs[0].Body, rs[1].Status, rs[1].Body)
			}
			winner := 0
			if rs[1].Status == 200 {
				winner = 1
			}
			expect(t, rs[1-winner], 404, fmt.Sprintf(`{"detail":"Deleted secret %s not found"}`, id))
			expectAccess(t, s.do(t, "GET", fmt.Sprintf("%s/default/secrets/%s-%d/access", base, name, winner), ""), "default", fmt.Sprintf("%s-%d", name, winner), fmt.Sprintf("VALUE-dr-%02d", i), 1)
			expect(t, s.do(t, "GET", fmt.Sprintf("%s/default/secrets/%s-%d", base, name, 1-winner), ""), 404, fmt.Sprintf(`{"detail":"Secret default/%s-%d not found"}`, name, 1-winner))
		}
	})
}

// ------------------------------------------------------- §4 list queries

// lqSetup creates workspace lq with five secrets in this order, then
// updates bravo and alpha (in that order), and returns the responses.
func lqSetup(t *testing.T, s *lcServer) map[string]response {
	t.Helper()
	mustDo(t, s, 201, "POST", wsBase, `{"name":"lq"}`)
	out := map[string]response{}
	for _, c := range []struct{ name, desc string }{
		{"alpha", `"Production database"`},
		{"bravo", `"staging API token"`},
		{"charlie", `null`},
		{"delta", `"prod api key"`},
		{"echo_1", `"100% coverage"`},
	} {
		out[c.name] = mustDo(t, s, 201, "POST", base+"/lq/secrets",
			fmt.Sprintf(`{"name":%q,"value":"VALUE-lq-%s","description":%s}`, c.name, c.name, c.desc))
	}
	out["bravo-updated"] = mustDo(t, s, 200, "PATCH", base+"/lq/secrets/bravo", `{"description":"staging API token (rotated)"}`)
	out["alpha-updated"] = mustDo(t, s, 200, "PATCH", base+"/lq/secrets/alpha", `{"value":"VALUE-lq-alpha-2"}`)
	return out
}

func TestListQuerySortFilterSearch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		rs := lqSetup(t, s)
		ts := func(name, field string) string { return jsonField(t, rs[name], field).(string) }
		// An equal instant in another zone.
		plus2 := func(v string) string {
			tm, _ := time.Parse(time.RFC3339Nano, v)
			return tm.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano)
		}
		tests := []struct {
			name  string
			query url.Values
			want  string
		}{
			{"default", nil, "[echo_1 delta charlie bravo alpha]/5"},
			{"name", url.Values{"sort": {"name"}}, "[alpha bravo charlie delta echo_1]/5"},
			{"-name", url.Values{"sort": {"-name"}}, "[echo_1 delta charlie bravo alpha]/5"},
			{"created_at", url.Values{"sort": {"created_at"}}, "[alpha bravo charlie delta echo_1]/5"},
			{"-created_at", url.Values{"sort": {"-created_at"}}, "[echo_1 delta charlie bravo alpha]/5"},
			{"updated_at", url.Values{"sort": {"updated_at"}}, "[charlie delta echo_1 bravo alpha]/5"},
			{"-updated_at", url.Values{"sort": {"-updated_at"}}, "[alpha bravo echo_1 delta charlie]/5"},
			{"last sort wins", url.Values{"sort": {"-name", "name"}}, "[alpha bravo charlie delta echo_1]/5"},
			{"paged", url.Values{"sort": {"name"}, "page": {"2"}, "page_size": {"2"}}, "[charlie delta]/5"},

			{"name exact", url.Values{"filter[name]": {"bravo"}}, "[bravo]/1"},
			{"name exact is exact", url.Values{"filter[name]": {"brav"}}, "[]/0"},
			{"name like any", url.Values{"filter[name][$like]": {"%A%"}, "sort": {"name"}}, "[alpha bravo charlie delta]/4"},
			{"name like prefix", url.Values{"filter[name][$like]": {"D%"}}, "[delta]/1"},
			{"name like one char", url.Values{"filter[name][$like]": {"_ravo"}}, "[bravo]/1"},
			{"name like escaped _", url.Values{"filter[name][$like]": {`echo\_1`}}, "[echo_1]/1"},
			{"description like", url.Values{"filter[description][$like]": {"%API%"}, "sort": {"name"}}, "[bravo delta]/2"},
			{"description like prefix", url.Values{"filter[description][$like]": {"prod%"}, "sort": {"name"}}, "[alpha delta]/2"},
			{"description like escaped %", url.Values{"filter[description][$like]": {`100\%%`}}, "[echo_1]/1"},
			{"created gte", url.Values{"filter[created_at][gte]": {ts("charlie", "created_at")}}, "[echo_1 delta charlie]/3"},
			{"created lte", url.Values{"filter[created_at][lte]": {ts("bravo", "created_at")}}, "[bravo alpha]/2"},
			{"created range", url.Values{"filter[created_at][gte]": {ts("bravo", "created_at")}, "filter[created_at][lte]": {ts("delta", "created_at")}}, "[delta charlie bravo]/3"},
			{"created gte other zone", url.Values{"filter[created_at][gte]": {plus2(ts("charlie", "created_at"))}}, "[echo_1 delta charlie]/3"},
			{"updated gte", url.Values{"filter[updated_at][gte]": {ts("bravo-updated", "updated_at")}, "sort": {"updated_at"}}, "[bravo alpha]/2"},
			{"updated lte", url.Values{"filter[updated_at][lte]": {ts("echo_1", "updated_at")}, "sort": {"name"}}, "[charlie delta echo_1]/3"},
			{"filters combine", url.Values{"filter[name][$like]": {"%a%"}, "filter[description][$like]": {"%prod%"}}, "[delta alpha]/2"},
			{"totals count the filtered set", url.Values{"filter[name][$like]": {"%a%"}, "page_size": {"3"}, "sort": {"name"}}, "[alpha bravo charlie]/4"},
			{"filtered last page", url.Values{"filter[name][$like]": {"%a%"}, "page_size": {"3"}, "page": {"2"}, "sort": {"name"}}, "[delta]/4"},

			{"search description", url.Values{"search": {"PROD"}, "sort": {"name"}}, "[alpha delta]/2"},
			{"search name", url.Values{"search": {"ch"}, "sort": {"name"}}, "[charlie echo_1]/2"},
			{"search name or description", url.Values{"search": {"a"}, "sort": {"name"}}, "[alpha bravo charlie delta echo_1]/5"},
			{"search is a substring, not a pattern (%)", url.Values{"search": {"%"}, "sort": {"name"}}, "[echo_1]/1"},
			{"search is a substring, not a pattern (_)", url.Values{"search": {"_"}}, "[echo_1]/1"},
			{"search nothing", url.Values{"search": {"zzz"}}, "[]/0"},
			{"search and filter", url.Values{"search": {"api"}, "filter[name]": {"delta"}}, "[delta]/1"},
			{"unknown parameters are ignored", url.Values{"foo": {"bar"}, "sort": {"name"}}, "[alpha bravo charlie delta echo_1]/5"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := getPage(t, s, base+"/lq/secrets?"+tt.query.Encode())
				if got.names() != tt.want {
					t.Errorf("%s: got %s, want %s", tt.query.Encode(), got.names(), tt.want)
				}
				wantPages := (got.Pagination.TotalResults + got.Pagination.PageSize - 1) / got.Pagination.PageSize
				if got.Pagination.TotalPages != wantPages || got.Pagination.CurrentPageSize != len(got.Data) {
					t.Errorf("pagination %+v", got.Pagination)
				}
			})
		}
		// Items carry current_version (alpha has two).
		for _, d := range getPage(t, s, base+"/lq/secrets?sort=name").Data {
			want := 1
			if d.Name == "alpha" {
				want = 2
			}
			if d.CurrentVersion == nil || *d.CurrentVersion != want {
				t.Errorf("%s current_version = %v, want %d", d.Name, d.CurrentVersion, want)
			}
		}
	})
}

func TestListQueryRecycleBin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		lqSetup(t, s)
		for _, n := range []string{"charlie", "alpha", "echo_1", "bravo"} {
			mustDo(t, s, 204, "DELETE", base+"/lq/secrets/"+n, "")
		}
		mustDo(t, s, 201, "POST", base+"/lq/secrets", `{"name":"alpha","value":"VALUE-lq-alpha-3"}`)
		mustDo(t, s, 204, "DELETE", base+"/lq/secrets/alpha", "")
		b := base + "/lq/deleted-secrets?"
		tests := []struct {
			query url.Values
			want  string
		}{
			{nil, "[alpha bravo echo_1 alpha charlie]/5"},
			{url.Values{"sort": {"deleted_at"}}, "[charlie alpha echo_1 bravo alpha]/5"},
			{url.Values{"sort": {"name"}}, "[alpha alpha bravo charlie echo_1]/5"},
			{url.Values{"filter[name]": {"alpha"}}, "[alpha alpha]/2"},
			{url.Values{"filter[name][$like]": {"%O%"}}, "[bravo echo_1]/2"},
			{url.Values{"filter[description][$like]": {"%prod%"}}, "[alpha]/1"},
			{url.Values{"search": {"API"}}, "[bravo]/1"},
			{url.Values{"page_size": {"2"}, "page": {"3"}}, "[charlie]/5"},
		}
		for _, tt := range tests {
			if got := getPage(t, s, b+tt.query.Encode()).names(); got != tt.want {
				t.Errorf("bin?%s = %s, want %s", tt.query.Encode(), got, tt.want)
			}
		}
		// filter[name] selects entries of that name, newest deletion first.
		p := getPage(t, s, b+url.Values{"filter[name]": {"alpha"}}.Encode())
		if len(p.Data) == 2 && (p.Data[0].CurrentVersion == nil || *p.Data[0].CurrentVersion != 1 ||
			p.Data[1].CurrentVersion == nil || *p.Data[1].CurrentVersion != 2) {
			t.Errorf("alpha entries have versions %v, %v; want 1 (newest) then 2", p.Data[0].CurrentVersion, p.Data[1].CurrentVersion)
		}
		expectLocs(t, s.do(t, "GET", b+"sort=nope", ""), `enum ["query","sort"]`)
		expectLocs(t, s.do(t, "GET", b+url.Values{"filter[owner]": {"x"}}.Encode(), ""), `extra_forbidden ["query","filter","owner"]`)
		expectLocs(t, s.do(t, "GET", b+url.Values{"filter[created_at][gte]": {"x"}}.Encode(), ""),
			`datetime_parsing ["query","filter","created_at","gte"]`)
	})
}

// expectLocs checks a 422 by the type and location of each item, in order
// ("type [loc...]" per item, separated by "; ").
func expectLocs(t *testing.T, r response, want string) {
	t.Helper()
	if r.Status != 422 {
		t.Errorf("got %d %s, want 422 with %s", r.Status, r.Body, want)
		return
	}
	var body struct {
		Detail []struct {
			Type string          `json:"type"`
			Loc  json.RawMessage `json:"loc"`
		} `json:"detail"`
	}
	decode(t, r, &body)
	var got []string
	for _, d := range body.Detail {
		got = append(got, d.Type+" "+string(d.Loc))
	}
	if g := strings.Join(got, "; "); g != want {
		t.Errorf("422 items %s, want %s\n%s", g, want, r.Body)
	}
}

func TestListQueryValidation(t *testing.T) {
	s := startLC(t, map[string]string{}, "")
	sortMsg := `'name', '-name', 'created_at', '-created_at', 'updated_at' or '-updated_at'`
	expect(t, s.do(t, "GET", base+"/default/secrets?sort=size", ""), 422,
		`{"detail":[{"type":"enum","loc":["query","sort"],"msg":"Input should be `+sortMsg+`","input":"size","ctx":{"expected":"`+sortMsg+`"}}]}`)
	tests := []struct {
		name  string
		query url.Values
		want  string
	}{
		{"sort", url.Values{"sort": {"+name"}}, `enum ["query","sort"]`},
		{"sort case", url.Values{"sort": {"Name"}}, `enum ["query","sort"]`},
		{"bad date", url.Values{"filter[created_at][gte]": {"yesterday"}}, `datetime_parsing ["query","filter","created_at","gte"]`},
		{"date without zone", url.Values{"filter[created_at][lte]": {"2026-01-31T12:00:00"}}, `datetime_parsing ["query","filter","created_at","lte"]`},
		{"bad updated date", url.Values{"filter[updated_at][gte]": {"2026-13-01T00:00:00Z"}}, `datetime_parsing ["query","filter","updated_at","gte"]`},
		{"unknown field", url.Values{"filter[owner]": {"x"}}, `extra_forbidden ["query","filter","owner"]`},
		{"unknown operator", url.Values{"filter[name][$regex]": {"x"}}, `extra_forbidden ["query","filter","name","$regex"]`},
		{"like on a date", url.Values{"filter[created_at][$like]": {"x"}}, `extra_forbidden ["query","filter","created_at","$like"]`},
		{"page and sort", url.Values{"page": {"0"}, "sort": {"x"}}, `greater_than ["query","page"]; enum ["query","sort"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectLocs(t, s.do(t, "GET", base+"/default/secrets?"+tt.query.Encode(), ""), tt.want)
		})
	}
	// Several bad filters: every one is reported, in the same order on
	// every request (a response must not depend on map iteration order).
	q := url.Values{"filter[zeta]": {"1"}, "filter[alpha]": {"1"}, "filter[created_at][gte]": {"x"}, "filter[mid]": {"1"}}.Encode()
	first := s.do(t, "GET", base+"/default/secrets?"+q, "")
	if first.Status != 422 || strings.Count(first.Body, `"type"`) != 4 {
		t.Errorf("four bad filters: %d %s", first.Status, first.Body)
	}
	for range 20 {
		if r := s.do(t, "GET", base+"/default/secrets?"+q, ""); r.Body != first.Body {
			t.Errorf("the same request answered differently:\n%s\n%s", first.Body, r.Body)
			break
		}
	}
}

// ---------------------------------------------------------------- rotation

// rotationKeys is env with secret_key providers (k1 = testKEK, k2 =
// newKEK) and current the one that seals new values.
func rotationKeys(env map[string]string, current string, providers ...string) map[string]string {
	var ps []string
	for _, p := range providers {
		v := testKEK
		if p == "k2" {
			v = newKEK
		}
		ps = append(ps, fmt.Sprintf(`"%s":{"value":"%s"}`, p, v))
	}
	return withEnv(env, map[string]string{
		"NMP_SECRETS_ENCRYPTION":                  `{"current_provider":"` + current + `","providers":{"secret_key":{` + strings.Join(ps, ",") + `}}}`,
		"NMP_SECRETS_ENCRYPTION_CURRENT_PROVIDER": current,
	})
}

func TestLifecycleRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		e := env(t)
		keys := func(current string, providers ...string) map[string]string {
			return rotationKeys(e, current, providers...)
		}
		s := startLC(t, keys("k1", "k1"), "")
		sec := func(n string) string { return base + "/default/secrets/" + n }
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"ra","value":"VALUE-rot-a1"}`)
		mustDo(t, s, 200, "PATCH", sec("ra"), `{"value":"VALUE-rot-a2"}`)
		mustDo(t, s, 200, "PATCH", sec("ra"), `{"value":"VALUE-rot-a3"}`)
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"rb","value":"VALUE-rot-b1"}`)
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"rd","value":"VALUE-rot-d1"}`)
		mustDo(t, s, 200, "PATCH", sec("rd"), `{"value":"VALUE-rot-d2"}`)
		mustDo(t, s, 204, "DELETE", sec("rd")+"/versions/1", "")
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"rc","value":"VALUE-rot-c1"}`)
		mustDo(t, s, 200, "PATCH", sec("rc"), `{"value":"VALUE-rot-c2"}`)
		mustDo(t, s, 204, "DELETE", sec("rc"), "")
		expect(t, rotate(t, s.testServer), 202,
			`{"rotated_secrets":0,"success":true,"skipped_secrets":3,"failed_secrets":[],"failed_count":0,"rotated_versions":0,"deleted_secrets_rotated":0}`)
		tags := map[string]string{}
		for _, n := range []string{"ra", "rb", "rd"} {
			tags[n] = etag(t, mustDo(t, s, 200, "GET", sec(n), ""))
		}

		// k2 becomes current: every stored version, live or in the bin, is
		// re-wrapped; e (already on k2) is skipped.
		s = s.restart(t, keys("k2", "k1", "k2"))
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"re","value":"VALUE-rot-e1"}`)
		expect(t, rotate(t, s.testServer), 202,
			`{"rotated_secrets":3,"success":true,"skipped_secrets":1,"failed_secrets":[],"failed_count":0,"rotated_versions":7,"deleted_secrets_rotated":1}`)
		expect(t, rotate(t, s.testServer), 202,
			`{"rotated_secrets":0,"success":true,"skipped_secrets":4,"failed_secrets":[],"failed_count":0,"rotated_versions":0,"deleted_secrets_rotated":0}`)
		for n, tag := range tags {
			if g := etag(t, mustDo(t, s, 200, "GET", sec(n), "")); g != tag {
				t.Errorf("rotation changed the ETag of %s: %s -> %s", n, tag, g)
			}
		}

		// Only k2 is left: everything kept is readable, the bin entry too.
		s = s.restart(t, keys("k2", "k2"))
		for v := 1; v <= 3; v++ {
			expectAccess(t, s.do(t, "GET", fmt.Sprintf("%s/access?version=%d", sec("ra"), v), ""), "default", "ra", fmt.Sprintf("VALUE-rot-a%d", v), v)
		}
		expectAccess(t, s.do(t, "GET", sec("rb")+"/access", ""), "default", "rb", "VALUE-rot-b1", 1)
		expectAccess(t, s.do(t, "GET", sec("rd")+"/access", ""), "default", "rd", "VALUE-rot-d2", 2)
		expect(t, s.do(t, "GET", sec("rd")+"/access?version=1", ""), 404, `{"detail":"Secret default/rd version 1 not found"}`)
		id := binID(t, s, "default", "rc")
		mustDo(t, s, 200, "POST", deletedBase+"/"+id+"/restore", `{"name":"rc-back"}`)
		expectAccess(t, s.do(t, "GET", sec("rc-back")+"/access?version=1", ""), "default", "rc-back", "VALUE-rot-c1", 1)
		expectAccess(t, s.do(t, "GET", sec("rc-back")+"/access", ""), "default", "rc-back", "VALUE-rot-c2", 2)
	})
}

// TestLifecycleRotationFailures: counts stay per secret; a secret fails when
// any of its versions fails, and each failure names its version.
func TestLifecycleRotationFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		e := env(t)
		sec := func(n string) string { return base + "/default/secrets/" + n }
		// Version 1 of fa and fm and the binned fc on k1; version 2 of fa
		// and fm and all of fb on k2.
		s := startLC(t, rotationKeys(e, "k1", "k1"), "")
		for _, n := range []string{"fa", "fm", "fc"} {
			mustDo(t, s, 201, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":%q,"value":"VALUE-fail-%s-1"}`, n, n))
		}
		mustDo(t, s, 204, "DELETE", sec("fc"), "")
		s = s.restart(t, rotationKeys(e, "k2", "k1", "k2"))
		mustDo(t, s, 200, "PATCH", sec("fa"), `{"value":"VALUE-fail-fa-2"}`)
		mustDo(t, s, 200, "PATCH", sec("fm"), `{"value":"VALUE-fail-fm-2"}`)
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"fb","value":"VALUE-fail-fb-1"}`)

		// Without k1: every k1 version fails and is named.
		s = s.restart(t, rotationKeys(e, "k2", "k2"))
		fail := `"error":"provider 'k1' is not configured"`
		expect(t, rotate(t, s.testServer), 202, `{"rotated_secrets":0,"success":false,"skipped_secrets":1,"failed_secrets":[`+
			`{"workspace":"default","name":"fa","version":1,`+fail+`},`+
			`{"workspace":"default","name":"fm","version":1,`+fail+`},`+
			`{"workspace":"default","name":"fc","version":1,`+fail+`}],"failed_count":3,"rotated_versions":0,"deleted_secrets_rotated":0}`)
		expectAccess(t, s.do(t, "GET", sec("fa")+"/access", ""), "default", "fa", "VALUE-fail-fa-2", 2)

		// With k1 back: fa and fm are rotated (one version each), fc in the
		// bin, fb skipped.
		s = s.restart(t, rotationKeys(e, "k2", "k1", "k2"))
		expect(t, rotate(t, s.testServer), 202,
			`{"rotated_secrets":2,"success":true,"skipped_secrets":1,"failed_secrets":[],"failed_count":0,"rotated_versions":3,"deleted_secrets_rotated":1}`)
		s = s.restart(t, rotationKeys(e, "k2", "k2"))
		expectAccess(t, s.do(t, "GET", sec("fm")+"/access?version=1", ""), "default", "fm", "VALUE-fail-fm-1", 1)
		mustDo(t, s, 200, "POST", deletedBase+"/"+binID(t, s, "default", "fc")+"/restore", "")
		expectAccess(t, s.do(t, "GET", sec("fc")+"/access", ""), "default", "fc", "VALUE-fail-fc-1", 1)
	})
}

// TestListQueryVersions: the version list takes the list queries too
// (docs/api.md §8); a version has a created_at to filter on.
func TestListQueryVersions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, env(t), "")
		p := base + "/default/secrets/kk"
		mustDo(t, s, 201, "POST", base+"/default/secrets", `{"name":"kk","value":"VALUE-lv-1"}`)
		v2 := mustDo(t, s, 200, "PATCH", p, `{"value":"VALUE-lv-2"}`)
		mustDo(t, s, 200, "PATCH", p, `{"value":"VALUE-lv-3"}`)
		at2 := jsonField(t, v2, "updated_at").(string)
		tests := []struct {
			query url.Values
			want  string
		}{
			{url.Values{"filter[created_at][gte]": {at2}}, "[3:enabled 2:enabled]/2"},
			{url.Values{"filter[created_at][lte]": {at2}}, "[2:enabled 1:enabled]/2"},
			{url.Values{"filter[created_at][gte]": {at2}, "filter[created_at][lte]": {at2}}, "[2:enabled]/1"},
			{url.Values{"filter[created_at][gte]": {at2}, "sort": {"created_at"}}, "[2:enabled 3:enabled]/2"},
		}
		for _, tt := range tests {
			if got := getPage(t, s, p+"/versions?"+tt.query.Encode()).versions(); got != tt.want {
				t.Errorf("versions?%s = %s, want %s", tt.query.Encode(), got, tt.want)
			}
		}
		expectLocs(t, s.do(t, "GET", p+"/versions?"+url.Values{"filter[created_at][gte]": {"yesterday"}}.Encode(), ""),
			`datetime_parsing ["query","filter","created_at","gte"]`)
	})
}

// TestLifecycleConfigErrors: the two settings refuse bad values by name.
func TestLifecycleConfigErrors(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"COFFER_MAX_VERSIONS", "0", "secrets.max_versions must be at least 1, got 0"},
		{"COFFER_MAX_VERSIONS", "-3", "secrets.max_versions must be at least 1, got -3"},
		{"COFFER_DELETED_RETENTION", "7d", `secrets.deleted_retention must be a duration such as 168h or 0, got "7d"`},
		{"COFFER_DELETED_RETENTION", "-1h", `secrets.deleted_retention must be a duration such as 168h or 0, got "-1h"`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			env := map[string]string{tt.key: tt.value}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			_, err := config.Load(config.Flags{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}, lookup)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestDeletedPurgeOnReplicas: purge passes of several replicas on one
// PostgreSQL database, at once, erase every expired entry exactly once and
// report no failure (docs/lifecycle.md §2: replicas split the work; running it twice is harmless).
func TestDeletedPurgeOnReplicas(t *testing.T) {
	env := backends()["postgres"](t)
	env["COFFER_DELETED_RETENTION"] = "1s"
	rs := []*lcServer{startLC(t, env, ""), startLC(t, env, ""), startLC(t, env, "")}
	const n = 40
	for i := range n {
		name := fmt.Sprintf("pr-%02d", i)
		mustDo(t, rs[i%3], 201, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":%q,"value":"VALUE-pr-%02d"}`, name, i))
		mustDo(t, rs[i%3], 204, "DELETE", base+"/default/secrets/"+name, "")
	}
	time.Sleep(1500 * time.Millisecond)
	if got := storedVersions(t, rs[0], "default", "pr-00"); len(got) != 1 {
		t.Fatalf("before the purge pass, pr-00 has stored versions %v; want [1] (nothing to test)", got)
	}
	var wg sync.WaitGroup
	for range 2 {
		for _, r := range rs {
			wg.Add(1)
			go func() { defer wg.Done(); r.srv.purgeOnce(context.Background()) }()
		}
	}
	wg.Wait()
	for i := range n {
		if got := storedVersions(t, rs[0], "default", fmt.Sprintf("pr-%02d", i)); got != nil {
			t.Errorf("pr-%02d still has stored versions %v", i, got)
		}
	}
	for i, r := range rs {
		if logs := r.Logs.String(); strings.Contains(logs, "purge failed") {
			t.Errorf("replica %d logged a purge failure:\n%s", i, logs)
		}
	}
}
