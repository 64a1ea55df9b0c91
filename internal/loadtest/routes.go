package loadtest

import (
	"bufio"
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// labelRE reads one name="value" pair of a Prometheus text-format line;
// Coffer's label values (route patterns, methods, code classes) hold no
// quotes or escapes.
var labelRE = regexp.MustCompile(`(\w+)="([^"]*)"`)

// scrapeRoutes reads coffer_http_requests_total from every target's
// /metrics, keyed "METHOD route code_class" and summed over replicas. nil
// when a target does not answer (metrics off, or not a Coffer): the rows then
// carry no server-side count.
func (r *runner) scrapeRoutes(ctx context.Context) map[string]float64 {
	m, _ := r.scrape(ctx)
	return m
}

// scrapeSettled is scrapeRoutes once the requests in flight are only the
// scrapes themselves: wrk abandons its requests in flight when its time is
// up, and the server finishes them after wrk exits; counted now, they would
// land in the next phase's row. It gives up waiting after settleTimeout.
func (r *runner) scrapeSettled(ctx context.Context) map[string]float64 {
	deadline := time.Now().Add(settleTimeout)
	for {
		m, inFlight := r.scrape(ctx)
		if m == nil || inFlight <= float64(len(r.wl.bases)) || time.Now().After(deadline) || ctx.Err() != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond) // polling the gauge; nothing to wait on but the server
	}
}

// settleTimeout bounds scrapeSettled: a request slower than this (a list
// that scans a large workspace) is left to be counted in the next row.
const settleTimeout = 5 * time.Second

// scrape returns the request counters and the in-flight gauge (the scrape
// included), summed over the targets.
func (r *runner) scrape(ctx context.Context) (map[string]float64, float64) {
	out := map[string]float64{}
	var inFlight float64
	for _, base := range r.wl.bases {
		n, ok := scrapeInto(ctx, r.client, base.Scheme+"://"+base.Host+"/metrics", out)
		if !ok {
			return nil, 0
		}
		inFlight += n
	}
	return out, inFlight
}

func scrapeInto(ctx context.Context, client *http.Client, u string, out map[string]float64) (float64, bool) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return 0, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false
	}
	var inFlight float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if key, v, ok := requestCounter(line); ok {
			out[key] += v
		} else if v, ok := strings.CutPrefix(line, "coffer_http_requests_in_flight "); ok {
			inFlight, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return inFlight, sc.Err() == nil
}

// requestCounter parses one coffer_http_requests_total sample line.
func requestCounter(line string) (string, float64, bool) {
	rest, ok := strings.CutPrefix(line, "coffer_http_requests_total{")
	if !ok {
		return "", 0, false
	}
	labels, value, ok := strings.Cut(rest, "} ")
	if !ok {
		return "", 0, false
	}
	f := strings.Fields(value)
	if len(f) == 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", 0, false
	}
	l := map[string]string{}
	for _, m := range labelRE.FindAllStringSubmatch(labels, -1) {
		l[m[1]] = m[2]
	}
	return l["method"] + " " + l["route"] + " " + l["code_class"], v, true
}

// routeDelta is what the server counted between two scrapes, without the
// scrape itself; nil when either scrape failed.
func routeDelta(before, after map[string]float64) map[string]uint64 {
	if before == nil || after == nil {
		return nil
	}
	out := map[string]uint64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 && !strings.Contains(k, " /metrics ") {
			out[k] = uint64(d)
		}
	}
	return out
}
