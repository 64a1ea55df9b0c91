package server

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one parsed GET /metrics.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics fetches and parses url (a /metrics endpoint).
func scrapeMetrics(t *testing.T, url string) (scrape, string) {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, res.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return fams, string(body)
}

// value returns the value of the series of family name whose labels are
// exactly labels ("k=v" pairs); for a histogram, its sample count. A
// missing series is 0.
func (s scrape) value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	for _, m := range f.Metric {
		var got []string
		for _, l := range m.Label {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(got)
		sorted := append([]string(nil), labels...)
		sort.Strings(sorted)
		if strings.Join(got, ",") != strings.Join(sorted, ",") {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// labelValues lists every label value of every series.
func (s scrape) labelValues() []string {
	var out []string
	for _, f := range s {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				out = append(out, l.GetName()+"="+l.GetValue())
			}
		}
	}
	return out
}

// oidcIssuer serves a discovery document whose JWKS endpoint fails, so a
// bearer token makes Coffer fetch discovery (ok) and the key set (error).
func oidcIssuer(t *testing.T) string {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, srv.URL, srv.URL+"/keys")
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// rs256Token is a well-formed RS256 token from iss whose signature nobody
// can check while the key set is down.
func rs256Token(iss, sub string) string {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"RS256","kid":"k1","typ":"JWT"}`))
	claims := enc(fmt.Appendf(nil, `{"iss":%q,"sub":%q,"aud":"coffer","iat":%d,"exp":%d}`,
		iss, sub, time.Now().Unix(), time.Now().Add(time.Hour).Unix()))
	return header + "." + claims + "." + enc([]byte("not-a-signature"))
}

// TestMetricsAfterRequestMix sends a scripted mix of requests through a
// real listener, scrapes /metrics from the main and the admin listener and
// checks that each counter moved by exactly what the mix did, labelled by
// route pattern, and that no label names a workspace, secret, principal or
// value (docs/operations.md, "Metrics").
func TestMetricsAfterRequestMix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend func(t *testing.T) map[string]string) {
		const (
			canaryValue = "canary-value-7f3e9b21"
			canaryWS    = "canary-ws"
			canaryName  = "canary-secret"
			canarySvc   = "service:canary-svc"
		)
		iss := oidcIssuer(t)
		env := backend(t)
		for k, v := range authEnv() {
			env[k] = v
		}
		env["COFFER_ADMIN_LISTEN"] = "127.0.0.1:0"
		env["NMP_AUTH_OIDC_ENABLED"] = "true"
		env["NMP_AUTH_OIDC_ISSUER"] = iss
		env["NMP_AUTH_OIDC_AUDIENCE"] = "coffer"
		ts := start(t, env, "")
		provider := "development"
		if env["NMP_SECRETS_ENCRYPTION_CURRENT_PROVIDER"] != "" {
			provider = env["NMP_SECRETS_ENCRYPTION_CURRENT_PROVIDER"]
		}
		admin := "X-NMP-Principal-Id: boss@corp.com"
		svc := "X-NMP-Principal-Id: " + canarySvc
		if r := ts.do(t, "POST", wsBase, `{"name":"`+canaryWS+`"}`, admin); r.Status != 201 {
			t.Fatalf("create workspace: %d %s", r.Status, r.Body)
		}
		if r := ts.do(t, "POST", wsBase+"/"+canaryWS+"/members", `{"principal":"canary-viewer","roles":["Viewer"]}`, admin); r.Status != 201 {
			t.Fatalf("add member: %d %s", r.Status, r.Body)
		}
		before, _ := scrapeMetrics(t, ts.URL+"/metrics")

		secrets := base + "/" + canaryWS + "/secrets"
		mix := []struct {
			method, path, body string
			headers            []string
			status             int
		}{
			{"POST", secrets, `{"name":"` + canaryName + `","value":"` + canaryValue + `"}`, []string{admin}, 201},
			{"POST", secrets, `{"name":"` + canaryName + `-2","value":"` + canaryValue + `"}`, []string{svc}, 201},
			{"POST", secrets, `{"name":"` + canaryName + `","value":"x"}`, []string{admin}, 409},
			{"GET", secrets + "/" + canaryName + "/access", "", []string{svc}, 200},
			{"GET", secrets + "/" + canaryName + "/access", "", []string{svc}, 200},
			{"GET", secrets + "/" + canaryName + "-2/access", "", []string{svc}, 200},
			{"GET", secrets + "/" + canaryName + "/access", "", []string{"X-NMP-Principal-Id: canary-viewer"}, 403},
			{"GET", secrets + "/" + canaryName, "", []string{admin}, 200},
			{"HEAD", secrets + "/" + canaryName, "", []string{admin}, 200},
			{"GET", secrets + "/missing-" + canaryName, "", []string{admin}, 404},
			{"PATCH", secrets + "/" + canaryName, `{"value":"` + canaryValue + `-new"}`, []string{admin}, 200},
			{"GET", secrets, "", nil, 401},
			{"GET", secrets, "", []string{"Authorization: Bearer " + rs256Token(iss, canarySvc)}, 401},
			{"GET", "/" + canaryWS + "/" + canaryName, "", []string{admin}, 404},
			{"PUT", secrets, "", []string{admin}, 405},
			{"BREW", secrets, "", []string{admin}, 405},
			{"GET", "/version", "", nil, 200},
			{"GET", "/health/live", "", nil, 200},
			{"POST", "/apis/secrets/v2/rotate-encryption-keys", "", []string{admin}, 202},
		}
		for _, c := range mix {
			if r := ts.do(t, c.method, c.path, c.body, c.headers...); r.Status != c.status {
				t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, r.Status, r.Body, c.status)
			}
		}
		after, text := scrapeMetrics(t, ts.URL+"/metrics")
		adminScrape, _ := scrapeMetrics(t, "http://"+ts.srv.AdminAddr()+"/metrics")

		const (
			pSecrets = "/apis/secrets/v2/workspaces/{workspace}/secrets"
			pSecret  = pSecrets + "/{name}"
			pAccess  = pSecret + "/access"
		)
		req := func(route, method, class string) []string {
			return []string{"route=" + route, "method=" + method, "code_class=" + class}
		}
		tests := []struct {
			name   string
			labels []string
			want   float64
		}{
			{"coffer_http_requests_total", req(pSecrets, "POST", "2xx"), 2},
			{"coffer_http_requests_total", req(pSecrets, "POST", "4xx"), 1},
			{"coffer_http_requests_total", req(pAccess, "GET", "2xx"), 3},
			{"coffer_http_requests_total", req(pAccess, "GET", "4xx"), 1},
			{"coffer_http_requests_total", req(pSecret, "GET", "2xx"), 1},
			{"coffer_http_requests_total", req(pSecret, "HEAD", "2xx"), 1},
			{"coffer_http_requests_total", req(pSecret, "GET", "4xx"), 1},
			{"coffer_http_requests_total", req(pSecret, "PATCH", "2xx"), 1},
			{"coffer_http_requests_total", req(pSecrets, "GET", "4xx"), 2},
			{"coffer_http_requests_total", req("unmatched", "GET", "4xx"), 1},
			{"coffer_http_requests_total", req("unmatched", "PUT", "4xx"), 1},
			{"coffer_http_requests_total", req("unmatched", "other", "4xx"), 1},
			{"coffer_http_requests_total", req("/version", "GET", "2xx"), 1},
			{"coffer_http_requests_total", req("/health/live", "GET", "2xx"), 1},
			{"coffer_http_requests_total", req("/apis/secrets/v2/rotate-encryption-keys", "POST", "2xx"), 1},
			// The first scrape is counted once it has finished.
			{"coffer_http_requests_total", req("/metrics", "GET", "2xx"), 1},
			{"coffer_http_request_duration_seconds", req(pAccess, "GET", "2xx"), 3},
			{"coffer_http_request_duration_seconds", req("unmatched", "GET", "4xx"), 1},
			{"coffer_auth_requests_total", []string{"method=header", "outcome=ok"}, 14},
			{"coffer_auth_requests_total", []string{"method=header", "outcome=403"}, 1},
			{"coffer_auth_requests_total", []string{"method=none", "outcome=401"}, 1},
			{"coffer_auth_requests_total", []string{"method=jwt", "outcome=401"}, 1},
			{"coffer_http_requests_rejected_total", nil, 0},
			// 3 creates (the duplicate is sealed before the store refuses
			// it) and 1 update wrap a DEK; of the 3 reads, the second of
			// the same version finds its DEK kept (a secret_key provider:
			// docs/crypto.md "DEK cache") and calls no provider.
			{"coffer_kek_operations_total", []string{"provider=" + provider, "op=wrap", "outcome=ok"}, 4},
			{"coffer_kek_operations_total", []string{"provider=" + provider, "op=unwrap", "outcome=ok"}, 2},
			{"coffer_kek_operation_duration_seconds", []string{"provider=" + provider, "op=unwrap"}, 2},
			{"coffer_oidc_fetches_total", []string{"target=jwks", "outcome=error"}, 1},
			// Rotation found every stored version current: canary-secret
			// versions 1 and 2, canary-secret-2 version 1.
			{"coffer_rotation_versions_total", []string{"outcome=skipped"}, 3},
			{"coffer_rotation_versions_total", []string{"outcome=rotated"}, 0},
			{"coffer_rotation_versions_total", []string{"outcome=failed"}, 0},
		}
		for _, tt := range tests {
			if got := after.value(tt.name, tt.labels...) - before.value(tt.name, tt.labels...); got != tt.want {
				t.Errorf("%s%v moved by %v, want %v", tt.name, tt.labels, got, tt.want)
			}
		}
		// Gauges and build info, as they are now.
		for _, g := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"coffer_secrets_stored", nil, 2},
			{"coffer_http_requests_in_flight", nil, 1}, // the scrape itself
			{"coffer_build_info", []string{"version=devel", "revision=" + buildRevision(t, ts), "go_version=" + runtime.Version()}, 1},
		} {
			if got := after.value(g.name, g.labels...); got != g.want {
				t.Errorf("%s%v = %v, want %v", g.name, g.labels, got, g.want)
			}
		}
		// The 2 creates and the update commit their audit events with them
		// (the other events are batched and may still be queued).
		if got := after.value("coffer_audit_events_written_total") - before.value("coffer_audit_events_written_total"); got < 3 {
			t.Errorf("%v audit events written, want at least the 3 writes' events", got)
		}
		if after["coffer_audit_sink_failures_total"] == nil || after.value("coffer_audit_sink_failures_total") != 0 ||
			after.value("coffer_audit_events_failed_total") != 0 {
			t.Error("audit failure counters missing or not 0")
		}
		if after.value("coffer_oidc_fetches_total", "target=discovery", "outcome=ok") < 1 {
			t.Error("the discovery document fetch was not counted")
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
			if after[name] == nil {
				t.Errorf("%s missing: the Go and process collectors are not registered", name)
			}
		}
		if env["COFFER_DATABASE_DSN"] == "" { // SQLite: group commits and the read cache
			if got := after.value("coffer_store_commit_batch_size") - before.value("coffer_store_commit_batch_size"); got < 3 {
				t.Errorf("%v group commits counted, want at least the 3 writes", got)
			}
			hits := after.value("coffer_store_cache_hits_total") - before.value("coffer_store_cache_hits_total")
			misses := after.value("coffer_store_cache_misses_total") - before.value("coffer_store_cache_misses_total")
			if hits < 1 || misses < 1 {
				t.Errorf("read cache: %v hits, %v misses; want both to move", hits, misses)
			}
		}
		// The admin listener serves the same registry.
		if got := adminScrape.value("coffer_http_requests_total", req(pAccess, "GET", "2xx")...); got != 3 {
			t.Errorf("admin listener: access requests %v, want 3", got)
		}
		// No label value and no line names what the mix used.
		for _, lv := range after.labelValues() {
			for _, canary := range []string{canaryValue, canaryWS, canaryName, canarySvc, "canary-viewer", "boss@corp.com"} {
				if strings.Contains(lv, canary) {
					t.Errorf("label %s contains %q", lv, canary)
				}
			}
		}
		if strings.Contains(text, "canary") {
			t.Error("the exposition contains a canary")
		}
	})
}

// buildRevision is the commit GET /version reports.
func buildRevision(t *testing.T, ts *testServer) string {
	t.Helper()
	r := ts.do(t, "GET", "/version", "")
	var v struct {
		Commit string `json:"commit"`
	}
	decode(t, r, &v)
	return v.Commit
}

// TestAdminListener checks that pprof is served on the admin listener and
// never on the main one, and that a 503 of the in-flight bound is counted.
func TestAdminListener(t *testing.T) {
	ts := start(t, map[string]string{"COFFER_ADMIN_LISTEN": "127.0.0.1:0", "COFFER_HTTP_MAX_IN_FLIGHT": "1"}, "")
	adminURL := "http://" + ts.srv.AdminAddr()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
		res, err := client.Get(adminURL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("admin %s: %d", path, res.StatusCode)
		}
		if r := ts.do(t, "GET", path, ""); r.Status != 404 {
			t.Errorf("main listener %s: %d, want 404", path, r.Status)
		}
	}
	// One request holds the only slot while its body trickles in.
	held, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(held, "POST %s/default/secrets HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", base)
	time.Sleep(200 * time.Millisecond)
	if r := ts.do(t, "GET", base+"/default/secrets", ""); r.Status != 503 {
		t.Fatalf("busy: %d", r.Status)
	}
	held.Close()
	m, _ := scrapeMetrics(t, adminURL+"/metrics")
	if got := m.value("coffer_http_requests_rejected_total"); got != 1 {
		t.Errorf("rejected %v, want 1", got)
	}
	if got := m.value("coffer_http_requests_total", "route=/apis/secrets/v2/workspaces/{workspace}/secrets", "method=GET", "code_class=5xx"); got != 1 {
		t.Errorf("503s counted %v, want 1", got)
	}
}

// TestMetricsDisabled: with coffer.metrics.enabled false, /metrics is 404
// on both listeners and the API works as before.
func TestMetricsDisabled(t *testing.T) {
	ts := start(t, map[string]string{"COFFER_METRICS_ENABLED": "false", "COFFER_ADMIN_LISTEN": "127.0.0.1:0"}, "")
	expect(t, ts.do(t, "GET", "/metrics", ""), 404, `{"detail":"Not Found"}`)
	res, err := client.Get("http://" + ts.srv.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("admin /metrics: %d, want 404", res.StatusCode)
	}
	if r := ts.do(t, "GET", base+"/default/secrets", ""); r.Status != 200 {
		t.Errorf("list: %d", r.Status)
	}
}
