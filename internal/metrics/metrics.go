// Package metrics holds Coffer's Prometheus metrics (docs/operations.md,
// "Metrics") on a private registry, so that each server, and each test, has
// its own counters. It is the only package that imports the Prometheus
// client: the others report through the small methods and hook functions
// here, which the server wiring connects.
//
// Every label value comes from a fixed set: route patterns (never a raw
// path), HTTP methods, status classes, provider names from the
// configuration and the outcome names below. No workspace, secret name,
// principal or value is ever a label. All methods work on a nil *Metrics
// (metrics disabled) and then do nothing.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coffer-dev/coffer/internal/buildinfo"
)

// Unmatched is the route label of requests no route serves with their
// method (404 and 405 from the router).
const Unmatched = "unmatched"

// latencyBuckets (seconds) span a cached read (~50 µs) to a slow Transit
// round trip or a stalled disk.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics is one server's metrics.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	rejected prometheus.Counter
	auth     [numAuthMethods][numAuthOutcomes]prometheus.Counter

	kekOps    *prometheus.CounterVec
	kekDur    *prometheus.HistogramVec
	oidc      *prometheus.CounterVec
	staleKeys prometheus.Counter

	commitBatch prometheus.Histogram
	commitDur   prometheus.Histogram

	unmatched map[string]*Route // by method, for the router's 404 and 405
}

// New returns the metrics of one server, with the Go runtime and process
// collectors and coffer_build_info for build.
func New(build buildinfo.Info) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "coffer_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status class.",
	}, []string{"route", "method", "code_class"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "coffer_http_request_duration_seconds",
		Help:    "Time from receiving a request's headers to the end of its handler, by route pattern, method and status class.",
		Buckets: latencyBuckets,
	}, []string{"route", "method", "code_class"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "coffer_http_requests_in_flight",
		Help: "HTTP requests being handled now.",
	})
	m.rejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "coffer_http_requests_rejected_total",
		Help: "Requests answered 503 at once because coffer.http.max_in_flight requests were being handled.",
	})
	authVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "coffer_auth_requests_total",
		Help: "Authentication and authorization outcomes of API requests, by how the caller identified itself (header, jwt, none).",
	}, []string{"method", "outcome"})
	for i := range numAuthMethods {
		for j := range numAuthOutcomes {
			m.auth[i][j] = authVec.WithLabelValues(AuthMethod(i).String(), AuthOutcome(j).String())
		}
	}
	m.kekOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "coffer_kek_operations_total",
		Help: "Key-encryption-key provider calls, by provider (configuration name), operation and outcome.",
	}, []string{"provider", "op", "outcome"})
	m.kekDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "coffer_kek_operation_duration_seconds",
		Help:    "Duration of key-encryption-key provider calls (for Vault/OpenBao Transit, the round trip), by provider and operation.",
		Buckets: latencyBuckets,
	}, []string{"provider", "op"})
	m.oidc = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "coffer_oidc_fetches_total",
		Help: "Fetches of the identity provider's discovery document and JWKS, by target and outcome (error: unreachable, non-2xx or unusable answer).",
	}, []string{"target", "outcome"})
	m.staleKeys = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "coffer_oidc_stale_keys_total",
		Help: "Tokens checked against a key set past auth.oidc.jwks_cache_ttl because the identity provider could not be reached to refresh it.",
	})
	m.commitBatch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "coffer_store_commit_batch_size",
		Help:    "Writes per SQLite group commit (one fsync acknowledges them all).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	})
	m.commitDur = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "coffer_store_commit_duration_seconds",
		Help:    "Duration of SQLite group commits, from BEGIN to the end of COMMIT (its fsync included).",
		Buckets: latencyBuckets,
	})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "coffer_build_info",
		Help: "Always 1; the labels name the running build (GET /version).",
		ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.Commit,
			"go_version": build.GoVersion},
	})
	buildInfo.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.inFlight, m.rejected, authVec,
		m.kekOps, m.kekDur, m.oidc, m.staleKeys, m.commitBatch, m.commitDur, buildInfo,
	)
	m.unmatched = make(map[string]*Route, len(methods))
	for _, meth := range methods {
		m.unmatched[meth] = m.route(Unmatched, meth)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// methods are the method label's values; any other method is "other".
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, "other"}

