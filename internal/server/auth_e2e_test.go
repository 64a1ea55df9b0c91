package server

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Callers of the authorization matrix, as identity headers from loopback.
var callers = map[string][]string{
	"anonymous":        nil,
	"viewer":           {"X-NMP-Principal-Id: viewer1"},
	"editor":           {"X-NMP-Principal-Id: editor1"},
	"admin":            {"X-NMP-Principal-Id: admin1"},
	"platformadmin":    {"X-NMP-Principal-Id: boss", "X-NMP-Principal-Email: boss@corp.com"},
	"service":          {"X-NMP-Principal-Id: service:jobs"},
	"svc-for-member":   {"X-NMP-Principal-Id: service:jobs", "X-NMP-Principal-On-Behalf-Of: viewer1"},
	"svc-for-stranger": {"X-NMP-Principal-Id: service:jobs", "X-NMP-Principal-On-Behalf-Of: stranger"},
	"other-member":     {"X-NMP-Principal-Id: outsider"},
}

func authEnv() map[string]string {
	return map[string]string{"NMP_AUTH_ENABLED": "true", "NMP_AUTH_ADMIN_EMAIL": "boss@corp.com"}
}

// setupMatrix creates workspace ml (admin1 is its creator and Admin),
// editor1 and viewer1 in it, outsider as Editor of "other", and secret k.
func setupMatrix(t *testing.T, ts *testServer) {
	t.Helper()
	admin := callers["admin"]
	expect(t, ts.do(t, "POST", wsBase, `{"name":"ml"}`, admin...), 201,
		`{"id":"<id>","name":"ml","description":null,"created_at":"<ts>","created_by":"admin1","updated_at":"<ts>","updated_by":"admin1"}`)
	for p, role := range map[string]string{"editor1": "Editor", "viewer1": "Viewer"} {
		r := ts.do(t, "POST", wsBase+"/ml/members", fmt.Sprintf(`{"principal":"%s","roles":["%s"]}`, p, role), admin...)
		if r.Status != 201 {
			t.Fatalf("add member: %d %s", r.Status, r.Body)
		}
	}
	ts.do(t, "POST", wsBase, `{"name":"other"}`, callers["other-member"]...)
	if r := ts.do(t, "POST", base+"/ml/secrets", `{"name":"key1","value":"v"}`, admin...); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
}

const (
	unauth = `{"detail":"Unauthorized"}`
	forbid = `{"detail":"Forbidden"}`
)

