package loadtest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// newTransport sizes the idle pool so that every worker keeps its connection
// between requests; a smaller pool would close and redial sockets and the run
// would measure TCP setup instead of the server.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       time.Minute,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
}

// newRequest builds a request from an already parsed URL: it skips
// http.NewRequest's URL parsing, which the ceiling would pay for too but which
// is pure generator overhead on a 2-core machine.
func newRequest(method string, u *url.URL, body []byte) *http.Request {
	req := &http.Request{
		Method: method, URL: u, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{},
	}
	if body != nil {
		req.Header["Content-Type"] = []string{"application/json"}
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req
}

// token is a random ~32-byte secret value, like an API key.
func token(rng *mrand.Rand) string {
	var b [24]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// randomSuffix names the bench workspace so runs against a shared server do
// not collide.
func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// preloadName is deterministic so wrk's Lua script can pick names too.
func preloadName(i int) string { return fmt.Sprintf("s%07d", i) }

// workload holds what every request of a run needs; its methods build the
// request of one operation.
type workload struct {
	bases     []*url.URL   // one per replica
	next      atomic.Int64 // round-robin position in bases
	workspace string
	preload   int
	versions  int          // Config.PreloadVersions
	hot       int          // Config.Hot
	created   atomic.Int64 // distinct names for the create op across phases
}

func (w *workload) secretsPath() string { return secretsPathOf(w.workspace) }

// createdWorkspace receives the create op's secrets. Keeping them out of the
// preloaded workspace keeps that one at exactly `preload` secrets, so list,
// access and get measure the same data size whatever ran before them (list
// cost grows with the workspace, and creates add thousands per second).
func (w *workload) createdWorkspace() string { return w.workspace + "-new" }

func secretsPathOf(ws string) string { return "/apis/secrets/v2/workspaces/" + ws + "/secrets" }

// urlFor spreads requests round-robin over the replicas, as a load balancer
// would; each replica keeps its own keep-alive connections.
func (w *workload) urlFor(path, query string) *url.URL {
	base := w.bases[0]
	if len(w.bases) > 1 {
		base = w.bases[w.next.Add(1)%int64(len(w.bases))]
	}
	return &url.URL{Scheme: base.Scheme, Host: base.Host, Path: path, RawQuery: query}
}

// randomName picks a preloaded secret: uniformly, or with --hot 90 % of the
// time among the hot ones.
func (w *workload) randomName(rng *mrand.Rand) string {
	if w.hot > 0 && rng.IntN(10) < 9 {
		return preloadName(rng.IntN(w.hot))
	}
	return preloadName(rng.IntN(w.preload))
}

// opFunc returns a fresh request of one operation.
type opFunc func(rng *mrand.Rand) *http.Request

func (w *workload) access(rng *mrand.Rand) *http.Request {
	return newRequest("GET", w.urlFor(w.secretsPath()+"/"+w.randomName(rng)+"/access", ""), nil)
}

func (w *workload) get(rng *mrand.Rand) *http.Request {
	return newRequest("GET", w.urlFor(w.secretsPath()+"/"+w.randomName(rng), ""), nil)
}

// list reads random 10-item pages within the first 1000 items: deep offsets
// would measure the store's OFFSET scan rather than the service.
func (w *workload) list(rng *mrand.Rand) *http.Request {
	q := fmt.Sprintf("page=%d&page_size=10", 1+rng.IntN(w.listPages()))
	return newRequest("GET", w.urlFor(w.secretsPath(), q), nil)
}

func (w *workload) listPages() int { return max(min(w.preload, 1000)/10, 1) }

// listFilterQuery is filter[name][$like] with the prefix of a random
// preloaded name minus its last two digits (up to 100 matches), first page
// of 10: what a person typing the start of a name into a search box sends.
func listFilterQuery(name string) string {
	return "filter%5Bname%5D%5B%24like%5D=" + name[:len(name)-2] + "%25&page_size=10"
}

func (w *workload) listFilter(rng *mrand.Rand) *http.Request {
	return newRequest("GET", w.urlFor(w.secretsPath(), listFilterQuery(w.randomName(rng))), nil)
}

func (w *workload) create(rng *mrand.Rand) *http.Request {
	name := fmt.Sprintf("c%08d", w.created.Add(1))
	return newRequest("POST", w.urlFor(secretsPathOf(w.createdWorkspace()), ""), jsonBody(map[string]string{"name": name, "value": token(rng)}))
}

func (w *workload) update(rng *mrand.Rand) *http.Request {
	return newRequest("PATCH", w.urlFor(w.secretsPath()+"/"+w.randomName(rng), ""), jsonBody(map[string]string{"value": token(rng)}))
}

// mix is read-heavy like a platform's steady state: services fetch secrets far
// more often than anyone changes them.
func (w *workload) mix(rng *mrand.Rand) *http.Request {
	switch r := rng.IntN(100); {
	case r < 45:
		return w.access(rng)
	case r < 90:
		return w.get(rng)
	default:
		return w.update(rng)
	}
}

func (w *workload) op(name string) opFunc {
	return map[string]opFunc{
		"access": w.access, "get": w.get, "list": w.list, "list-filter": w.listFilter,
		"create": w.create, "update": w.update, "mix": w.mix,
	}[name]
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v) // maps of strings always marshal
	return b
}

// do sends one setup request and fails unless the status is want.
func do(client *http.Client, req *http.Request, want int) ([]byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return body, fmt.Errorf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// createWorkspaces makes the run's own workspaces so that list totals and
// the preloaded names are known exactly.
func (w *workload) createWorkspaces(client *http.Client) error {
	u := w.urlFor("/apis/entities/v2/workspaces", "")
	for _, ws := range []string{w.workspace, w.createdWorkspace()} {
		if _, err := do(client, newRequest("POST", u, jsonBody(map[string]string{"name": ws})), http.StatusCreated); err != nil {
			return err
		}
	}
	return nil
}

// preloadSecrets creates names 0..preload-1 with `workers` concurrent
// connections and stops at the first failure: later phases need every name.
func (w *workload) preloadSecrets(client *http.Client, workers int) error {
	return parallel(w.preload, workers, func(rng *mrand.Rand, i int) error {
		body := jsonBody(map[string]string{"name": preloadName(i), "value": token(rng)})
		if _, err := do(client, newRequest("POST", w.urlFor(w.secretsPath(), ""), body), http.StatusCreated); err != nil {
			return err
		}
		for range w.versions - 1 {
			path := w.secretsPath() + "/" + preloadName(i)
			body := jsonBody(map[string]string{"value": token(rng)})
			if _, err := do(client, newRequest("PATCH", w.urlFor(path, ""), body), http.StatusOK); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkVersions confirms that the server kept the preloaded history: the last
// preloaded secret's current version is the preload's version count. A
// server that ignored the updates would otherwise be measured as if it held
// every version.
func (w *workload) checkVersions(client *http.Client) error {
	if w.versions <= 1 {
		return nil // the create was checked by its 201
	}
	name := preloadName(w.preload - 1)
	body, err := do(client, newRequest("GET", w.urlFor(w.secretsPath()+"/"+name, ""), nil), http.StatusOK)
	if err != nil {
		return err
	}
	var sec struct {
		CurrentVersion int `json:"current_version"`
	}
	if err := json.Unmarshal(body, &sec); err != nil {
		return fmt.Errorf("GET %s: %w", name, err)
	}
	if sec.CurrentVersion != w.versions {
		return fmt.Errorf("%s has current_version %d after the preload, want %d", name, sec.CurrentVersion, w.versions)
	}
	return nil
}

// parallel calls f for 0..n-1 on `workers` goroutines, each with its own
// random source, and returns the first error, after which no new calls start.
func parallel(n, workers int, f func(rng *mrand.Rand, i int) error) error {
	var next atomic.Int64
	errc := make(chan error, workers)
	for g := range workers {
		go func() {
			rng := mrand.New(mrand.NewPCG(uint64(g), 0x5eed))
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					errc <- nil
					return
				}
				if err := f(rng, i); err != nil {
					next.Store(int64(n)) // stop the others
					errc <- err
					return
				}
			}
		}()
	}
	var first error
	for range workers {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sampleAccess returns one real access response body so the ceiling can
// answer with a body of the same size.
func (w *workload) sampleAccess(client *http.Client) ([]byte, error) {
	u := w.urlFor(w.secretsPath()+"/"+preloadName(0)+"/access", "")
	return do(client, newRequest("GET", u, nil), http.StatusOK)
}
