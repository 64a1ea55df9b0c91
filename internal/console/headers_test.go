package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/console"
	"github.com/coffer-dev/coffer/internal/openapi/openapitest"
)

// conforms checks a console response against the OpenAPI document.
func conforms(t *testing.T, res *http.Response, body string) {
	t.Helper()
	v, err := openapitest.Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(res.Request, res.StatusCode, res.Header, []byte(body)); err != nil {
		t.Errorf("%s %s: %v", res.Request.Method, res.Request.URL.Path, err)
	}
}

// TestConsoleHeaders checks what a browser gets from `coffer serve` for the
// console: the page and every file with the security headers, cache
// revalidation by content hash, and nothing for unknown files.
func TestConsoleHeaders(t *testing.T) {
	c := startCoffer(t, map[string]string{})
	paths := []string{"/"}
	for _, n := range console.Names() {
		if n != console.IndexName {
			paths = append(paths, console.AssetPrefix+n)
		}
	}
	if len(paths) < 5 {
		t.Fatalf("only %d console files embedded: %v", len(paths), paths)
	}
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
		".svg": "image/svg+xml", "/": "text/html; charset=utf-8"}
	for _, p := range paths {
		res, body := c.do(t, "GET", p, "")
		if res.StatusCode != 200 || body == "" {
			t.Fatalf("GET %s: %d, %d bytes", p, res.StatusCode, len(body))
		}
		checkSecurityHeaders(t, p, res.Header)
		conforms(t, res, body)
		ext := p[strings.LastIndexByte(p, '.')+1:]
		if p == "/" {
			ext = "/"
		} else {
			ext = "." + ext
		}
		if got := res.Header.Get("Content-Type"); got != wantType[ext] {
			t.Errorf("GET %s: Content-Type %q, want %q", p, got, wantType[ext])
		}
		if got := res.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache (revalidate every use)", p, got)
		}
		etag := res.Header.Get("ETag")
		if len(etag) < 10 || !strings.HasPrefix(etag, `"`) {
			t.Fatalf("GET %s: ETag %q is not a strong content hash", p, etag)
		}
		// A cached copy revalidates to 304 without a body; a stale one
		// (another binary's tag) gets the file.
		res, body = c.do(t, "GET", p, "", "If-None-Match: "+etag)
		if res.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("GET %s with its ETag: %d %q, want 304 and no body", p, res.StatusCode, body)
		}
		conforms(t, res, body)
		res, _ = c.do(t, "GET", p, "", `If-None-Match: "0123456789abcdef01234567"`)
		if res.StatusCode != 200 {
			t.Errorf("GET %s with another ETag: %d, want 200", p, res.StatusCode)
		}
	}

	res, body := c.do(t, "GET", "/", "")
	for _, ref := range []string{`src="/console/app.js"`, `href="/console/style.css"`} {
		if !strings.Contains(body, ref) {
			t.Errorf("index.html does not reference %s", ref)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, "<style") {
		t.Error("index.html has inline script or style, which the CSP refuses")
	}
	_ = res

	res, body = c.do(t, "GET", "/console/nope.js", "")
	if res.StatusCode != 404 || body != `{"detail":"Not Found"}` {
		t.Errorf("unknown asset: %d %s", res.StatusCode, body)
	}
	checkSecurityHeaders(t, "/console/nope.js", res.Header)
	conforms(t, res, body)
	res, _ = c.do(t, "POST", "/", "{}")
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", res.StatusCode)
	}
	res, body = c.do(t, "HEAD", "/console/app.js", "")
	if res.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /console/app.js: %d %q", res.StatusCode, body)
	}
}

// TestConsolePublicWithAuth checks that with auth enabled the page loads
// without an identity (it holds no data) while the API it calls still
// answers 401 to an anonymous caller.
func TestConsolePublicWithAuth(t *testing.T) {
	c := startCoffer(t, map[string]string{"NMP_AUTH_ENABLED": "true", "NMP_AUTH_ADMIN_EMAIL": "boss@corp.com"})
	for _, p := range []string{"/", "/console/app.js"} {
		if res, _ := c.do(t, "GET", p, ""); res.StatusCode != 200 {
			t.Errorf("GET %s with auth enabled, anonymous: %d, want 200", p, res.StatusCode)
		}
	}
	if res, _ := c.do(t, "GET", "/apis/entities/v2/workspaces", ""); res.StatusCode != 401 {
		t.Errorf("anonymous workspace list with auth enabled: %d, want 401", res.StatusCode)
	}
}

func checkSecurityHeaders(t *testing.T, path string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
		"require-trusted-types-for 'script'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: CSP %q allows %s", path, csp, bad)
		}
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
		"X-Content-Type-Options": "nosniff"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", path, k, got, want)
		}
	}
}