func TestAuthorizationMatrix(t *testing.T) {
	ts := start(t, authEnv(), "")
	setupMatrix(t, ts)
	order := []string{"anonymous", "viewer", "editor", "admin", "platformadmin", "service", "svc-for-member", "svc-for-stranger", "other-member"}
	// Each row: request and the status per caller in the order above; a
	// caller-specific name keeps creates distinct.
	rows := []struct {
		method, path, body string
		want               [9]int
	}{
		{"POST", base + "/ml/secrets", `{"name":"n-%s","value":"v"}`, [9]int{401, 403, 201, 201, 201, 201, 201, 201, 403}},
		{"POST", base + "/ml/secrets", `{}`, [9]int{401, 403, 422, 422, 422, 422, 422, 422, 403}},
		{"GET", base + "/ml/secrets", ``, [9]int{401, 200, 200, 200, 200, 200, 200, 200, 403}},
		{"GET", base + "/ml/secrets/key1", ``, [9]int{401, 200, 200, 200, 200, 200, 200, 200, 403}},
		{"GET", base + "/ml/secrets/missing", ``, [9]int{401, 404, 404, 404, 404, 404, 404, 404, 403}},
		{"PATCH", base + "/ml/secrets/key1", `{}`, [9]int{401, 403, 200, 200, 200, 200, 200, 200, 403}},
		{"DELETE", base + "/ml/secrets/missing", ``, [9]int{401, 403, 404, 404, 404, 404, 404, 404, 403}},
		{"GET", base + "/ml/secrets/key1/access", ``, [9]int{401, 403, 403, 403, 403, 200, 200, 403, 403}},
		{"GET", base + "/ml/secrets/missing/access", ``, [9]int{401, 403, 403, 403, 403, 404, 404, 403, 403}},
		{"GET", base + "/system/secrets/ngc-api-key/access", ``, [9]int{401, 403, 403, 403, 403, 404, 404, 404, 403}},
		{"POST", "/apis/secrets/v2/rotate-encryption-keys", ``, [9]int{401, 403, 403, 403, 202, 403, 403, 403, 403}},
		{"GET", "/apis/secrets/v2/encryption-status", ``, [9]int{401, 403, 403, 403, 200, 403, 403, 403, 403}},
		{"HEAD", "/apis/secrets/v2/encryption-status", ``, [9]int{401, 403, 403, 403, 200, 403, 403, 403, 403}},
		{"GET", wsBase, ``, [9]int{401, 200, 200, 200, 200, 200, 200, 200, 200}},
		{"GET", wsBase + "/ml", ``, [9]int{401, 200, 200, 200, 200, 200, 200, 200, 403}},
		{"PUT", wsBase + "/ml", `{}`, [9]int{401, 403, 200, 200, 200, 200, 200, 200, 403}},
		{"PUT", wsBase + "/ml", `[]`, [9]int{401, 403, 422, 422, 422, 422, 422, 422, 403}},
		{"DELETE", wsBase + "/nows", ``, [9]int{401, 403, 403, 403, 404, 404, 404, 404, 403}},
		{"GET", wsBase + "/ml/members", ``, [9]int{401, 403, 403, 200, 200, 200, 200, 200, 403}},
		{"POST", wsBase + "/ml/members", `{"principal":"p-%s"}`, [9]int{401, 403, 403, 201, 201, 201, 201, 201, 403}},
		{"PUT", wsBase + "/ml/members/q-%s", `{"roles":["Viewer"]}`, [9]int{401, 403, 403, 200, 200, 200, 200, 200, 403}},
		{"DELETE", wsBase + "/ml/members/nobody", ``, [9]int{401, 403, 403, 404, 404, 404, 404, 404, 403}},
		{"GET", base + "/-/secrets", ``, [9]int{401, 403, 403, 403, 404, 404, 404, 404, 403}},
		{"GET", "/apis/unknown", ``, [9]int{401, 403, 403, 403, 404, 404, 404, 404, 403}},
		{"PUT", base + "/ml/secrets", ``, [9]int{401, 403, 403, 403, 405, 403, 403, 403, 403}},
		{"POST", wsBase, `{"name":"w-%s"}`, [9]int{401, 201, 201, 201, 201, 201, 201, 201, 201}},
	}
	for _, row := range rows {
		for i, who := range order {
			path, body := row.path, row.body
			if strings.Contains(path, "%s") {
				path = fmt.Sprintf(path, who)
			}
			if strings.Contains(body, "%s") {
				body = fmt.Sprintf(body, who)
			}
			r := ts.do(t, row.method, path, body, callers[who]...)
			if r.Status != row.want[i] {
				t.Errorf("%s %s as %s: %d %s, want %d", row.method, path, who, r.Status, r.Body, row.want[i])
				continue
			}
			switch {
			case row.method == "HEAD":
				if r.Body != "" {
					t.Errorf("HEAD %s as %s: body %q", path, who, r.Body)
				}
			case r.Status == 401:
				expect(t, r, 401, unauth)
			case r.Status == 403:
				expect(t, r, 403, forbid)
			}
		}
	}
}

