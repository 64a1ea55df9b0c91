package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// VaultOps are the OpenBao/Vault operations of the comparison, in run order:
// a KV v2 read and a KV v2 write (a new version) of a random preloaded name.
var VaultOps = []string{"vault-read", "vault-write"}

// VaultConfig points the comparison at a running OpenBao or Vault.
type VaultConfig struct {
	// Addr is the server's base URL, e.g. http://127.0.0.1:8200; empty
	// disables the comparison.
	Addr string
	// Token is sent as X-Vault-Token; it needs create, read and update on
	// Mount's data paths. It is never printed.
	Token string
	// Mount is the KV v2 secrets engine's path (a dev server has "secret").
	Mount string
	// PID is the server's process id, for its CPU and peak RSS; 0 = unknown.
	PID int
}

func (v VaultConfig) validate() error {
	if v.Addr == "" {
		return nil
	}
	u, err := url.Parse(v.Addr)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("vault address %q: want http://host:port", v.Addr)
	case v.Token == "":
		return fmt.Errorf("the OpenBao/Vault comparison needs a token")
	case v.Mount == "" || strings.Trim(v.Mount, "/") != v.Mount:
		return fmt.Errorf("vault mount %q: want a path such as secret", v.Mount)
	}
	return nil
}

// vaultTarget is the comparison's state: its own client and connections, and
// the path prefix under which this run's secrets live.
type vaultTarget struct {
	base    *url.URL
	token   string
	mount   string
	prefix  string // coffer-bench-<random>: this run's folder in the mount
	preload int
	hot     int
	client  *http.Client
}

// dataPath is the KV v2 data path of this run's folder, without a name.
func (v *vaultTarget) dataPath() string { return "/v1/" + v.mount + "/data/" + v.prefix }

func (v *vaultTarget) request(method, name string, body []byte) *http.Request {
	u := &url.URL{Scheme: v.base.Scheme, Host: v.base.Host, Path: v.dataPath() + "/" + name}
	req := newRequest(method, u, body)
	req.Header["X-Vault-Token"] = []string{v.token}
	return req
}

func (v *vaultTarget) name(rng *mrand.Rand) string {
	if v.hot > 0 && rng.IntN(10) < 9 {
		return preloadName(rng.IntN(v.hot))
	}
	return preloadName(rng.IntN(v.preload))
}

func (v *vaultTarget) read(rng *mrand.Rand) *http.Request {
	return v.request("GET", v.name(rng), nil)
}

func (v *vaultTarget) write(rng *mrand.Rand) *http.Request {
	return v.request("POST", v.name(rng), vaultBody(token(rng)))
}

func vaultBody(value string) []byte {
	return jsonBody(map[string]map[string]string{"data": {"value": value}})
}

func (v *vaultTarget) op(name string) opFunc {
	if name == "vault-read" {
		return v.read
	}
	return v.write
}

// openVault checks that the server answers with the token on a KV v2 mount
// and preloads the same number of secrets, named as in Coffer, so both sides
// read and write the same data size.
func (r *runner) openVault(ctx context.Context) error {
	c := r.cfg.Vault
	if c.Addr == "" {
		return nil
	}
	base, _ := url.Parse(strings.TrimSuffix(c.Addr, "/")) // validated
	conns := max(slices.Max(r.cfg.Concurrency), preloadWorkers)
	v := &vaultTarget{base: base, token: c.Token, mount: c.Mount, prefix: "coffer-" + r.wl.workspace,
		preload: r.cfg.Preload, hot: r.cfg.Hot, client: &http.Client{Transport: newTransport(conns)}}
	if _, err := do(v.client, v.request("POST", preloadName(0), vaultBody("probe-value-0123456789abcdefghij")), http.StatusOK); err != nil {
		return fmt.Errorf("OpenBao/Vault KV v2 write to %s%s/ failed (is %q a KV v2 mount, e.g. `bao secrets enable -path=%[3]s kv-v2`, and may the token write there?): %w", c.Addr, v.dataPath(), c.Mount, err)
	}
	workers := min(preloadWorkers, r.cfg.Preload)
	fmt.Fprintf(r.log, "preloading %d secrets into OpenBao/Vault at %s%s/ on %d connections\n", r.cfg.Preload, c.Addr, v.dataPath(), workers)
	start := time.Now()
	err := parallel(r.cfg.Preload, workers, func(rng *mrand.Rand, i int) error {
		_, err := do(v.client, v.request("POST", preloadName(i), vaultBody(token(rng))), http.StatusOK)
		return err
	})
	if err != nil {
		return fmt.Errorf("OpenBao/Vault preload: %w", err)
	}
	secs := time.Since(start).Seconds()
	r.rep.Vault = &VaultInfo{Addr: c.Addr, Mount: c.Mount, Path: v.dataPath(), PID: c.PID, Version: vaultVersion(ctx, v),
		Preload: Preload{Count: r.cfg.Preload, Workers: workers, Seconds: secs, RPS: float64(r.cfg.Preload) / secs, PeakRSSMiB: peakOf(c.PID)}}
	r.vault = v
	return ctx.Err()
}

// vaultVersion asks sys/health, which OpenBao and Vault both answer without
// a token; "" when it does not say.
func vaultVersion(ctx context.Context, v *vaultTarget) string {
	u := &url.URL{Scheme: v.base.Scheme, Host: v.base.Host, Path: "/v1/sys/health"}
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return ""
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var h struct {
		Version string `json:"version"`
	}
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &h)
	return h.Version
}

// vaultPhases runs the comparison's operations at conc with the same
// generator, duration and connections as Coffer's.
func (r *runner) vaultPhases(ctx context.Context, conc int) error {
	if r.vault == nil {
		return nil
	}
	pid := r.cfg.Vault.PID
	s := side{client: r.vault.client, base: r.vault.base.Scheme + "://" + r.vault.base.Host, pids: []int{pid},
		peak: func() *float64 { return peakOf(pid) }}
	for _, op := range VaultOps {
		row, err := r.measure(ctx, s, op, r.vault.op(op), conc)
		if err != nil {
			return err
		}
		r.rep.Results = append(r.rep.Results, row)
		r.progress(row)
	}
	r.vault.client.Transport.(*http.Transport).CloseIdleConnections()
	return nil
}