// Method returns method's label value: itself when it is a standard
// method, else "other", so a client cannot mint label values.
func Method(method string) string {
	for _, m := range methods {
		if m == method {
			return m
		}
	}
	return "other"
}

// Route counts and times the requests of one route pattern and method. Its
// children are resolved when it is made, so observing a request is two
// atomic adds and no map lookup.
type Route struct {
	count [6]prometheus.Counter // by status class: 1xx..5xx, [0] anything else
	dur   [6]prometheus.Observer
}

// Route returns the counters of requests that matched pattern with method.
// Call it once per route when the router is built; nil when m is nil.
func (m *Metrics) Route(pattern, method string) *Route {
	if m == nil {
		return nil
	}
	return m.route(pattern, Method(method))
}

func (m *Metrics) route(pattern, method string) *Route {
	r := &Route{}
	for i := range r.count {
		class := "other"
		if i > 0 {
			class = strconv.Itoa(i) + "xx"
		}
		r.count[i] = m.requests.WithLabelValues(pattern, method, class)
		r.dur[i] = m.duration.WithLabelValues(pattern, method, class)
	}
	return r
}

// UnmatchedRoute returns the counters of requests with method that no route
// serves.
func (m *Metrics) UnmatchedRoute(method string) *Route {
	if m == nil {
		return nil
	}
	return m.unmatched[Method(method)]
}

// Observe counts one answered request with its status and duration. A
// status of 0 (nothing written) is counted as the 200 net/http sends.
func (r *Route) Observe(status int, d time.Duration) {
	if r == nil {
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	i := status / 100
	if i < 1 || i > 5 {
		i = 0
	}
	r.count[i].Inc()
	r.dur[i].Observe(d.Seconds())
}

// RequestStarted and RequestDone keep the in-flight gauge.
func (m *Metrics) RequestStarted() {
	if m != nil {
		m.inFlight.Inc()
	}
}

// RequestDone ends what RequestStarted began.
func (m *Metrics) RequestDone() {
	if m != nil {
		m.inFlight.Dec()
	}
}

// Rejected counts a request refused with 503 by the in-flight bound.
func (m *Metrics) Rejected() {
	if m != nil {
		m.rejected.Inc()
	}
}

// AuthMethod is how a request's caller identified itself.
type AuthMethod int

// The auth methods (the method label of coffer_auth_requests_total).
const (
	AuthHeader AuthMethod = iota // X-NMP-Principal-* headers from a trusted network
	AuthJWT                      // a bearer token
	AuthNone                     // anonymous
	numAuthMethods
)

func (a AuthMethod) String() string { return [...]string{"header", "jwt", "none"}[a] }

// AuthOutcome is what authentication and authorization decided.
type AuthOutcome int

// The auth outcomes (the outcome label of coffer_auth_requests_total).
const (
	AuthOK           AuthOutcome = iota // allowed
	AuthBadRequest                      // 400: malformed identity headers
	AuthUnauthorized                    // 401: no valid identity where one is needed
	AuthForbidden                       // 403: identified, not allowed
	AuthError                           // 500: the decision could not be made
	numAuthOutcomes
)

func (o AuthOutcome) String() string { return [...]string{"ok", "400", "401", "403", "error"}[o] }

// Auth counts one authentication and authorization outcome.
func (m *Metrics) Auth(method AuthMethod, outcome AuthOutcome) {
	if m != nil {
		m.auth[method][outcome].Inc()
	}
}

// KEKObserver returns the hook a key provider named provider reports its
// calls to: op is "wrap", "unwrap" or "unwrap_v1", outcome "ok",
// "unavailable" or "error". Its children are resolved here, once per
// provider; nil when m is nil. The development key ("") is labelled
// "development".
func (m *Metrics) KEKObserver(provider string) func(op, outcome string, d time.Duration) {
	if m == nil {
		return nil
	}
	if provider == "" {
		provider = "development"
	}
	var (
		counts [3][3]prometheus.Counter // [op][outcome]
		durs   [3]prometheus.Observer   // [op]
	)
	for i, op := range kekOps {
		durs[i] = m.kekDur.WithLabelValues(provider, op)
		for j, oc := range kekOutcomes {
			counts[i][j] = m.kekOps.WithLabelValues(provider, op, oc)
		}
	}
	return func(op, outcome string, d time.Duration) {
		i, j := index(kekOps, op), index(kekOutcomes, outcome)
		if i < 0 || j < 0 {
			return // not one of the fixed values: never a new label
		}
		counts[i][j].Inc()
		durs[i].Observe(d.Seconds())
	}
}

// The op and outcome labels of the KEK metrics.
var (
	kekOps      = [3]string{"wrap", "unwrap", "unwrap_v1"}
	kekOutcomes = [3]string{"ok", "unavailable", "error"}
)

// index is v's position in set, or -1: a few string compares per provider
// call instead of a map lookup.
func index(set [3]string, v string) int {
	for i, s := range set {
		if s == v {
			return i
		}
	}
	return -1
}

// IdPFetch counts one request to the identity provider: kind is
// "discovery" or "jwks" (anything else is not counted), err nil on success.
// It is the auth package's Observer.Fetch hook.
func (m *Metrics) IdPFetch(kind string, err error) {
	if m == nil || (kind != "discovery" && kind != "jwks") {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.oidc.WithLabelValues(kind, outcome).Inc()
}

// StaleKeys counts a token checked against a key set older than
// auth.oidc.jwks_cache_ttl because the IdP could not be reached to refresh
// it. It is the auth package's Observer.StaleKeys hook.
func (m *Metrics) StaleKeys() {
	if m != nil {
		m.staleKeys.Inc()
	}
}

// CommitObserver returns the hook the SQLite store calls after each group
// commit with its number of writes and duration; nil when m is nil.
func (m *Metrics) CommitObserver() func(batch int, d time.Duration) {
	if m == nil {
		return nil
	}
	return func(batch int, d time.Duration) {
		m.commitBatch.Observe(float64(batch))
		m.commitDur.Observe(d.Seconds())
	}
}

// CacheCounters exports the SQLite read cache's hits and misses, read at
// scrape time.
func (m *Metrics) CacheCounters(hits, misses func() uint64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "coffer_store_cache_hits_total",
			Help: "SQLite read-cache lookups answered from the cache.",
		}, func() float64 { return float64(hits()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "coffer_store_cache_misses_total",
			Help: "SQLite read-cache lookups that went to the database.",
		}, func() float64 { return float64(misses()) }),
	)
}

