package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/buildinfo"
)

// series returns "name{labels} value" for every sample of the registry's
// counters, gauges and histogram counts whose name starts with prefix.
func series(t *testing.T, m *Metrics, prefix string) map[string]float64 {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		for _, s := range f.Metric {
			var ls []string
			for _, l := range s.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch {
			case s.Counter != nil:
				out[key] = s.Counter.GetValue()
			case s.Gauge != nil:
				out[key] = s.Gauge.GetValue()
			case s.Histogram != nil:
				out[key] = float64(s.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestRouteObserve(t *testing.T) {
	m := New(buildinfo.Info{Version: "v1", Commit: "c", GoVersion: "go1"})
	r := m.Route("/things/{id}", "GET")
	for _, status := range []int{0, 200, 204, 404, 503, 999} {
		r.Observe(status, time.Millisecond)
	}
	m.UnmatchedRoute("BREW").Observe(405, time.Millisecond)
	m.UnmatchedRoute("PUT").Observe(404, time.Millisecond)
	got := series(t, m, "coffer_http_requests_total")
	want := map[string]float64{
		"coffer_http_requests_total{code_class=2xx,method=GET,route=/things/{id}}":   3, // 0 is net/http's 200
		"coffer_http_requests_total{code_class=4xx,method=GET,route=/things/{id}}":   1,
		"coffer_http_requests_total{code_class=5xx,method=GET,route=/things/{id}}":   1,
		"coffer_http_requests_total{code_class=other,method=GET,route=/things/{id}}": 1,
		"coffer_http_requests_total{code_class=4xx,method=other,route=unmatched}":    1,
		"coffer_http_requests_total{code_class=4xx,method=PUT,route=unmatched}":      1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("unexpected %s = %v", k, v)
		}
	}
}

func TestHooksKeepLabelsFixed(t *testing.T) {
	m := New(buildinfo.Info{})
	kek := m.KEKObserver("")
	kek("unwrap", "ok", time.Millisecond)
	kek("unwrap", "exploded", time.Millisecond) // not a fixed outcome: dropped
	kek("rewrap", "ok", time.Millisecond)       // not a fixed op: dropped
	m.IdPFetch("jwks", errors.New("500"))
	m.IdPFetch("discovery", nil)
	m.IdPFetch("userinfo", nil) // not a fixed kind: dropped
	m.Auth(AuthJWT, AuthUnauthorized)
	got := series(t, m, "coffer_")
	for k, v := range map[string]float64{
		"coffer_kek_operations_total{op=unwrap,outcome=ok,provider=development}": 1,
		"coffer_kek_operation_duration_seconds{op=unwrap,provider=development}":  1,
		"coffer_oidc_fetches_total{outcome=error,target=jwks}":                   1,
		"coffer_oidc_fetches_total{outcome=ok,target=discovery}":                 1,
		"coffer_auth_requests_total{method=jwt,outcome=401}":                     1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for k := range got {
		for _, bad := range []string{"exploded", "rewrap", "userinfo"} {
			if strings.Contains(k, bad) {
				t.Errorf("series %s was created", k)
			}
		}
	}
}

// TestNilMetrics: with metrics disabled every hook is a no-op.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.RequestStarted()
	m.RequestDone()
	m.Rejected()
	m.Auth(AuthHeader, AuthOK)
	m.IdPFetch("jwks", nil)
	m.StaleKeys()
	m.Route("/x", "GET").Observe(200, time.Second)
	m.UnmatchedRoute("GET").Observe(404, time.Second)
	if m.KEKObserver("k") != nil || m.CommitObserver() != nil {
		t.Error("hooks of nil metrics are not nil")
	}
	m.CacheCounters(nil, nil)
	m.RotationCounters(nil)
	m.SecretsStored(nil)
}

func TestHandlerServesTextFormat(t *testing.T) {
	m := New(buildinfo.Info{Version: "v9", Commit: "abc", GoVersion: "go1.26"})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `coffer_build_info{go_version="go1.26",revision="abc",version="v9"} 1`) ||
		!strings.Contains(body, "go_goroutines ") {
		t.Errorf("%d\n%s", rec.Code, body)
	}
}
