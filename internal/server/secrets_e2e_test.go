package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

const base = "/apis/secrets/v2/workspaces"

const (
	patternItem = `{"type":"string_pattern_mismatch","loc":["body","name"],"msg":"String should match pattern '^[a-z](?!.*--)[a-z0-9._-]{1,62}(?<!-)$'","input":%q,"ctx":{"pattern":"^[a-z](?!.*--)[a-z0-9._-]{1,62}(?<!-)$"}}`
	charsItem   = `{"type":"value_error","loc":["body","name"],"msg":"Value error, Invalid secret name '%s'. Allowed characters: letters (a-z, A-Z), digits (0-9), underscores, hyphens, and dots. Example: my-api-key","input":%q,"ctx":{"error":{}}}`
	emptyItem   = `{"detail":[{"type":"value_error","loc":["body"],"msg":"Value error, Secret value cannot be empty","ctx":{"error":{}}}]}`
)

func TestSecretsCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		ts := start(t, env(t), "")
		r := ts.do(t, "POST", base+"/default/secrets", `{"name":"hf-token","value":"hf_abc","extra":1}`)
		expect(t, r, 201, `{"name":"hf-token","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		var s map[string]any
		decode(t, r, &s)
		if s["created_at"] != s["updated_at"] {
			t.Errorf("created_at %v != updated_at %v", s["created_at"], s["updated_at"])
		}
		get := ts.do(t, "GET", base+"/default/secrets/hf-token", "")
		if get.Body != r.Body {
			t.Errorf("get %s differs from create %s", get.Body, r.Body)
		}
		dup := ts.do(t, "POST", base+"/default/secrets", `{"name":"hf-token","value":"x"}`)
		expect(t, dup, 409, `{"detail":"Secret 'default/hf-token' already exists"}`)
		if dup.Header.Get("x-should-retry") != "false" {
			t.Errorf("409 without x-should-retry: false")
		}
		expect(t, ts.do(t, "POST", base+"/nope/secrets", `{"name":"abc","value":"x"}`), 422,
			`{"detail":"Workspace 'nope' does not exist. Please create the workspace first."}`)
		expect(t, ts.do(t, "POST", base+"/default/secrets", `{"name":"spaces","value":" ","description":"d"}`), 201,
			`{"name":"spaces","workspace":"default","description":"d","created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
	})
}

