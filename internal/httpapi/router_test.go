package httpapi

import (
	"net/http"
	"slices"
	"testing"
)

func TestRouterMatch(t *testing.T) {
	rt := newRouter(routes())
	const sec = "/apis/secrets/v2/workspaces"
	tests := []struct {
		method, path string
		pattern      string            // "" when no route serves the method
		params       map[string]string // decoded parameters of the route
		allow        []string          // methods the path allows (nil: unknown path)
	}{
		{"GET", sec + "/default/secrets/hf-token/access", secretsBase + "/{name}/access",
			map[string]string{"workspace": "default", "name": "hf-token"}, []string{"GET", "HEAD"}},
		{"HEAD", sec + "/default/secrets/hf-token/access", secretsBase + "/{name}/access",
			map[string]string{"workspace": "default", "name": "hf-token"}, []string{"GET", "HEAD"}},
		{"POST", sec + "/default/secrets/hf-token/access", "", nil, []string{"GET", "HEAD"}},
		{"GET", sec + "/default/secrets/hf-token", secretsBase + "/{name}",
			map[string]string{"workspace": "default", "name": "hf-token"}, []string{"GET", "HEAD", "PATCH", "DELETE"}},
		{"DELETE", sec + "/ws/secrets/a.b", secretsBase + "/{name}",
			map[string]string{"workspace": "ws", "name": "a.b"}, []string{"GET", "HEAD", "PATCH", "DELETE"}},
		{"PUT", sec + "/ws/secrets/a.b", "", nil, []string{"GET", "HEAD", "PATCH", "DELETE"}},
		{"POST", sec + "/default/secrets", secretsBase, map[string]string{"workspace": "default"}, []string{"POST", "GET", "HEAD"}},
		// An escaped '/' stays inside its segment; escapes are decoded.
		{"GET", sec + "/default/secrets/a%2Fb", secretsBase + "/{name}",
			map[string]string{"workspace": "default", "name": "a/b"}, []string{"GET", "HEAD", "PATCH", "DELETE"}},
		{"GET", sec + "/d%65fault/secrets/x%20y/access", secretsBase + "/{name}/access",
			map[string]string{"workspace": "default", "name": "x y"}, []string{"GET", "HEAD"}},
		// Bad escapes and empty segments match no route.
		{"GET", sec + "/default/secrets/a%zz", "", nil, nil},
		{"GET", sec + "/default/secrets/", "", nil, nil},
		{"GET", sec + "//secrets/x", "", nil, nil},
		{"GET", sec + "/default/secrets/x/", "", nil, nil},
		{"GET", sec + "/default/secrets/x/access/", "", nil, nil},
		{"GET", "/apis/secrets/v2/workspaces/default/secret/x", "", nil, nil},
		// Deeper than any route (and than match's stack buffer).
		{"GET", sec + "/ml/secrets/hf/versions/3/restore/a/b/c/d/e", "", nil, nil},
		{"GET", "", "/", map[string]string{}, []string{"GET", "HEAD"}}, // the same as "/"
		{"GET", "/", "/", map[string]string{}, []string{"GET", "HEAD"}},
		{"POST", "/", "", nil, []string{"GET", "HEAD"}},
		{"GET", "/console/app.js", "/console/{file}", map[string]string{"file": "app.js"}, []string{"GET", "HEAD"}},
		{"GET", "/console/", "", nil, nil},
		{"GET", "/console/a/b.js", "", nil, nil},
		{"POST", "/apis/secrets/v2/rotate-encryption-keys", "/apis/secrets/v2/rotate-encryption-keys", map[string]string{}, []string{"POST"}},
		{"GET", "/apis/entities/v2/workspaces/ml/members/alice%40x.com", "", nil, []string{"PUT", "DELETE"}},
		{"PUT", "/apis/entities/v2/workspaces/ml/members/alice%40x.com", workspacesBase + "/{workspace}/members/{principal}",
			map[string]string{"workspace": "ml", "principal": "alice@x.com"}, []string{"PUT", "DELETE"}},
		{"GET", "/health/ready", "/health/ready", map[string]string{}, []string{"GET", "HEAD"}},
		// Three parameters and ten segments (versions): still matched.
		{"POST", sec + "/ml/secrets/hf/versions/3/restore", secretsBase + "/{name}/versions/{version}/restore",
			map[string]string{"workspace": "ml", "name": "hf", "version": "3"}, []string{"POST"}},
		{"DELETE", sec + "/ml/secrets/hf/versions/3", secretsBase + "/{name}/versions/{version}",
			map[string]string{"workspace": "ml", "name": "hf", "version": "3"}, []string{"DELETE"}},
		{"GET", sec + "/ml/secrets/hf/versions", secretsBase + "/{name}/versions",
			map[string]string{"workspace": "ml", "name": "hf"}, []string{"GET", "HEAD"}},
		{"GET", sec + "/ml/deleted-secrets", deletedBase, map[string]string{"workspace": "ml"}, []string{"GET", "HEAD"}},
		{"POST", sec + "/ml/deleted-secrets/ab12/restore", deletedBase + "/{id}/restore",
			map[string]string{"workspace": "ml", "id": "ab12"}, []string{"POST"}},
		{"DELETE", sec + "/ml/deleted-secrets/ab12", deletedBase + "/{id}",
			map[string]string{"workspace": "ml", "id": "ab12"}, []string{"DELETE"}},
		{"GET", "/apis/entities/v2/workspaces/ml", workspacesBase + "/{name}",
			map[string]string{"name": "ml"}, []string{"GET", "HEAD", "PUT", "DELETE"}},
	}
	for _, tt := range tests {
		m := rt.match(tt.method, tt.path)
		if m.Pattern() != tt.pattern {
			t.Errorf("%s %s: pattern %q, want %q", tt.method, tt.path, m.Pattern(), tt.pattern)
			continue
		}
		for name, want := range tt.params {
			if got := m.Param(name); got != want {
				t.Errorf("%s %s: param %s = %q, want %q", tt.method, tt.path, name, got, want)
			}
		}
		if m.Param("nope") != "" {
			t.Errorf("%s %s: unknown param not empty", tt.method, tt.path)
		}
		if m.Found() != (tt.allow != nil) {
			t.Errorf("%s %s: Found() = %v", tt.method, tt.path, m.Found())
		}
		if got := rt.allowed(tt.path); !slices.Equal(got, tt.allow) {
			t.Errorf("%s %s: allowed %v, want %v", tt.method, tt.path, got, tt.allow)
		}
	}
}

func BenchmarkRouterMatch(b *testing.B) {
	rt := newRouter(routes())
	b.ReportAllocs()
	for b.Loop() {
		m := rt.match(http.MethodGet, "/apis/secrets/v2/workspaces/default/secrets/hf-token/access")
		if m.route == nil {
			b.Fatal("no route")
		}
	}
}
