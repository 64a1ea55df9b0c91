package loadtest

import (
	"bufio"
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
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
	out := map[string]float64{}
	for _, base := range r.wl.bases {
		if !scrapeInto(ctx, r.client, base.Scheme+"://"+base.Host+"/metrics", out) {
			return nil
		}
	}
	return out
}

func scrapeInto(ctx context.Context, client *http.Client, u string, out map[string]float64) bool {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if key, v, ok := requestCounter(sc.Text()); ok {
			out[key] += v
		}
	}
	return sc.Err() == nil
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
