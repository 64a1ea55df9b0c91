package openapitest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCheck shows the validator refuses what a client would trip over: a
// leaked value, a missing header, an undocumented status, a wrong shape.
func TestCheck(t *testing.T) {
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	const secrets = "/apis/secrets/v2/workspaces/default/secrets"
	const meta = `{"name":"k","workspace":"default","description":null,"created_at":"2026-05-01T12:34:56.123456Z","updated_at":"2026-05-01T12:34:56.123456Z","current_version":1}`
	json := "Content-Type: application/json"
	etag := `ETag: "abc"`
	for _, tc := range []struct {
		name, method, path string
		status             int
		headers            []string
		body               string
		wantErr            string // "" = conforms
	}{
		{"create", "POST", secrets, 201, []string{json, etag}, meta, ""},
		{"create leaks the value", "POST", secrets, 201, []string{json, etag},
			strings.TrimSuffix(meta, "}") + `,"value":"v"}`, "value"},
		{"create without ETag", "POST", secrets, 201, []string{json}, meta, "ETag"},
		{"timestamp with three digits", "POST", secrets, 201, []string{json, etag},
			strings.Replace(meta, "56.123456Z", "56.123Z", 1), "created_at"},
		{"undocumented status", "POST", secrets, 418, []string{json}, `{"detail":"x"}`, "418"},
		{"409 with x-should-retry", "POST", secrets, 409, []string{json, "x-should-retry: false"}, `{"detail":"Secret 'default/k' already exists"}`, ""},
		{"409 without x-should-retry", "POST", secrets, 409, []string{json}, `{"detail":"Secret 'default/k' already exists"}`, "x-should-retry"},
		{"422 items", "POST", secrets, 422, []string{json}, `{"detail":[{"type":"missing","loc":["body","value"],"msg":"Field required"}]}`, ""},
		{"422 item with url", "POST", secrets, 422, []string{json}, `{"detail":[{"type":"missing","loc":["body","value"],"msg":"Field required","url":"u"}]}`, "url"},
		{"422 string on create", "POST", secrets, 422, []string{json}, `{"detail":"Workspace 'x' does not exist. Please create the workspace first."}`, ""},
		{"500 fixed text", "GET", secrets + "/k", 500, []string{json}, `{"detail":"An unexpected error occurred."}`, ""},
		{"500 other text", "GET", secrets + "/k", 500, []string{json}, `{"detail":"pq: relation does not exist"}`, "detail"},
		{"access without no-store", "GET", secrets + "/k/access", 200, []string{json}, `{"name":"k","workspace":"default","value":"v"}`, "Cache-Control"},
		{"list item with null", "GET", secrets, 200, []string{json},
			`{"data":[{"name":"k","workspace":"default","description":null}],"pagination":{"page":1,"page_size":10,"current_page_size":1,"total_pages":1,"total_results":1}}`, "description"},
		{"unknown path", "GET", "/nope", 404, []string{json}, `{"detail":"Not Found"}`, ""},
		{"unknown path, other status", "GET", "/nope", 200, []string{json}, `{}`, "404"},
		{"escaped slash is one segment", "DELETE", "/apis/entities/v2/workspaces/w/members/a%2Fb", 200, []string{json},
			`{"message":"Member removed from workspace 'w'","id":"a/b","deleted_count":1}`, ""},
		{"405 with Allow", "PUT", secrets, 405, []string{json, "Allow: POST, GET, HEAD"}, `{"detail":"Method Not Allowed"}`, ""},
		{"405 without Allow", "PUT", secrets, 405, []string{json}, `{"detail":"Method Not Allowed"}`, "Allow"},
		{"HEAD", "HEAD", "/health/live", 200, []string{json}, "", ""},
		{"HEAD with a body", "HEAD", "/health/live", 200, []string{json}, `{"status":"live"}`, "body"},
		{"busy without Retry-After", "GET", secrets, 503, []string{json}, `{"detail":"Server busy"}`, "Retry-After"},
		{"malformed request id", "GET", "/health/live", 200, []string{json, "X-Request-Id: a b"}, `{"status":"live"}`, "X-Request-Id"},
		{"unknown path without request id", "GET", "/nope", 404, []string{json, "X-Request-Id:"}, `{"detail":"Not Found"}`, "X-Request-Id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			h := http.Header{"X-Request-Id": {"r1"}}
			for _, kv := range tc.headers {
				k, val, _ := strings.Cut(kv, ":")
				h.Set(k, strings.TrimSpace(val))
			}
			err := v.Check(req, tc.status, h, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("accepted, want an error about %s", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %v does not mention %s", err, tc.wantErr)
			}
		})
	}
}
