package server

// Authorization of the lifecycle routes (docs/lifecycle.md §1, §2 route
// tables; docs/auth.md "Roles") and attribution of versions and deletions.

import (
	"fmt"
	"strings"
	"testing"
)

// lcAuthOrder is the order of the want columns of the matrix below.
var lcAuthOrder = [9]string{"anonymous", "viewer", "editor", "admin", "platformadmin", "service", "svc-for-member", "svc-for-stranger", "other-member"}

func TestLifecycleAuthMatrix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, withEnv(env(t), withEnv(authEnv(), map[string]string{"COFFER_MAX_VERSIONS": "100"})), "")
		setupMatrix(t, s.testServer)
		admin := callers["admin"]
		sp := base + "/ml/secrets"
		bin := base + "/ml/deleted-secrets"
		mustDo(t, s, 201, "POST", sp, `{"name":"lc","value":"VALUE-authz-1"}`, admin...)
		mustDo(t, s, 200, "PATCH", sp+"/lc", `{"value":"VALUE-authz-2"}`, admin...)
		// One recycle-bin entry per caller to restore and one to purge, so
		// every allowed caller really changes something.
		ids := map[string]string{}
		for _, who := range lcAuthOrder {
			for _, kind := range []string{"r", "p"} {
				name := kind + "-" + who
				mustDo(t, s, 201, "POST", sp, fmt.Sprintf(`{"name":%q,"value":"VALUE-authz-%s"}`, name, name), admin...)
				mustDo(t, s, 204, "DELETE", sp+"/"+name, "", admin...)
				ids[name] = binID(t, s, "ml", name, admin...)
			}
		}
		fixed := func(p string) func(string) string { return func(string) string { return p } }
		rows := []struct {
			name, method string
			path         func(who string) string
			body         string
			want         [9]int
		}{
			// GET versions: secrets.read.
			{"versions", "GET", fixed(sp + "/lc/versions"), "", [9]int{401, 200, 200, 200, 200, 200, 200, 200, 403}},
			{"versions of a missing secret", "GET", fixed(sp + "/missing/versions"), "", [9]int{401, 404, 404, 404, 404, 404, 404, 404, 403}},
			// POST restore a version: secrets.update; a denial comes before 422.
			{"restore version", "POST", fixed(sp + "/lc/versions/1/restore"), "", [9]int{401, 403, 200, 200, 200, 200, 200, 200, 403}},
			{"restore version abc", "POST", fixed(sp + "/lc/versions/abc/restore"), "", [9]int{401, 403, 422, 422, 422, 422, 422, 422, 403}},
			{"restore missing version", "POST", fixed(sp + "/lc/versions/999/restore"), "", [9]int{401, 403, 404, 404, 404, 404, 404, 404, 403}},
			// DELETE a version: secrets.delete (destroying a destroyed
			// version again succeeds, so every allowed caller gets 204).
			{"destroy version", "DELETE", fixed(sp + "/lc/versions/2"), "", [9]int{401, 403, 204, 204, 204, 204, 204, 204, 403}},
			{"destroy missing version", "DELETE", fixed(sp + "/lc/versions/999"), "", [9]int{401, 403, 404, 404, 404, 404, 404, 404, 403}},
			{"destroy version abc", "DELETE", fixed(sp + "/lc/versions/abc"), "", [9]int{401, 403, 422, 422, 422, 422, 422, 422, 403}},
			// GET deleted-secrets: secrets.list.
			{"bin list", "GET", fixed(bin), "", [9]int{401, 200, 200, 200, 200, 200, 200, 200, 403}},
			{"bin list of a missing workspace", "GET", fixed(base + "/nows/deleted-secrets"), "", [9]int{401, 403, 403, 403, 404, 404, 404, 404, 403}},
			// POST restore from the bin: secrets.create.
			{"bin restore", "POST", func(who string) string { return bin + "/" + ids["r-"+who] + "/restore" }, "", [9]int{401, 403, 200, 200, 200, 200, 200, 200, 403}},
			{"bin restore unknown", "POST", fixed(bin + "/unknown/restore"), "", [9]int{401, 403, 404, 404, 404, 404, 404, 404, 403}},
			{"bin restore bad name", "POST", fixed(bin + "/unknown/restore"), `{"name":"Bad"}`, [9]int{401, 403, 422, 422, 422, 422, 422, 422, 403}},
			// DELETE from the bin: secrets.delete.
			{"bin purge", "DELETE", func(who string) string { return bin + "/" + ids["p-"+who] }, "", [9]int{401, 403, 204, 204, 204, 204, 204, 204, 403}},
			{"bin purge unknown", "DELETE", fixed(bin + "/unknown"), "", [9]int{401, 403, 404, 404, 404, 404, 404, 404, 403}},
			// /access?version=N: the /access rules.
			{"access version", "GET", fixed(sp + "/lc/access?version=1"), "", [9]int{401, 403, 403, 403, 403, 200, 200, 403, 403}},
			{"access missing version", "GET", fixed(sp + "/lc/access?version=999"), "", [9]int{401, 403, 403, 403, 403, 404, 404, 403, 403}},
		}
		for _, row := range rows {
			for i, who := range lcAuthOrder {
				path := row.path(who)
				r := s.do(t, row.method, path, row.body, callers[who]...)
				if r.Status != row.want[i] {
					t.Errorf("%s (%s %s) as %s: %d %s, want %d", row.name, row.method, path, who, r.Status, r.Body, row.want[i])
					continue
				}
				switch r.Status {
				case 401:
					expect(t, r, 401, unauth)
				case 403:
					expect(t, r, 403, forbid)
				}
			}
		}

		// What the allowed callers did: six restores of version 1 (3..8),
		// version 2 destroyed, the r- entries live again, the p- ones gone.
		if got := getPage(t, s, sp+"/lc/versions?page_size=100", admin...).versions(); got != "[8:enabled 7:enabled 6:enabled 5:enabled 4:enabled 3:enabled 2:destroyed 1:enabled]/8" {
			t.Errorf("versions = %s", got)
		}
		var left []string
		for _, d := range getPage(t, s, bin+"?sort=name&page_size=100", admin...).Data {
			left = append(left, d.Name)
		}
		want := "r-anonymous r-other-member r-viewer p-anonymous p-other-member p-viewer"
		if strings.Join(left, " ") != sortedNames(want) {
			t.Errorf("bin holds %v, want %s", left, sortedNames(want))
		}
	})
}

