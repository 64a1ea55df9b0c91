package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// Report is everything one run measured; it is both the Markdown table and
// the --json document, so the two never disagree.
type Report struct {
	Command    string `json:"command"`
	Date       string `json:"date"`
	GoVersion  string `json:"go_version"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	Target     Target `json:"target"`

	// Generator is "go" or "wrk"; WrkThreads is wrk's -t with wrk.
	Generator  string `json:"generator"`
	WrkThreads int    `json:"wrk_threads,omitempty"`
	// ServerSettings is the started server's effective configuration as
	// far as the figures depend on it; Metrics says whether /metrics answered.
	ServerSettings string `json:"server_settings,omitempty"`
	Metrics        string `json:"metrics"`
	// Vault describes the OpenBao/Vault side of a comparison run.
	Vault *VaultInfo `json:"vault,omitempty"`

	Workspace       string  `json:"workspace"`
	Hot             int     `json:"hot,omitempty"` // Config.Hot
	DurationSeconds float64 `json:"duration_seconds"`
	// Rounds is how many times every concurrency's block ran (Config.Rounds).
	Rounds        int         `json:"rounds"`
	WarmupSeconds float64     `json:"warmup_seconds"`
	Preload       Preload     `json:"preload"`
	Ceiling       []Row       `json:"ceiling"`
	Results       []Row       `json:"results"`
	Wrk           []WrkResult `json:"wrk,omitempty"`
	WrkNote       string      `json:"wrk_note,omitempty"`
	// ServerPeakRSSMiB is the largest VmHWM seen over the whole run.
	ServerPeakRSSMiB *float64 `json:"server_peak_rss_mib"`
	// DataFilesMiB is the size of each file in a started server's data dir
	// after the last phase: storage growth (e.g. an unbounded WAL) is a
	// performance property too.
	DataFilesMiB map[string]float64 `json:"data_files_mib,omitempty"`
}

// Target describes the server under test.
type Target struct {
	URL     string `json:"url"`
	Started bool   `json:"started"` // a child `coffer serve` of this run
	PID     int    `json:"pid,omitempty"`
	// Replicas, URLs and PIDs are set when several replicas were started.
	Replicas int      `json:"replicas,omitempty"`
	URLs     []string `json:"urls,omitempty"`
	PIDs     []int    `json:"pids,omitempty"`
	Database string   `json:"database"`
	DataFS   string   `json:"data_dir_filesystem,omitempty"`
}

// VaultInfo is the compared OpenBao/Vault server.
type VaultInfo struct {
	Addr    string  `json:"addr"`
	Version string  `json:"version,omitempty"`
	Mount   string  `json:"mount"`
	Path    string  `json:"path"` // KV v2 data path of the run's secrets
	PID     int     `json:"pid,omitempty"`
	Preload Preload `json:"preload"`
}

// Preload is the setup phase; its rate is a create throughput at the
// preload concurrency, though not warmed up.
type Preload struct {
	Count      int      `json:"count"`
	Versions   int      `json:"versions"` // per secret: the create and Versions-1 updates
	Workers    int      `json:"workers"`
	Seconds    float64  `json:"seconds"`
	RPS        float64  `json:"requests_per_sec"`
	PeakRSSMiB *float64 `json:"server_peak_rss_mib"`
}

// Names of the two ceiling rows of each concurrency, measured before and
// after its operations.
const (
	CeilingOp      = "ceiling"
	CeilingAfterOp = "ceiling-after"
)

// Row is one (operation, concurrency) phase.
type Row struct {
	Op             string  `json:"op"`
	Concurrency    int     `json:"concurrency"`
	Round          int     `json:"round,omitempty"` // 1-based; the medians have 0
	Requests       uint64  `json:"requests"`
	RPS            float64 `json:"requests_per_sec"`
	RatioToCeiling float64 `json:"ratio_to_ceiling"`
	// P99RatioToCeiling is p99 over the ceiling's lower p99 at the same
	// concurrency (the ratio that does not flatter).
	P99RatioToCeiling float64  `json:"p99_ratio_to_ceiling"`
	P50ms             float64  `json:"p50_ms"`
	P99ms             float64  `json:"p99_ms"`
	P999ms            float64  `json:"p999_ms"`
	Maxms             float64  `json:"max_ms"`
	HTTPErrors        uint64   `json:"http_errors"`
	TransportErrors   uint64   `json:"transport_errors"`
	FirstError        string   `json:"first_error,omitempty"`
	PeakRSSMiB        *float64 `json:"peak_rss_mib"` // the server's, or the ceiling's on ceiling rows
	// ServerCores and GeneratorCores are CPU time over wall time during the
	// phase (warm-up included): how the 2 cores were shared.
	ServerCores    *float64 `json:"server_cpu_cores"`
	GeneratorCores float64  `json:"generator_cpu_cores"`
	// MachineCores is every process's CPU, the database server's included.
	MachineCores *float64 `json:"machine_cpu_cores"`
	// ServerRequests is what Coffer's /metrics counted during the phase
	// (warm-up included) by "METHOD route code_class": proof the generator
	// sent the requests the op names.
	ServerRequests map[string]uint64 `json:"server_requests,omitempty"`
	// ServerCPUPerRequestUS is set on median rows only: the median over the
	// rounds of server CPU ÷ req/s.
	ServerCPUPerRequestUS *float64 `json:"server_cpu_us_per_request,omitempty"`
}

func newRow(op string, conc int, p *Phase, rss *float64) Row {
	return Row{
		Op: op, Concurrency: conc, Requests: p.Requests, RPS: p.RPS(),
		P50ms: ms(p.Latency.Quantile(0.50)), P99ms: ms(p.Latency.Quantile(0.99)),
		P999ms: ms(p.Latency.Quantile(0.999)), Maxms: ms(p.Latency.Max()),
		HTTPErrors: p.HTTPErrors, TransportErrors: p.TransportErrors, FirstError: p.FirstError,
		PeakRSSMiB: rss,
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Errors is the number of failed requests over all phases.
func (r *Report) Errors() uint64 {
	var n uint64
	for _, rows := range [][]Row{r.Ceiling, r.Results} {
		for _, row := range rows {
			n += row.HTTPErrors + row.TransportErrors
		}
	}
	return n
}

// WriteJSON writes the report to path, indented for diffing between runs.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteMarkdown prints the header lines, the table and the generator check.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	r.header(&b)
	r.table(&b)
	r.vaultTable(&b)
	r.serverCounts(&b)
	r.generatorCheck(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) header(b *strings.Builder) {
	fmt.Fprintf(b, "# coffer bench\n\n")
	fmt.Fprintf(b, "- command: `%s`\n", r.Command)
	fmt.Fprintf(b, "- date: %s; %s; GOMAXPROCS %d; %d CPUs (generator and server share them)\n", r.Date, r.GoVersion, r.GOMAXPROCS, r.NumCPU)
	if r.Target.Replicas > 1 {
		fmt.Fprintf(b, "- target: %d `coffer serve` replicas started by this run at %s (pids %v), %s, requests round-robin across them\n", r.Target.Replicas, strings.Join(r.Target.URLs, ", "), r.Target.PIDs, r.Target.Database)
	} else if r.Target.Started {
		fmt.Fprintf(b, "- target: `coffer serve` started by this run at %s (pid %d), %s, data dir on %s\n", r.Target.URL, r.Target.PID, r.Target.Database, r.Target.DataFS)
	} else {
		fmt.Fprintf(b, "- target: running server at %s (%s)\n", r.Target.URL, r.Target.Database)
	}
	if r.ServerSettings != "" {
		fmt.Fprintf(b, "- server settings: %s\n", r.ServerSettings)
	}
	fmt.Fprintf(b, "- metrics: %s\n", r.Metrics)
	if r.Generator == GeneratorWrk {
		fmt.Fprintf(b, "- generator: wrk, %d thread(s), one Lua script per phase (random preloaded names, distinct names for create, a new value per write); a discarded wrk run of the warm-up's length before each measured run\n", r.WrkThreads)
	} else {
		fmt.Fprintf(b, "- generator: Go closed loop in the bench process, one keep-alive connection per goroutine\n")
	}
	if v := r.Vault; v != nil {
		fmt.Fprintf(b, "- compared with: OpenBao/Vault %s at %s, KV v2 mount `%s`, secrets under `%s/` (%d preloaded in %.2f s, %.0f writes/s)\n",
			orUnknown(v.Version), v.Addr, v.Mount, v.Path, v.Preload.Count, v.Preload.Seconds, v.Preload.RPS)
	}
	p := r.Preload
	fmt.Fprintf(b, "- workload: workspace `%s` (create writes into `%[1]s-new`), %d secrets × %d versions preloaded in %.2f s (%.0f writes/s on %d connections); each phase %.3g s after a %.3g s warm-up; values are 32-character random tokens\n",
		r.Workspace, p.Count, max(p.Versions, 1), p.Seconds, p.RPS, p.Workers, r.DurationSeconds, r.WarmupSeconds)
	if r.Hot > 0 {
		fmt.Fprintf(b, "- reads and updates of existing secrets: 90 %% on the first %d of them (--hot), the rest uniform over all\n", r.Hot)
	} else {
		fmt.Fprintf(b, "- reads and updates of existing secrets: uniform over all of them\n")
	}
	fmt.Fprintf(b, "- server peak RSS over the run (VmHWM): %s MiB; after preload: %s MiB\n", fmtRSS(r.ServerPeakRSSMiB), fmtRSS(p.PeakRSSMiB))
	if len(r.DataFilesMiB) > 0 {
		fmt.Fprintf(b, "- data dir after the last phase: %s\n", fmtFiles(r.DataFilesMiB))
	}
	b.WriteString("\n")
}

func (r *Report) table(b *strings.Builder) {
	if r.Rounds <= 1 {
		r.roundTable(b, r.rowsInRunOrder(r.firstRound()))
		return
	}
	for round := 1; round <= r.Rounds; round++ {
		fmt.Fprintf(b, "### Round %d of %d\n\n", round, r.Rounds)
		r.roundTable(b, r.rowsInRunOrder(round))
		b.WriteString("\n")
	}
	r.medianTable(b)
}

// firstRound is the round of the first ceiling row (0 in hand-built reports).
func (r *Report) firstRound() int {
	if len(r.Ceiling) == 0 {
		return 0
	}
	return r.Ceiling[0].Round
}

func (r *Report) roundTable(b *strings.Builder, rows []Row) {
	b.WriteString("| op | conc | req/s | × ceiling | p50 ms | p99 ms | p99 × ceiling | p99.9 ms | HTTP errors | transport errors | peak RSS MiB | server CPU | server CPU µs/req | generator CPU | machine CPU |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range rows {
		fmt.Fprintf(b, "| %s | %d | %.0f | %.2f | %.3f | %.3f | %.2f | %.3f | %d | %d | %s | %s | %s | %.2f | %s |\n",
			x.Op, x.Concurrency, x.RPS, x.RatioToCeiling, x.P50ms, x.P99ms, x.P99RatioToCeiling, x.P999ms,
			x.HTTPErrors, x.TransportErrors, fmtRSS(x.PeakRSSMiB), fmtCores(x.ServerCores), fmtCPUPerRequest(x), x.GeneratorCores, fmtCores(x.MachineCores))
	}
	b.WriteString("\nPeak RSS is the server's VmHWM during that phase; CPU columns are cores kept busy (CPU time / wall time, warm-up included). On ceiling rows both refer to the ceiling process, on vault-* rows to OpenBao/Vault (with --compare-vault-pid). p99 × ceiling is the row's p99 over the lower of the ceiling's two p99s. Server CPU µs/req is server CPU ÷ req/s, so it assumes the warm-up ran at the measured rate; unlike req/s it hardly moves when other work shares the machine. With several replicas, peak RSS is the largest replica's and server CPU is all replicas together. Machine CPU is every process on the machine, a database server's included.\n")
	for _, x := range rows {
		if x.FirstError != "" {
			fmt.Fprintf(b, "- %s c=%d first error: %s\n", x.Op, x.Concurrency, x.FirstError)
		}
	}
}

// rowsInRunOrder puts each concurrency's operations of one round between its
// two ceiling measurements, which is the order the phases ran in.
func (r *Report) rowsInRunOrder(round int) []Row {
	var out []Row
	for _, c := range r.Ceiling {
		if c.Op != CeilingOp || c.Round != round {
			continue
		}
		out = append(out, c)
		out = append(out, r.rowsAt(r.Results, c.Concurrency, round)...)
		for _, a := range r.rowsAt(r.Ceiling, c.Concurrency, round) {
			if a.Op == CeilingAfterOp {
				out = append(out, a)
			}
		}
	}
	return out
}

func (r *Report) rowsAt(rows []Row, conc, round int) []Row {
	var out []Row
	for _, x := range rows {
		if x.Concurrency == conc && x.Round == round {
			out = append(out, x)
		}
	}
	return out
}

// CeilingRPS is the higher of the ceiling measurements at conc in a round:
// the less disturbed one, and the one that does not flatter the ratios.
func (r *Report) CeilingRPS(conc, round int) float64 {
	best := 0.0
	for _, c := range r.rowsAt(r.Ceiling, conc, round) {
		best = max(best, c.RPS)
	}
	return best
}

// setRatios fills RatioToCeiling for every row at conc in a round, the
// ceiling rows included, so a disturbed ceiling measurement shows as a
// ratio below 1.
func (r *Report) setRatios(conc, round int) {
	ceil, p99 := r.CeilingRPS(conc, round), r.ceilingP99(conc, round)
	for _, rows := range [][]Row{r.Ceiling, r.Results} {
		for i := range rows {
			if rows[i].Concurrency != conc || rows[i].Round != round {
				continue
			}
			if ceil > 0 {
				rows[i].RatioToCeiling = rows[i].RPS / ceil
			}
			if p99 > 0 {
				rows[i].P99RatioToCeiling = rows[i].P99ms / p99
			}
		}
	}
}

// ceilingP99 is the lower of the ceiling's p99s at conc (0 if none): a
// disturbed ceiling measurement must not make Coffer's tail look short.
func (r *Report) ceilingP99(conc, round int) float64 {
	best := 0.0
	for _, c := range r.rowsAt(r.Ceiling, conc, round) {
		if c.P99ms > 0 && (best == 0 || c.P99ms < best) {
			best = c.P99ms
		}
	}
	return best
}

func (r *Report) generatorCheck(b *strings.Builder) {
	b.WriteString("\n## Generator check\n\n")
	if r.Generator == GeneratorWrk {
		b.WriteString("- Every phase, the ceiling's included, was driven by wrk: the ratios compare Coffer and the ceiling under the same generator, which costs far less CPU per request than the Go one.\n")
		return
	}
	for _, c := range r.Ceiling {
		if c.Op == CeilingOp {
			fmt.Fprintf(b, "- ceiling (net/http returning a fixed access-sized body) at c=%d%s: %.0f req/s with this Go generator (higher of the measurements before and after the operations)\n", c.Concurrency, roundSuffix(c.Round, r.Rounds), r.CeilingRPS(c.Concurrency, c.Round))
		}
	}
	b.WriteString("- If wrk reaches more than this on the same ceiling, the Go generator is the bottleneck: the ceiling is then understated and every ratio overstates how close Coffer is to the machine's limit. Run with --wrk to check (wrk runs right after the Go generator's ceiling and access phases, against the same state).\n")
	if len(r.Wrk) > 0 {
		b.WriteString("\n| wrk target | conc | threads | req/s | p50 ms | p99 ms | non-2xx | socket errors |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
		for _, x := range r.Wrk {
			fmt.Fprintf(b, "| %s | %d | %d | %.0f | %.3f | %.3f | %d | %s |\n", x.Target, x.Concurrency, x.Threads, x.RPS, x.P50ms, x.P99ms, x.Non2xx, x.SocketErrors)
		}
	}
	if r.WrkNote != "" {
		fmt.Fprintf(b, "\n%s\n", r.WrkNote)
	}
}

func fmtFiles(files map[string]float64) string {
	names := slices.Sorted(maps.Keys(files))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.1f MiB", n, files[n])
	}
	return strings.Join(parts, ", ")
}

// fmtCPUPerRequest is the server's CPU time per request in µs.
func fmtCPUPerRequest(x Row) string {
	if x.ServerCores == nil || x.RPS <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", *x.ServerCores/x.RPS*1e6)
}

func fmtCores(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", *v)
}

func fmtRSS(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", *v)
}

// vaultPairs are the side-by-side rows: each Coffer operation next to the
// KV v2 operation that does the same job.
var vaultPairs = [][2]string{{"access", "vault-read"}, {"get", "vault-read"}, {"create", "vault-write"}, {"update", "vault-write"}}

func (r *Report) vaultTable(b *strings.Builder) {
	if r.Vault == nil {
		return
	}
	b.WriteString("\n## Side by side with OpenBao/Vault (same generator, connections and duration)\n\n")
	b.WriteString("| conc | Coffer op | req/s | p50 ms | p99 ms | OpenBao/Vault op | req/s | p50 ms | p99 ms | Coffer ÷ OpenBao/Vault req/s | p99 ratio |\n")
	b.WriteString("|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	rows := r.Results
	if r.Rounds > 1 {
		rows = r.Medians()
		fmt.Fprintf(b, "Medians of %d rounds.\n\n", r.Rounds)
	}
	for _, c := range r.Ceiling {
		if c.Op != CeilingOp || c.Round != r.firstRound() {
			continue
		}
		for _, pair := range vaultPairs {
			cf, ok1 := find(rows, pair[0], c.Concurrency)
			vt, ok2 := find(rows, pair[1], c.Concurrency)
			if !ok1 || !ok2 || vt.RPS <= 0 || vt.P99ms <= 0 {
				continue
			}
			fmt.Fprintf(b, "| %d | %s | %.0f | %.3f | %.3f | %s | %.0f | %.3f | %.3f | %.2f | %.2f |\n",
				c.Concurrency, cf.Op, cf.RPS, cf.P50ms, cf.P99ms, vt.Op, vt.RPS, vt.P50ms, vt.P99ms, cf.RPS/vt.RPS, cf.P99ms/vt.P99ms)
		}
	}
	b.WriteString("\nvault-read is `GET /v1/<mount>/data/<name>`, vault-write `POST` of the same path (a new version, like Coffer's update) of a random preloaded name. p99 ratio below 1: Coffer's tail is shorter.\n")
}

// find returns the first row of op at conc.
func find(rows []Row, op string, conc int) (Row, bool) {
	for _, x := range rows {
		if x.Op == op && x.Concurrency == conc {
			return x, true
		}
	}
	return Row{}, false
}

// serverCounts lists, per row, the requests Coffer itself counted, so a
// wrong generator script (wrong route, failing requests) shows at once.
func (r *Report) serverCounts(b *strings.Builder) {
	var lines []string
	for _, x := range r.Results {
		if len(x.ServerRequests) == 0 {
			continue
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x.ServerRequests)) {
			parts = append(parts, fmt.Sprintf("`%s` %d", shortRoute(k), x.ServerRequests[k]))
		}
		lines = append(lines, fmt.Sprintf("- %s c=%d%s: %s\n", x.Op, x.Concurrency, roundSuffix(x.Round, r.Rounds), strings.Join(parts, ", ")))
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\n## Requests the server counted (its /metrics, warm-up included)\n\n")
	for _, l := range lines {
		b.WriteString(l)
	}
}

// shortRoute drops the workspace prefix every secrets route shares.
func shortRoute(k string) string {
	return strings.Replace(k, "/apis/secrets/v2/workspaces/{workspace}/secrets", "…/secrets", 1)
}

func orUnknown(s string) string {
	if s == "" {
		return "(version not reported)"
	}
	return s
}
