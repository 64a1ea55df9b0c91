package loadtest

import (
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// preloadWorkers is the preload's concurrency: enough to keep the server
// busy, few enough not to measure lock convoys during setup.
const preloadWorkers = 32

// runner carries one run's state between its steps.
type runner struct {
	cfg        Config
	log        io.Writer
	dir        string
	rep        *Report
	servers    []*child // the started replicas; none when attached with --url
	ceiling    *child   // nil when cfg.CeilingURL is set
	pids       []int    // server pids for RSS and CPU; empty = unknown
	wl         *workload
	client     *http.Client
	ceilClient *http.Client
	ceilBase   string
	wrkScript  string // set when the --wrk check runs
	wrkSeq     int    // wrk invocations so far, to name scripts and created secrets
	vault      *vaultTarget
	round      int // 1-based, while the phases run
	seed       uint64
}

// Run executes the benchmark described by cfg and returns its report;
// progress lines go to log. Children and the temp dir are gone on return.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "coffer-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &runner{cfg: cfg, log: log, dir: dir, rep: newReport(cfg), seed: uint64(time.Now().UnixNano())}
	defer r.close()
	for _, step := range []func(context.Context) error{r.openTarget, r.setup, r.openVault, r.openCeiling, r.prepareWrk, r.phases} {
		if err := step(ctx); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return r.rep, nil
}

func newReport(cfg Config) *Report {
	return &Report{
		Command:         cfg.CommandLine,
		Date:            time.Now().UTC().Format(time.RFC3339),
		GoVersion:       runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		GOMAXPROCS:      runtime.GOMAXPROCS(0),
		NumCPU:          runtime.NumCPU(),
		DurationSeconds: cfg.Duration.Seconds(),
		Rounds:          cfg.Rounds,
		WarmupSeconds:   cfg.Warmup.Seconds(),
		Generator:       cfg.Generator,
		WrkThreads:      wrkThreadsIf(cfg),
		ServerSettings:  cfg.ServerSettings,
	}
}

func wrkThreadsIf(cfg Config) int {
	if cfg.usesWrk() {
		return cfg.WrkThreads
	}
	return 0
}

// close stops the children; a server that fails to stop cleanly is reported
// on the log, not as a run failure, because the figures are already taken.
func (r *runner) close() {
	for _, c := range append([]*child{r.ceiling}, r.servers...) {
		if c == nil {
			continue
		}
		if err := c.stop(); err != nil {
			fmt.Fprintf(r.log, "warning: stopping pid %d: %v\n%s\n", c.pid(), err, c.logTail())
		}
	}
}

func (r *runner) openTarget(ctx context.Context) error {
	if r.cfg.URL != "" {
		return r.attach(ctx)
	}
	var bases []string
	for i := range r.cfg.Replicas {
		base, err := r.startReplica(ctx, i)
		if err != nil {
			return err
		}
		bases = append(bases, base)
	}
	r.rep.Target = Target{URL: bases[0], Started: true, PID: r.pids[0], Database: databaseOf(r.cfg.ServerEnv), DataFS: fsType(r.dir)}
	if len(bases) > 1 {
		r.rep.Target.Replicas, r.rep.Target.URLs, r.rep.Target.PIDs = len(bases), bases, r.pids
	}
	return r.useTarget(bases)
}

// startReplica starts replica i on its own port and data dir (unused with
// PostgreSQL, but serve wants one) and waits until it is ready. Replicas
// start one after the other, so the first runs the migrations alone.
func (r *runner) startReplica(ctx context.Context, i int) (string, error) {
	addr, err := freePort()
	if err != nil {
		return "", err
	}
	name := "coffer"
	if i > 0 {
		name = fmt.Sprintf("coffer-%d", i+1)
	}
	args := []string{"serve", "--listen", addr, "--data-dir", r.dataDir(i)}
	fmt.Fprintf(r.log, "starting %s %s\n", r.cfg.Exe, strings.Join(args, " "))
	c, err := startChild(r.cfg.Exe, args, r.cfg.ServerEnv, filepath.Join(r.dir, name+".log"))
	if err != nil {
		return "", fmt.Errorf("start coffer: %w", err)
	}
	r.servers = append(r.servers, c)
	base := "http://" + addr
	if err := waitReady(ctx, base+"/health/ready", c, time.Minute); err != nil {
		return "", fmt.Errorf("%s serve: %w", name, err)
	}
	r.pids = append(r.pids, c.pid())
	return base, nil
}

func (r *runner) dataDir(i int) string {
	if i == 0 {
		return filepath.Join(r.dir, "data")
	}
	return filepath.Join(r.dir, fmt.Sprintf("data-%d", i+1))
}

func (r *runner) attach(ctx context.Context) error {
	base := strings.TrimSuffix(r.cfg.URL, "/")
	if !readyOnce(ctx, base+"/health/ready") {
		return fmt.Errorf("%s/health/ready does not answer 200", base)
	}
	if r.cfg.PID != 0 {
		r.pids = []int{r.cfg.PID}
	}
	r.rep.Target = Target{URL: base, PID: r.cfg.PID, Database: "not known to the generator"}
	return r.useTarget([]string{base})
}

func (r *runner) useTarget(bases []string) error {
	var urls []*url.URL
	for _, base := range bases {
		u, err := url.Parse(base)
		if err != nil || u.Host == "" {
			return fmt.Errorf("target URL %q: want http://host:port", base)
		}
		urls = append(urls, u)
	}
	conns := max(slices.Max(r.cfg.Concurrency), preloadWorkers)
	r.client = &http.Client{Transport: newTransport(conns)}
	r.wl = &workload{bases: urls, workspace: "bench-" + randomSuffix(), preload: r.cfg.Preload, versions: r.cfg.PreloadVersions, hot: r.cfg.Hot}
	r.rep.Workspace, r.rep.Hot = r.wl.workspace, r.cfg.Hot
	return nil
}

const postgresDB = "PostgreSQL"

// databaseOf names the store without echoing the DSN, which may hold a password.
func databaseOf(env []string) string {
	dsn, _ := os.LookupEnv("COFFER_DATABASE_DSN")
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "COFFER_DATABASE_DSN="); ok {
			dsn = v
		}
	}
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgresDB
	case dsn == "":
		return "SQLite (default file in the data dir)"
	default:
		return "SQLite (custom path)"
	}
}