func TestSecretsCreateValidation(t *testing.T) {
	ts := start(t, map[string]string{}, "")
	long := strings.Repeat("x", 65537)
	longDesc := strings.Repeat("é", 4097)
	tests := []struct {
		name, body, want string
	}{
		{"bad chars", `{"name":"my key","value":"v"}`, `{"detail":[` + fmt.Sprintf(charsItem, "my key", "my key") + `]}`},
		{"bad chars wins over empty value", `{"name":"bad!","value":""}`, `{"detail":[` + fmt.Sprintf(charsItem, "bad!", "bad!") + `]}`},
		{"trailing newline", `{"name":"abc\n","value":"v"}`, `{"detail":[` + fmt.Sprintf(charsItem, `abc\n`, "abc\n") + `]}`},
		{"upper case", `{"name":"My-Key","value":"v"}`, `{"detail":[` + fmt.Sprintf(patternItem, "My-Key") + `]}`},
		{"double hyphen", `{"name":"a--b","value":"v"}`, `{"detail":[` + fmt.Sprintf(patternItem, "a--b") + `]}`},
		{"one char", `{"name":"a","value":"v"}`, `{"detail":[` + fmt.Sprintf(patternItem, "a") + `]}`},
		{"empty value", `{"name":"ok-name","value":""}`, emptyItem},
		{"missing value", `{"name":"ok-name","data":"v"}`, `{"detail":[{"type":"missing","loc":["body","value"],"msg":"Field required"}]}`},
		{"value not string", `{"name":"ok-name","value":5}`, `{"detail":[{"type":"string_type","loc":["body","value"],"msg":"Input should be a valid string"}]}`},
		{"name not string", `{"name":5,"value":"v"}`, `{"detail":[{"type":"string_type","loc":["body","name"],"msg":"Input should be a valid string","input":5}]}`},
		{"all fields", `{"description":7}`, `{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required"},{"type":"string_type","loc":["body","description"],"msg":"Input should be a valid string","input":7},{"type":"missing","loc":["body","value"],"msg":"Field required"}]}`},
		{"value too long", `{"name":"ok-name","value":"` + long + `"}`, `{"detail":[{"type":"string_too_long","loc":["body","value"],"msg":"String should have at most 65536 bytes when UTF-8 encoded","ctx":{"max_length":65536}}]}`},
		{"description too long", `{"name":"ok-name","value":"v","description":"` + longDesc + `"}`, `{"detail":[{"type":"string_too_long","loc":["body","description"],"msg":"String should have at most 4096 characters","input":"` + longDesc + `","ctx":{"max_length":4096}}]}`},
		{"description NUL", `{"name":"ok-name","value":"v","description":"a\u0000b"}`, `{"detail":[{"type":"value_error","loc":["body","description"],"msg":"Value error, Description must not contain the NUL character","input":"a\u0000b","ctx":{"error":{}}}]}`},
		{"lone surrogate", `{"name":"ok-name","value":"\ud800x"}`, `{"detail":[{"type":"string_unicode","loc":["body","value"],"msg":"Input should be a valid string, unable to parse raw data as a unicode string"}]}`},
		{"empty body", ``, `{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`},
		{"null body", `null`, `{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`},
		{"array body", `["secret"]`, `{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from"}]}`},
		{"malformed", `{"name":"x",`, `{"detail":[{"type":"json_invalid","loc":["body",12],"msg":"JSON decode error","input":{},"ctx":{"error":"EOF while parsing a value"}}]}`},
		{"invalid utf-8", "{\"name\":\"ab\",\"value\":\"\xff\"}", `{"detail":[{"type":"json_invalid","loc":["body",22],"msg":"JSON decode error","input":{},"ctx":{"error":"invalid unicode code point"}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, ts.do(t, "POST", base+"/default/secrets", tt.body), 422, tt.want)
		})
	}
	list := ts.do(t, "GET", base+"/default/secrets", "")
	expect(t, list, 200, `{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)
}

func TestSecretsList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		ts := start(t, env(t), "")
		expect(t, ts.do(t, "POST", "/apis/entities/v2/workspaces", `{"name":"ml"}`), 201,
			`{"id":"<id>","name":"ml","description":null,"created_at":"<ts>","created_by":null,"updated_at":"<ts>","updated_by":null}`)
		for i := 0; i < 5; i++ {
			ts.do(t, "POST", base+"/ml/secrets", fmt.Sprintf(`{"name":"s%d","value":"v","description":"d%d"}`, i, i))
		}
		r := ts.do(t, "GET", base+"/ml/secrets?page=1&page_size=2&other=ignored", "")
		expect(t, r, 200, `{"data":[{"name":"s4","workspace":"ml","description":"d4","created_at":"<ts>","updated_at":"<ts>","current_version":1},{"name":"s3","workspace":"ml","description":"d3","created_at":"<ts>","updated_at":"<ts>","current_version":1}],"pagination":{"page":1,"page_size":2,"current_page_size":2,"total_pages":3,"total_results":5}}`)
		r = ts.do(t, "GET", base+"/ml/secrets?page=3&page_size=2", "")
		expect(t, r, 200, `{"data":[{"name":"s0","workspace":"ml","description":"d0","created_at":"<ts>","updated_at":"<ts>","current_version":1}],"pagination":{"page":3,"page_size":2,"current_page_size":1,"total_pages":3,"total_results":5}}`)
		expect(t, ts.do(t, "GET", base+"/ml/secrets?page=9&page_size=2", ""), 200,
			`{"data":[],"pagination":{"page":9,"page_size":2,"current_page_size":0,"total_pages":3,"total_results":5}}`)
		ts.do(t, "POST", base+"/ml/secrets", `{"name":"nodesc","value":"v"}`)
		expect(t, ts.do(t, "GET", base+"/ml/secrets?page_size=1", ""), 200,
			`{"data":[{"name":"nodesc","workspace":"ml","created_at":"<ts>","updated_at":"<ts>","current_version":1}],"pagination":{"page":1,"page_size":1,"current_page_size":1,"total_pages":6,"total_results":6}}`)
		expect(t, ts.do(t, "GET", base+"/nope/secrets", ""), 404, `{"detail":"Workspace 'nope' not found"}`)
	})
}