func TestWorkspaceListIsFiltered(t *testing.T) {
	ts := start(t, authEnv(), "")
	setupMatrix(t, ts)
	names := func(who string) string {
		var page struct {
			Data       []struct{ Name string }
			Pagination struct {
				TotalResults int `json:"total_results"`
			}
		}
		decode(t, ts.do(t, "GET", wsBase+"?sort=created_at", "", callers[who]...), &page)
		var out []string
		for _, w := range page.Data {
			out = append(out, w.Name)
		}
		return fmt.Sprintf("%v/%d", out, page.Pagination.TotalResults)
	}
	tests := map[string]string{
		"viewer":           "[default system ml]/3",
		"other-member":     "[default system other]/3",
		"platformadmin":    "[default system ml other]/4",
		"service":          "[default system ml other]/4",
		"svc-for-stranger": "[default system]/2",
	}
	for who, want := range tests {
		if got := names(who); got != want {
			t.Errorf("%s sees %s, want %s", who, got, want)
		}
	}
}

func TestMembersAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		e := env(t)
		for k, v := range authEnv() {
			e[k] = v
		}
		ts := start(t, e, "")
		admin := callers["admin"]
		ts.do(t, "POST", wsBase, `{"name":"ml"}`, admin...)
		m := wsBase + "/ml/members"
		expect(t, ts.do(t, "POST", m, `{"principal":"  bob "}`, admin...), 201,
			`{"principal":"bob","roles":["Editor"],"granted_at":"<ts>","granted_by":"admin1"}`)
		expect(t, ts.do(t, "POST", m, `{"principal":"bob","roles":["Viewer","Viewer","Editor"]}`, admin...), 201,
			`{"principal":"bob","roles":["Viewer","Editor"],"granted_at":"<ts>","granted_by":"admin1"}`)
		expect(t, ts.do(t, "POST", m, `{"principal":"carol","roles":[]}`, admin...), 201,
			`{"principal":"carol","roles":[],"granted_at":"<ts>","granted_by":"admin1"}`)
		expect(t, ts.do(t, "GET", m, "", admin...), 200,
			`{"data":[{"principal":"admin1","roles":["Admin"],"granted_at":"<ts>","granted_by":"admin1"},{"principal":"bob","roles":["Editor","Viewer"],"granted_at":"<ts>","granted_by":"admin1"}]}`)
		expect(t, ts.do(t, "POST", m, `{"principal":"x","roles":["Owner",5]}`, admin...), 422,
			`{"detail":[{"type":"value_error","loc":["body","roles",0],"msg":"Value error, Unknown role 'Owner'. Allowed roles: Viewer, Editor, Admin, PlatformAdmin","input":"Owner","ctx":{"error":{}}},{"type":"string_type","loc":["body","roles",1],"msg":"Input should be a valid string","input":5}]}`)
		expect(t, ts.do(t, "POST", m, `{"principal":"  ","roles":"Viewer"}`, admin...), 422,
			`{"detail":[{"type":"value_error","loc":["body","principal"],"msg":"Value error, Invalid principal: use 1 to 320 characters without control characters","input":"  ","ctx":{"error":{}}},{"type":"list_type","loc":["body","roles"],"msg":"Input should be a valid list","input":"Viewer"}]}`)
		expect(t, ts.do(t, "PUT", m+"/admin1", `{"roles":["Viewer"]}`, admin...), 409,
			`{"detail":"Cannot remove Admin role from 'admin1'. This is the last Admin for workspace 'ml'. Add another Admin before removing this one."}`)
		expect(t, ts.do(t, "DELETE", m+"/admin1", "", admin...), 409,
			`{"detail":"Cannot remove member 'admin1'. This is the last Admin for workspace 'ml'. Add another Admin before removing this member."}`)
		expect(t, ts.do(t, "PUT", m+"/bob", `{"roles":["Admin"]}`, admin...), 200,
			`{"principal":"bob","roles":["Admin"],"granted_at":"<ts>","granted_by":"admin1"}`)
		expect(t, ts.do(t, "DELETE", m+"/admin1", "", admin...), 200,
			`{"message":"Member removed from workspace 'ml'","id":"admin1","deleted_count":1}`)
		expect(t, ts.do(t, "DELETE", m+"/admin1", "", callers["platformadmin"]...), 404,
			`{"detail":"Member 'admin1' not found in workspace 'ml'"}`)
		expect(t, ts.do(t, "PUT", m+"/bob", `{}`, callers["platformadmin"]...), 422,
			`{"detail":[{"type":"missing","loc":["body","roles"],"msg":"Field required","input":{}}]}`)
		expect(t, ts.do(t, "GET", wsBase+"/nows/members", "", callers["platformadmin"]...), 404, `{"detail":"Workspace 'nows' not found"}`)
		// Seeded bindings are listed and, once removed, stay removed.
		expect(t, ts.do(t, "GET", wsBase+"/system/members", "", callers["platformadmin"]...), 200,
			`{"data":[{"principal":"*","roles":["Viewer"],"granted_at":"<ts>","granted_by":"system"},{"principal":"boss@corp.com","roles":["PlatformAdmin"],"granted_at":"<ts>","granted_by":"system"}]}`)
		expect(t, ts.do(t, "DELETE", wsBase+"/default/members/*", "", callers["platformadmin"]...), 200,
			`{"message":"Member removed from workspace 'default'","id":"*","deleted_count":1}`)
		ts.stop()
		ts = start(t, e, ts.DataDir)
		expect(t, ts.do(t, "GET", wsBase+"/default/members", "", callers["platformadmin"]...), 200, `{"data":[]}`)
	})
}

func unsignedJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "."
}

func TestBearerAndUntrustedHeaders(t *testing.T) {
	env := authEnv()
	env["NMP_AUTH_ALLOW_UNSIGNED_JWT"] = "true"
	ts := start(t, env, "")
	now := time.Now().Unix()
	tok := unsignedJWT(fmt.Sprintf(`{"sub":"jwt-user","email":"jwt@corp.com","iat":%d,"exp":%d}`, now-10, now+600))
	expect(t, ts.do(t, "POST", wsBase, `{"name":"jw"}`, "Authorization: Bearer "+tok), 201,
		`{"id":"<id>","name":"jw","description":null,"created_at":"<ts>","created_by":"jwt-user","updated_at":"<ts>","updated_by":"jwt-user"}`)
	// Expired beyond auth.oidc.clock_skew (60 s by default, docs/auth.md).
	expired := unsignedJWT(fmt.Sprintf(`{"sub":"jwt-user","iat":%d,"exp":%d}`, now-300, now-61))
	expect(t, ts.do(t, "GET", wsBase, "", "Authorization: bearer "+expired), 401, `{"detail":"Invalid or expired token"}`)
	// A header identity wins over the token.
	expect(t, ts.do(t, "GET", base+"/jw/secrets", "", "X-NMP-Principal-Id: nobody", "Authorization: Bearer "+tok), 403, forbid)
	expect(t, ts.do(t, "GET", base+"/default/secrets", "", "X-NMP-Principal-Id: a", "X-NMP-Scopes: secrets.read"), 400,
		`{"detail":"Invalid scope 'secrets.read': this value uses permission syntax (dots). Scopes use colons (e.g. 'secrets:read'). Did you pass a permission by mistake?"}`)
	expect(t, ts.do(t, "GET", "/apis/auth/discovery", ""), 200, `{"auth_enabled":true,"oidc":null}`)

	// Loopback outside the trusted networks: identity headers are ignored,
	// even malformed ones, so the caller is anonymous.
	env["COFFER_TRUSTED_HEADER_NETWORKS"] = "10.0.0.0/8"
	ts2 := start(t, env, "")
	expect(t, ts2.do(t, "GET", base+"/default/secrets", "", "X-NMP-Principal-Id: service:jobs"), 401, unauth)
	expect(t, ts2.do(t, "GET", base+"/default/secrets", "", "X-NMP-Principal-Id: bad id!"), 401, unauth)
	if !strings.Contains(ts2.Logs.String(), "ignored X-NMP-Principal-* headers") {
		t.Error("no warning about ignored headers")
	}
}