// setup creates the workspace and preloads secrets, timing the preload.
func (r *runner) setup(ctx context.Context) error {
	if err := r.wl.createWorkspaces(r.client); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	workers := min(preloadWorkers, r.cfg.Preload)
	fmt.Fprintf(r.log, "preloading %d secrets × %d versions into %s on %d connections\n", r.cfg.Preload, r.cfg.PreloadVersions, r.wl.workspace, workers)
	start := time.Now()
	if err := r.wl.preloadSecrets(r.client, workers); err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	secs := time.Since(start).Seconds()
	if err := r.wl.checkVersions(r.client); err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	writes := float64(r.cfg.Preload * r.cfg.PreloadVersions)
	r.rep.Preload = Preload{Count: r.cfg.Preload, Versions: r.cfg.PreloadVersions, Workers: workers, Seconds: secs, RPS: writes / secs, PeakRSSMiB: r.serverPeak()}
	fmt.Fprintf(r.log, "preload done in %.1f s\n", secs)
	r.rep.Metrics = "on (GET /metrics answered; per-row request counts below)"
	if r.scrapeRoutes(ctx) == nil {
		r.rep.Metrics = "off or not answering (GET /metrics): no server-side request counts"
	}
	return nil
}

// openCeiling sizes the ceiling's body from a real access response.
func (r *runner) openCeiling(context.Context) error {
	sample, err := r.wl.sampleAccess(r.client)
	if err != nil {
		return fmt.Errorf("sample access: %w", err)
	}
	r.ceilClient = &http.Client{Transport: newTransport(slices.Max(r.cfg.Concurrency))}
	if r.cfg.CeilingURL != "" {
		r.ceilBase = r.cfg.CeilingURL
		return nil
	}
	r.ceiling, r.ceilBase, err = startCeiling(r.cfg.Exe, r.dir, len(sample))
	return err
}

// serverPeak reads the servers' VmHWM for the window just ended and starts a
// new one, and returns the largest (each replica is its own process, so the
// figure stays comparable with one replica); it also keeps the run-wide maximum.
func (r *runner) serverPeak() *float64 {
	var v *float64
	for _, pid := range r.pids {
		if p := peakOf(pid); p != nil && (v == nil || *p > *v) {
			v = p
		}
	}
	if v != nil && (r.rep.ServerPeakRSSMiB == nil || *v > *r.rep.ServerPeakRSSMiB) {
		peak := *v
		r.rep.ServerPeakRSSMiB = &peak
	}
	return v
}

// peakOf returns pid's VmHWM in MiB and resets it; nil when unknown.
func peakOf(pid int) *float64 {
	if pid == 0 {
		return nil
	}
	b, err := peakRSS(pid)
	if err != nil {
		return nil
	}
	_ = resetPeakRSS(pid)
	v := mib(b)
	return &v
}