func TestSecretsListQueryValidation(t *testing.T) {
	ts := start(t, map[string]string{}, "")
	tests := []struct{ query, want string }{
		{"page=0", `{"detail":[{"type":"greater_than","loc":["query","page"],"msg":"Input should be greater than 0","input":"0","ctx":{"gt":0}}]}`},
		{"page_size=0", `{"detail":[{"type":"greater_than","loc":["query","page_size"],"msg":"Input should be greater than 0","input":"0","ctx":{"gt":0}}]}`},
		{"page=abc", `{"detail":[{"type":"int_parsing","loc":["query","page"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]}`},
		{"page_size=1001", `{"detail":[{"type":"less_than_equal","loc":["query","page_size"],"msg":"Input should be less than or equal to 1000","input":"1001","ctx":{"le":1000}}]}`},
		{"page=99999999999999999999&page_size=-1", `{"detail":[{"type":"int_parsing","loc":["query","page"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"99999999999999999999"},{"type":"greater_than","loc":["query","page_size"],"msg":"Input should be greater than 0","input":"-1","ctx":{"gt":0}}]}`},
		{"page_size=5&page_size=0", `{"detail":[{"type":"greater_than","loc":["query","page_size"],"msg":"Input should be greater than 0","input":"0","ctx":{"gt":0}}]}`},
	}
	for _, tt := range tests {
		expect(t, ts.do(t, "GET", base+"/default/secrets?"+tt.query, ""), 422, tt.want)
	}
	expect(t, ts.do(t, "GET", base+"/default/secrets?page=9223372036854775807&page_size=1000", ""), 200,
		`{"data":[],"pagination":{"page":9223372036854775807,"page_size":1000,"current_page_size":0,"total_pages":0,"total_results":0}}`)
}

