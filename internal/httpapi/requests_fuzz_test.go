//go:build unix

package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// fuzzServer is a Coffer on the production wiring (auth off) with workspace
// fz holding secret s at two versions, so that every body-taking route has
// something to act on.
func fuzzServer(f *testing.F) http.Handler {
	f.Helper()
	srv, _ := startServer(f, io.Discard)
	ctx := context.Background()
	if _, err := srv.Service.CreateWorkspace(ctx, "fz", nil, nil, ""); err != nil {
		f.Fatal(err)
	}
	if _, err := srv.Service.CreateSecret(ctx, "fz", secrets.NewSecret{Name: "s", Value: "v1-value"}, nil); err != nil {
		f.Fatal(err)
	}
	return srv.Handler()
}

// bodyRoutes are the routes that decode a JSON body (internal/httpapi
// routes.go), with a path that exists in fuzzServer.
var bodyRoutes = []struct{ method, path string }{
	{http.MethodPost, "/apis/secrets/v2/workspaces/fz/secrets"},
	{http.MethodPatch, "/apis/secrets/v2/workspaces/fz/secrets/s"},
	{http.MethodPost, "/apis/secrets/v2/workspaces/fz/secrets/s/versions/1/restore"},
	{http.MethodPost, "/apis/secrets/v2/workspaces/fz/deleted-secrets/x/restore"},
	{http.MethodPost, "/apis/secrets/v2/rotate-encryption-keys"},
	{http.MethodPost, "/apis/entities/v2/workspaces"},
	{http.MethodPut, "/apis/entities/v2/workspaces/fz"},
	{http.MethodPost, "/apis/entities/v2/workspaces/fz/members"},
	{http.MethodPut, "/apis/entities/v2/workspaces/fz/members/alice@example.com"},
}

// checkResponse fails unless the answer is a client error or success with
// a JSON body: a 5xx is a crash or an unmapped error (docs/api.md).
func checkResponse(t *testing.T, what string, rec *httptest.ResponseRecorder) []byte {
	t.Helper()
	body := rec.Body.Bytes()
	if rec.Code >= 500 {
		t.Fatalf("%s: status %d: %s", what, rec.Code, body)
	}
	if len(body) > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !json.Valid(body) {
		t.Fatalf("%s: status %d, invalid JSON: %q", what, rec.Code, body)
	}
	return body
}

// FuzzRequestBodies sends arbitrary bodies to every route that decodes
// one. Whatever the bytes: no 5xx, a JSON answer, and a refused secrets
// body never repeats its "value" (a 422 must not echo a secret value).
func FuzzRequestBodies(f *testing.F) {
	for i := range bodyRoutes {
		for _, b := range []string{
			`{"name":"n1","value":"hf_secret_value"}`, `{"value":"x","description":"d"}`, `{"description":null}`,
			`{"name":"UPPER","value":"hf_secret_value"}`, `{"value":123}`, `[]`, `null`, ``, `{`, `{"a":1}`,
			`{"name":"ml","description":"ML"}`, `{"principal":"alice@example.com","role":"Editor"}`, `{"role":"Nope"}`,
			`{"name":"n2"}`, "{\"value\":\"\xff\"}", `{"value":"\ud800"}`, `{"name":"n3","value":"hf_secret_value","value":"other_secret"}`,
			`{"batch_size":0}`, `{"dry_run":true}`,
		} {
			f.Add(uint8(i), []byte(b))
		}
	}
	h := fuzzServer(f)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := bodyRoutes[int(route)%len(bodyRoutes)]
		r := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		got := checkResponse(t, rt.method+" "+rt.path, rec)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rt.path, "/secrets") {
			return
		}
		var in map[string]any
		if json.Unmarshal(body, &in) != nil {
			return
		}
		if v, ok := in["value"].(string); ok && len(v) >= 6 && bytes.Contains(got, []byte(v)) {
			t.Fatalf("%s %s: the 422 repeats the value: %s", rt.method, rt.path, got)
		}
	})
}

// FuzzRequestPaths sends GET and HEAD requests with arbitrary escaped paths
// and queries: path-parameter decoding (router.go) and the list queries
// (listquery.go) behind every GET route. Whatever the target: no 5xx and a
// JSON answer.
func FuzzRequestPaths(f *testing.F) {
	for _, p := range []string{
		"/apis/secrets/v2/workspaces/fz/secrets", "/apis/secrets/v2/workspaces/fz/secrets/s",
		"/apis/secrets/v2/workspaces/fz/secrets/s/access", "/apis/secrets/v2/workspaces/fz/secrets/s/versions",
		"/apis/secrets/v2/workspaces/fz/deleted-secrets", "/apis/entities/v2/workspaces", "/apis/entities/v2/workspaces/fz",
		"/apis/entities/v2/workspaces/fz/members", "/apis/secrets/v2/workspaces/fz/audit", "/apis/secrets/v2/audit",
		"/apis/secrets/v2/workspaces/%2F/secrets/a%2Fb", "/apis/secrets/v2/workspaces/fz/secrets/%zz", "/apis/secrets/v2/workspaces//secrets",
		"/health/ready", "/version", "/", "//", "/apis/secrets/v2/workspaces/fz/secrets/s/access",
	} {
		for _, q := range []string{"", "page=2&page_size=1", "sort=-name&filter[name][$like]=s%25", "version=1", "version=-1", "page=9223372036854775807", "search=%00"} {
			f.Add(false, p, q)
		}
	}
	f.Add(true, "/apis/secrets/v2/workspaces/fz/secrets", "")
	h := fuzzServer(f)
	f.Fuzz(func(t *testing.T, head bool, path, query string) {
		u, err := url.Parse("http://coffer" + path + "?" + query)
		if err != nil || u.Host != "coffer" || !strings.HasPrefix(u.EscapedPath(), "/") {
			return // not a request target net/http would pass on
		}
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		r := httptest.NewRequest(method, "/", nil)
		r.URL, r.RequestURI = u, u.RequestURI()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		checkResponse(t, method+" "+u.RequestURI(), rec)
	})
}
