package server

import (
	"fmt"
	"testing"
)

const wsBase = "/apis/entities/v2/workspaces"

func TestWorkspaces(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		ts := start(t, env(t), "")
		r := ts.do(t, "GET", wsBase, "")
		expect(t, r, 200, `{"data":[`+
			`{"id":"<id>","name":"system","description":"Platform-provided resources (read-only for users)","created_at":"<ts>","created_by":null,"updated_at":"<ts>","updated_by":null},`+
			`{"id":"<id>","name":"default","description":"General-purpose workspace (all users have write access)","created_at":"<ts>","created_by":null,"updated_at":"<ts>","updated_by":null}],`+
			`"pagination":{"page":1,"page_size":100,"current_page_size":2,"total_pages":1,"total_results":2},"sort":"-created_at","filter":null}`)

		expect(t, ts.do(t, "POST", wsBase+"?wait_role_propagation=true", `{"name":"team@corp.com","description":"t"}`, "X-NMP-Principal-Id: alice"), 201,
			`{"id":"<id>","name":"team@corp.com","description":"t","created_at":"<ts>","created_by":"alice","updated_at":"<ts>","updated_by":"alice"}`)
		dup := ts.do(t, "POST", wsBase, `{"name":"default"}`)
		expect(t, dup, 409, `{"detail":"Workspace 'default' already exists"}`)
		if dup.Header.Get("x-should-retry") != "false" {
			t.Error("409 without x-should-retry")
		}
		expect(t, ts.do(t, "POST", wsBase, `{"name":"Bad"}`), 422,
			`{"detail":[{"type":"string_pattern_mismatch","loc":["body","name"],"msg":"String should match pattern '^[a-z](?!.*--)[a-z0-9\\-@.+_]{1,62}(?<!-)$'","input":"Bad","ctx":{"pattern":"^[a-z](?!.*--)[a-z0-9\\-@.+_]{1,62}(?<!-)$"}}]}`)
		expect(t, ts.do(t, "POST", wsBase, `{"description":"x"}`), 422,
			`{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":{"description":"x"}}]}`)

		expect(t, ts.do(t, "PUT", wsBase+"/team@corp.com", `{"description":null}`, "X-NMP-Principal-Id: bob"), 200,
			`{"id":"<id>","name":"team@corp.com","description":"t","created_at":"<ts>","created_by":"alice","updated_at":"<ts>","updated_by":"bob"}`)
		expect(t, ts.do(t, "PUT", wsBase+"/nope", `{}`), 404, `{"detail":"Workspace 'nope' not found"}`)
		expect(t, ts.do(t, "GET", wsBase+"/nope", ""), 404, `{"detail":"Workspace 'nope' not found"}`)
		expect(t, ts.do(t, "DELETE", wsBase+"/nope", ""), 404, `{"detail":"Workspace 'nope' not found"}`)
		for _, b := range []string{"default", "system"} {
			expect(t, ts.do(t, "DELETE", wsBase+"/"+b, ""), 403, fmt.Sprintf(`{"detail":"Cannot delete the built-in workspace '%s'"}`, b))
		}

		expect(t, ts.do(t, "GET", wsBase+"?sort=name", ""), 422,
			`{"detail":[{"type":"enum","loc":["query","sort"],"msg":"Input should be 'created_at', '-created_at', 'updated_at' or '-updated_at'","input":"name","ctx":{"expected":"'created_at', '-created_at', 'updated_at' or '-updated_at'"}}]}`)
		var page struct {
			Data []struct{ Name string }
			Sort string
		}
		decode(t, ts.do(t, "GET", wsBase+"?sort=updated_at&page_size=1&page=3", ""), &page)
		if len(page.Data) != 1 || page.Data[0].Name != "team@corp.com" || page.Sort != "updated_at" {
			t.Errorf("sorted page = %+v", page)
		}

		// Deleting a workspace deletes its secrets; the name is free at once.
		ts.do(t, "POST", base+"/team@corp.com/secrets", `{"name":"k","value":"v"}`)
		expect(t, ts.do(t, "DELETE", wsBase+"/team@corp.com", ""), 200,
			`{"message":"Workspace marked for deletion","id":"team@corp.com","deleted_count":1}`)
		expect(t, ts.do(t, "GET", base+"/team@corp.com/secrets/k", ""), 404, `{"detail":"Secret team@corp.com/k not found"}`)
		ts.do(t, "POST", wsBase, `{"name":"team@corp.com"}`)
		expect(t, ts.do(t, "GET", base+"/team@corp.com/secrets", ""), 200,
			`{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)
	})
}