// sortedNames sorts space-separated names.
func sortedNames(s string) string {
	f := strings.Fields(s)
	for i := range f {
		for j := i + 1; j < len(f); j++ {
			if f[j] < f[i] {
				f[i], f[j] = f[j], f[i]
			}
		}
	}
	return strings.Join(f, " ")
}

func TestLifecycleAuthAttribution(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		s := startLC(t, withEnv(env(t), authEnv()), "")
		setupMatrix(t, s.testServer)
		sp := base + "/ml/secrets"
		mustDo(t, s, 201, "POST", sp, `{"name":"att","value":"VALUE-att-1"}`, callers["admin"]...)
		mustDo(t, s, 200, "PATCH", sp+"/att", `{"value":"VALUE-att-2"}`, callers["editor"]...)
		// A service acting for viewer1: the effective id is viewer1.
		mustDo(t, s, 200, "POST", sp+"/att/versions/1/restore", "", callers["svc-for-member"]...)
		mustDo(t, s, 200, "POST", sp+"/att/versions/2/restore", "", callers["service"]...)
		expect(t, s.do(t, "GET", sp+"/att/versions", "", callers["viewer"]...), 200, `{"data":[`+
			`{"version":4,"created_at":"<ts>","created_by":"service:jobs","state":"enabled"},`+
			`{"version":3,"created_at":"<ts>","created_by":"viewer1","state":"enabled"},`+
			`{"version":2,"created_at":"<ts>","created_by":"editor1","state":"enabled"},`+
			`{"version":1,"created_at":"<ts>","created_by":"admin1","state":"enabled"}],`+
			`"pagination":{"page":1,"page_size":10,"current_page_size":4,"total_pages":1,"total_results":4}}`)
		expectAccess(t, s.do(t, "GET", sp+"/att/access?version=3", "", callers["service"]...), "ml", "att", "VALUE-att-1", 3)

		mustDo(t, s, 204, "DELETE", sp+"/att", "", callers["editor"]...)
		lcExpect(t, s.do(t, "GET", base+"/ml/deleted-secrets", "", callers["viewer"]...), 200, `{"data":[`+
			`{"id":"<bin>","name":"att","workspace":"ml","current_version":4,"created_at":"<ts>","updated_at":"<ts>","deleted_at":"<ts>","deleted_by":"editor1","purge_at":"<ts>"}],`+
			`"pagination":{"page":1,"page_size":10,"current_page_size":1,"total_pages":1,"total_results":1}}`)
		id := binID(t, s, "ml", "att", callers["viewer"]...)
		mustDo(t, s, 200, "POST", base+"/ml/deleted-secrets/"+id+"/restore", `{"name":"att-back"}`, callers["editor"]...)
		// Versions and their authors survive the round trip through the bin.
		expect(t, s.do(t, "GET", sp+"/att-back/versions?page_size=1&page=4", "", callers["viewer"]...), 200,
			`{"data":[{"version":1,"created_at":"<ts>","created_by":"admin1","state":"enabled"}],"pagination":{"page":4,"page_size":1,"current_page_size":1,"total_pages":4,"total_results":4}}`)
		expectAccess(t, s.do(t, "GET", sp+"/att-back/access", "", callers["service"]...), "ml", "att-back", "VALUE-att-2", 4)
	})
}