// RotationCounters exports key rotation's per-version outcomes, read at
// scrape time.
func (m *Metrics) RotationCounters(counts func() (rotated, skipped, failed int64)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(rotationCollector{
		desc:   prometheus.NewDesc("coffer_rotation_versions_total", "Stored versions key rotation re-wrapped (rotated), found current (skipped) or could not re-wrap (failed).", []string{"outcome"}, nil),
		counts: counts,
	})
}

type rotationCollector struct {
	desc   *prometheus.Desc
	counts func() (rotated, skipped, failed int64)
}

func (c rotationCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c rotationCollector) Collect(ch chan<- prometheus.Metric) {
	r, s, f := c.counts()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(r), "rotated")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(s), "skipped")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(f), "failed")
}

// AuditCounters exports the audit trail's counters, read at scrape time:
// events stored, events that could not be stored, and events the JSON-lines
// sink (coffer.audit.file) failed to write or dropped.
func (m *Metrics) AuditCounters(written, failed, sinkFailures func() int64) {
	if m == nil {
		return
	}
	counter := func(name, help string, f func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f()) })
	}
	m.reg.MustRegister(
		counter("coffer_audit_events_written_total", "Audit events stored in the database by this process.", written),
		counter("coffer_audit_events_failed_total", "Audit events that could not be stored (logged as \"audit event not recorded\").", failed),
		counter("coffer_audit_sink_failures_total", "Audit events the coffer.audit.file sink failed to write or dropped because it was behind.", sinkFailures),
	)
}

// SecretsStored exports the number of live secrets (all workspaces; the
// recycle bin does not count), counted by count at scrape time with a 2 s
// deadline. The stores answer it from the per-workspace counts they keep,
// so a scrape costs one small query whatever the number of secrets. While
// count fails, the last value stays.
func (m *Metrics) SecretsStored(count func(ctx context.Context) (int64, error)) {
	if m == nil {
		return
	}
	var (
		mu   sync.Mutex
		last float64
	)
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "coffer_secrets_stored",
		Help: "Live secrets stored, all workspaces together (the recycle bin does not count).",
	}, func() float64 {
		mu.Lock()
		defer mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if n, err := count(ctx); err == nil {
			last = float64(n)
		}
		return last
	}))
}