// TestConsoleSignInPolicy checks what `coffer serve` computes at startup for
// the console's sign-in: connect-src admits exactly the origin the browser
// fetches tokens from (the configured token endpoint's, else the issuer's),
// never a wildcard; GET /console/config.json names the client
// (coffer.console.client_id, else auth.oidc.client_id) and the redirect
// path, which serves the console's page with the same headers.
func TestConsoleSignInPolicy(t *testing.T) {
	oidc := func(extra ...string) map[string]string {
		env := map[string]string{"NMP_AUTH_ENABLED": "true", "NMP_AUTH_OIDC_ENABLED": "true",
			"NMP_AUTH_OIDC_ISSUER": "https://idp.example.org/realms/platform", "NMP_AUTH_OIDC_AUDIENCE": "coffer",
			"NMP_AUTH_OIDC_CLIENT_ID": "coffer-cli"}
		for i := 0; i+1 < len(extra); i += 2 {
			env[extra[i]] = extra[i+1]
		}
		return env
	}
	tests := []struct {
		name       string
		env        map[string]string
		connect    string
		configJSON string
	}{
		{"auth disabled: no sign-in", map[string]string{}, "connect-src 'self';",
			`{"client_id":null,"redirect_path":"/console/callback","connect_origins":[]}`},
		{"OIDC disabled: no sign-in", map[string]string{"NMP_AUTH_ENABLED": "true", "COFFER_CONSOLE_CLIENT_ID": "web"}, "connect-src 'self';",
			`{"client_id":null,"redirect_path":"/console/callback","connect_origins":[]}`},
		{"the issuer's origin, client falls back to auth.oidc.client_id", oidc(),
			"connect-src 'self' https://idp.example.org;",
			`{"client_id":"coffer-cli","redirect_path":"/console/callback","connect_origins":["https://idp.example.org"]}`},
		{"a configured token endpoint elsewhere, the console's own client", oidc("NMP_AUTH_OIDC_TOKEN_ENDPOINT", "HTTPS://Login.Example.NET:8443/oauth2/token?x=1",
			"COFFER_CONSOLE_CLIENT_ID", "coffer-console"),
			"connect-src 'self' https://login.example.net:8443;",
			`{"client_id":"coffer-console","redirect_path":"/console/callback","connect_origins":["https://login.example.net:8443"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := startCoffer(t, tc.env)
			for _, p := range []string{"/", "/console/app.js", "/console/callback", "/console/config.json"} {
				res, _ := c.do(t, "GET", p, "")
				checkSecurityHeaders(t, p, res.Header)
				if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, tc.connect) {
					t.Errorf("GET %s: CSP %q lacks %q", p, csp, tc.connect)
				}
			}
			res, body := c.do(t, "GET", "/console/config.json", "")
			if res.StatusCode != 200 || body != tc.configJSON || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("config.json: %d %s %q, want %s", res.StatusCode, res.Header.Get("Content-Type"), body, tc.configJSON)
			}
			conforms(t, res, body)
			res, body = c.do(t, "GET", "/console/callback?code=abc&state=def", "")
			_, index := c.do(t, "GET", "/", "")
			if res.StatusCode != 200 || body != index {
				t.Errorf("the redirect path does not serve the console's page: %d", res.StatusCode)
			}
			conforms(t, res, body)
		})
	}
}

// TestConsoleSignInBadEndpoint: an endpoint the CSP cannot name safely
// stops startup with the setting's name.
func TestConsoleSignInBadEndpoint(t *testing.T) {
	for _, bad := range []string{"ftp://idp.example.org/token", "https://*.example.org/token", "/token"} {
		env := map[string]string{"NMP_AUTH_ENABLED": "true", "NMP_AUTH_OIDC_ENABLED": "true",
			"NMP_AUTH_OIDC_ISSUER": "https://idp.example.org", "NMP_AUTH_OIDC_AUDIENCE": "coffer",
			"NMP_AUTH_OIDC_CLIENT_ID": "coffer-cli", "NMP_AUTH_OIDC_TOKEN_ENDPOINT": bad}
		err := startErr(t, env)
		if err == nil || !strings.Contains(err.Error(), "auth.oidc.token_endpoint") {
			t.Errorf("token endpoint %q: startup error %v, want one naming auth.oidc.token_endpoint", bad, err)
		}
	}
}

func TestOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://idp.example.org/realms/x", "https://idp.example.org"},
		{"HTTP://127.0.0.1:8080/token", "http://127.0.0.1:8080"},
		{"https://[::1]:9000/t", "https://[::1]:9000"},
		{"https://idp.example.org;script-src *", ""},
		{"https://*.example.org", ""},
		{"https://user:pw@idp.example.org", ""},
		{"javascript:alert(1)", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := console.Origin(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("Origin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