// phases runs, per concurrency, the ceiling, every op, and the ceiling again.
// Two ceiling measurements bracket the ops: on a shared machine one of them
// can be disturbed, and ratios use the higher so they are not flattered.
func (r *runner) phases(ctx context.Context) error {
	for r.round = 1; r.round <= r.cfg.Rounds; r.round++ {
		for _, conc := range r.cfg.Concurrency {
			if err := r.concurrencyPhases(ctx, conc); err != nil {
				return err
			}
			r.rep.setRatios(conc, r.round)
		}
	}
	r.noteWrk()
	r.rep.DataFilesMiB = dataFiles(filepath.Join(r.dir, "data"))
	return nil
}

// dataFiles lists the regular files directly in dir with their sizes; nil
// when dir does not exist (attached to a server elsewhere).
func dataFiles(dir string) map[string]float64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			out[e.Name()] = mib(info.Size())
		}
	}
	return out
}

// concurrencyPhases runs one concurrency's block: the ceiling, Coffer's
// operations, OpenBao/Vault's when compared, and the ceiling again. With
// --wrk, wrk follows the Go generator's ceiling and access phases at once.
func (r *runner) concurrencyPhases(ctx context.Context, conc int) error {
	if err := r.ceilingPhase(ctx, conc, CeilingOp); err != nil {
		return err
	}
	if err := r.wrkPhase(ctx, "ceiling", conc); err != nil {
		return err
	}
	for _, op := range r.cfg.Ops {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.opPhase(ctx, op, conc); err != nil {
			return err
		}
		if op == "access" {
			if err := r.wrkPhase(ctx, "access", conc); err != nil {
				return err
			}
		}
	}
	if err := r.vaultPhases(ctx, conc); err != nil {
		return err
	}
	if err := r.ceilingPhase(ctx, conc, CeilingAfterOp); err != nil {
		return err
	}
	r.client.Transport.(*http.Transport).CloseIdleConnections()
	return nil
}

// side is what a phase drives and measures: Coffer, the ceiling or OpenBao.
type side struct {
	client *http.Client
	base   string          // scheme://host:port, for wrk
	pids   []int           // whose CPU counts as the server's
	peak   func() *float64 // reads the RSS window just ended and starts a new one
}

func (r *runner) cofferSide() side {
	return side{client: r.client, base: r.rep.Target.URL, pids: r.pids, peak: r.serverPeak}
}

// measure runs one phase with the configured generator. luaOp names the
// request the wrk script makes; goOp is the Go generator's.
func (r *runner) measure(ctx context.Context, s side, luaOp string, goOp opFunc, conc int) (Row, error) {
	s.peak() // the window starts here
	cpu := startCPU(s.pids...)
	var row Row
	if r.cfg.Generator == GeneratorWrk {
		var used time.Duration
		var err error
		row, used, err = r.wrkPhaseRun(ctx, luaOp, s.base, conc)
		cpu.addGenerator(used)
		if err != nil {
			return row, err
		}
	} else {
		row = newRow(luaOp, conc, drive(ctx, s.client, goOp, conc, r.cfg.Warmup, r.cfg.Duration, r.seed), nil)
	}
	row.PeakRSSMiB = s.peak()
	row.ServerCores, row.GeneratorCores, row.MachineCores = cpu.stop()
	row.Round = r.round
	return row, nil
}

func (r *runner) opPhase(ctx context.Context, op string, conc int) error {
	before := r.scrapeRoutes(ctx)
	row, err := r.measure(ctx, r.cofferSide(), op, r.wl.op(op), conc)
	if err != nil {
		return err
	}
	row.ServerRequests = routeDelta(before, r.scrapeSettled(ctx))
	r.rep.Results = append(r.rep.Results, row)
	r.progress(row)
	return nil
}

func (r *runner) ceilingPhase(ctx context.Context, conc int, name string) error {
	pid := 0
	if r.ceiling != nil {
		pid = r.ceiling.pid()
	}
	u, _ := url.Parse(r.ceilBase + "/")
	op := func(*mrand.Rand) *http.Request { return newRequest("GET", u, nil) }
	s := side{client: r.ceilClient, base: r.ceilBase, pids: []int{pid}, peak: func() *float64 { return peakOf(pid) }}
	row, err := r.measure(ctx, s, CeilingOp, op, conc)
	if err != nil {
		return err
	}
	row.Op = name
	r.rep.Ceiling = append(r.rep.Ceiling, row)
	r.progress(row)
	r.ceilClient.Transport.(*http.Transport).CloseIdleConnections()
	return nil
}

func (r *runner) progress(x Row) {
	fmt.Fprintf(r.log, "%-13s c=%-4d %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  errors %d/%d  cpu server %s gen %.2f\n",
		x.Op, x.Concurrency, x.RPS, x.P50ms, x.P99ms, x.HTTPErrors, x.TransportErrors, fmtCores(x.ServerCores), x.GeneratorCores)
}