func TestSecretsGetUpdateDeleteAccess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		ts := start(t, env(t), "")
		p := base + "/default/secrets/k1"
		ts.do(t, "POST", base+"/default/secrets", `{"name":"k1","value":"first","description":"orig"}`)
		var before map[string]any
		decode(t, ts.do(t, "GET", p, ""), &before)

		acc := ts.do(t, "GET", p+"/access", "")
		expect(t, acc, 200, `{"name":"k1","workspace":"default","value":"first"}`)
		if acc.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("access Cache-Control = %q", acc.Header.Get("Cache-Control"))
		}
		var after map[string]any
		decode(t, ts.do(t, "PATCH", p, `{}`), &after)
		if after["description"] != "orig" || after["created_at"] != before["created_at"] || after["updated_at"] == before["updated_at"] {
			t.Errorf("PATCH {} changed %v -> %v", before, after)
		}
		decode(t, ts.do(t, "PATCH", p, `{"description":null}`), &after)
		if after["description"] != "orig" {
			t.Errorf("description null changed it: %v", after["description"])
		}
		expect(t, ts.do(t, "PATCH", p, `{"description":"","value":"second"}`), 200,
			`{"name":"k1","workspace":"default","description":"","created_at":"<ts>","updated_at":"<ts>","current_version":2}`)
		expect(t, ts.do(t, "GET", p+"/access", ""), 200, `{"name":"k1","workspace":"default","value":"second"}`)
		expect(t, ts.do(t, "PATCH", p, `{"value":""}`), 422, emptyItem)
		expect(t, ts.do(t, "PATCH", p, `{"value":7}`), 422, `{"detail":[{"type":"string_type","loc":["body","value"],"msg":"Input should be a valid string"}]}`)
		expect(t, ts.do(t, "PATCH", base+"/default/secrets/missing", `{}`), 404, `{"detail":"Secret default/missing not found"}`)

		del := ts.do(t, "DELETE", p, "")
		if del.Status != 204 || del.Body != "" {
			t.Errorf("delete: %d %q", del.Status, del.Body)
		}
		for _, m := range []string{"GET", "PATCH", "DELETE"} {
			expect(t, ts.do(t, m, p, `{}`), 404, `{"detail":"Secret default/k1 not found"}`)
		}
		expect(t, ts.do(t, "GET", p+"/access", ""), 404, `{"detail":"Secret default/k1 not found"}`)
		expect(t, ts.do(t, "GET", base+"/nows/secrets/k1", ""), 404, `{"detail":"Secret nows/k1 not found"}`)
		// Names no database can hold are simply not found (PostgreSQL
		// rejects NUL and invalid UTF-8 in text).
		expect(t, ts.do(t, "GET", base+"/default/secrets/a%00b", ""), 404, `{"detail":"Secret default/a\u0000b not found"}`)
		expect(t, ts.do(t, "PATCH", base+"/x%FFy/secrets/k1", `{}`), 404, `{"detail":"Secret x\ufffdy/k1 not found"}`)
		expect(t, ts.do(t, "GET", base+"/x%FFy/secrets", ""), 404, `{"detail":"Workspace 'x\ufffdy' not found"}`)
		expect(t, ts.do(t, "GET", "/apis/entities/v2/workspaces/a%00b", ""), 404, `{"detail":"Workspace 'a\u0000b' not found"}`)
		expect(t, ts.do(t, "POST", base+"/default/secrets", `{"name":"k1","value":"third"}`), 201,
			`{"name":"k1","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		expect(t, ts.do(t, "GET", p+"/access", ""), 200, `{"name":"k1","workspace":"default","value":"third"}`)
	})
}

func TestNGCVirtualSecret(t *testing.T) {
	ngc := `{"name":"ngc-api-key","workspace":"system","description":"Default NGC API key secret for the platform"`
	t.Run("present", func(t *testing.T) {
		ts := start(t, map[string]string{"NGC_API_KEY": "nvapi-xyz"}, "")
		p := base + "/system/secrets/ngc-api-key"
		expect(t, ts.do(t, "GET", p, ""), 200, ngc+`,"created_at":null,"updated_at":null,"current_version":null}`)
		expect(t, ts.do(t, "GET", p+"/access", ""), 200, `{"name":"ngc-api-key","workspace":"system","value":"nvapi-xyz"}`)
		expect(t, ts.do(t, "POST", base+"/system/secrets", `{"name":"ngc-api-key","value":"x"}`), 403, `{"detail":"Cannot overwrite the default NGC API key secret"}`)
		expect(t, ts.do(t, "PATCH", p, `{"value":""}`), 422, emptyItem)
		expect(t, ts.do(t, "PATCH", p, `{"value":"x"}`), 403, `{"detail":"Cannot update the default NGC API key secret"}`)
		expect(t, ts.do(t, "DELETE", p, ""), 403, `{"detail":"Cannot delete the default NGC API key secret"}`)
		expect(t, ts.do(t, "GET", base+"/system/secrets", ""), 200,
			`{"data":[`+ngc+`}],"pagination":{"page":1,"page_size":10,"current_page_size":1,"total_pages":1,"total_results":1}}`)
		for i := 0; i < 10; i++ {
			ts.do(t, "POST", base+"/system/secrets", fmt.Sprintf(`{"name":"s%02d","value":"v"}`, i))
		}
		r := ts.do(t, "GET", base+"/system/secrets?page=2", "")
		expect(t, r, 200, `{"data":[`+ngc+`}],"pagination":{"page":2,"page_size":10,"current_page_size":1,"total_pages":2,"total_results":11}}`)
		expect(t, ts.do(t, "GET", base+"/system/secrets?page=3", ""), 200,
			`{"data":[],"pagination":{"page":3,"page_size":10,"current_page_size":0,"total_pages":2,"total_results":11}}`)
		// default/ngc-api-key is an ordinary name.
		expect(t, ts.do(t, "POST", base+"/default/secrets", `{"name":"ngc-api-key","value":"x"}`), 201,
			`{"name":"ngc-api-key","workspace":"default","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
	})
	t.Run("absent", func(t *testing.T) {
		ts := start(t, map[string]string{}, "")
		p := base + "/system/secrets/ngc-api-key"
		expect(t, ts.do(t, "GET", p, ""), 404, `{"detail":"Secret system/ngc-api-key not found"}`)
		expect(t, ts.do(t, "GET", p+"/access", ""), 404, `{"detail":"Secret system/ngc-api-key not found"}`)
		expect(t, ts.do(t, "POST", base+"/system/secrets", `{"name":"ngc-api-key","value":"x"}`), 403, `{"detail":"Cannot overwrite the default NGC API key secret"}`)
		expect(t, ts.do(t, "GET", base+"/system/secrets", ""), 200,
			`{"data":[],"pagination":{"page":1,"page_size":10,"current_page_size":0,"total_pages":0,"total_results":0}}`)
	})
	t.Run("disabled", func(t *testing.T) {
		ts := start(t, map[string]string{"NMP_NGC_API_KEY_SECRET": "", "NGC_API_KEY": "nvapi-xyz"}, "")
		expect(t, ts.do(t, "POST", base+"/system/secrets", `{"name":"ngc-api-key","value":"stored"}`), 201,
			`{"name":"ngc-api-key","workspace":"system","description":null,"created_at":"<ts>","updated_at":"<ts>","current_version":1}`)
		expect(t, ts.do(t, "GET", base+"/system/secrets/ngc-api-key/access", ""), 200, `{"name":"ngc-api-key","workspace":"system","value":"stored"}`)
	})
}

func TestRacingCreatesGiveOne201(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env func(t *testing.T) map[string]string) {
		ts := start(t, env(t), "")
		const n = 20
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = ts.do(t, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":"race","value":"v%d"}`, i)).Status
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if count[201] != 1 || count[409] != n-1 {
			t.Errorf("statuses = %v, want one 201 and %d 409", count, n-1)
		}
	})
}

func TestRoutingAndLimits(t *testing.T) {
	ts := start(t, map[string]string{}, "")
	expect(t, ts.do(t, "GET", "/nope", ""), 404, `{"detail":"Not Found"}`)
	expect(t, ts.do(t, "GET", base+"/default/secrets/", ""), 404, `{"detail":"Not Found"}`)
	r := ts.do(t, "PUT", base+"/default/secrets/x", "")
	expect(t, r, 405, `{"detail":"Method Not Allowed"}`)
	if got := r.Header.Get("Allow"); got != "GET, HEAD, PATCH, DELETE" {
		t.Errorf("Allow = %q", got)
	}
	big := `{"name":"big","value":"` + strings.Repeat("a", 1<<20) + `"}`
	expect(t, ts.do(t, "POST", base+"/default/secrets", big), 413, `{"detail":"Request body too large: the limit is 1048576 bytes"}`)
	head := ts.do(t, "HEAD", base+"/default/secrets", "")
	if head.Status != 200 || head.Body != "" {
		t.Errorf("HEAD: %d %q", head.Status, head.Body)
	}
	expect(t, ts.do(t, "GET", "/health/live", ""), 200, `{"status":"live"}`)
	expect(t, ts.do(t, "GET", "/health/ready", ""), 200, `{"status":"ready"}`)
	expect(t, ts.do(t, "GET", "/apis/auth/discovery", ""), 200, `{"auth_enabled":false,"oidc":null}`)
	expect(t, ts.do(t, "GET", base+"/default/secrets", "", "X-NMP-Principal-Id: bad id!"), 400,
		`{"detail":"X-NMP-Principal-Id contains invalid characters; allowed: alphanumeric, @, ., -, _, :, +, /"}`)
	expect(t, ts.do(t, "GET", base+"/default/secrets", "", "X-NMP-Principal-Id: alice", "X-NMP-Principal-Email: nope"), 400,
		`{"detail":"X-NMP-Principal-Email is not a valid email address"}`)
	// Health endpoints parse no identity headers.
	expect(t, ts.do(t, "GET", "/health/live", "", "X-NMP-Principal-Id: bad id!"), 200, `{"status":"live"}`)
}

func TestRotationEndpoint(t *testing.T) {
	ts := start(t, map[string]string{}, "")
	ts.do(t, "POST", base+"/default/secrets", `{"name":"a1","value":"v"}`)
	r := ts.do(t, "POST", "/apis/secrets/v2/rotate-encryption-keys", `{"ignored":true}`)
	expect(t, r, http.StatusAccepted, `{"rotated_secrets":0,"success":true,"skipped_secrets":1,"failed_secrets":[],"failed_count":0,"rotated_versions":0,"deleted_secrets_rotated":0}`)
}
