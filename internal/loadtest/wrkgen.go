package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkLua is the script of one wrk phase. Every operation's request is built
// in Lua like the Go generator builds it (random preloaded names, distinct
// names for create, a fresh value per write), and done() prints the figures
// as one JSON line, since wrk's human-readable summary rounds them.
// Placeholders {{…}} are filled by wrkScript with Lua string literals or
// numbers.
const wrkLua = `-- written by coffer bench for one phase; deleted with the run's temp dir
local n, hot, pages = {{N}}, {{HOT}}, {{PAGES}}
local secrets = {{SECRETS}}
local created = {{CREATED}}
local tag = {{TAG}}
local vault = {{VAULT}}
local json = {["Content-Type"] = "application/json"}
local vault_headers = {["X-Vault-Token"] = {{VAULT_TOKEN}}, ["Content-Type"] = "application/json"}
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local threads = {}
local count = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed({{SEED}} + 7919 * (tid or 0))
end

local function name()
  if hot > 0 and math.random(0, 9) < 9 then
    return string.format("s%07d", math.random(0, hot - 1))
  end
  return string.format("s%07d", math.random(0, n - 1))
end

local function token()
  local t = {}
  for i = 1, 32 do
    local k = math.random(1, 64)
    t[i] = alphabet:sub(k, k)
  end
  return table.concat(t)
end

local ops = {}
ops["ceiling"] = function() return wrk.format("GET", secrets .. "/" .. name() .. "/access") end
ops["access"] = function() return wrk.format("GET", secrets .. "/" .. name() .. "/access") end
ops["get"] = function() return wrk.format("GET", secrets .. "/" .. name()) end
ops["list"] = function()
  return wrk.format("GET", secrets .. "?page=" .. math.random(1, pages) .. "&page_size=10")
end
-- a name prefix that matches up to 100 preloaded secrets, first page of 10
ops["list-filter"] = function()
  return wrk.format("GET", secrets .. "?filter%5Bname%5D%5B%24like%5D=" .. name():sub(1, -3) .. "%25&page_size=10")
end
ops["create"] = function()
  count = count + 1
  local body = string.format('{"name":"w%s-%d-%d","value":"%s"}', tag, tid or 0, count, token())
  return wrk.format("POST", created, json, body)
end
ops["update"] = function() return wrk.format("PATCH", secrets .. "/" .. name(), json, '{"value":"' .. token() .. '"}') end
ops["mix"] = function()
  local r = math.random(0, 99)
  if r < 45 then return ops["access"]() elseif r < 90 then return ops["get"]() end
  return ops["update"]()
end
ops["vault-read"] = function() return wrk.format("GET", vault .. "/" .. name(), vault_headers) end
ops["vault-write"] = function()
  return wrk.format("POST", vault .. "/" .. name(), vault_headers, '{"data":{"value":"' .. token() .. '"}}')
end

request = ops[{{OP}}]

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('COFFER_WRK {"requests":%.0f,"duration_us":%.0f,"status_errors":%.0f,' ..
    '"connect":%.0f,"read":%.0f,"write":%.0f,"timeout":%.0f,' ..
    '"p50_us":%.0f,"p99_us":%.0f,"p999_us":%.0f,"max_us":%.0f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`

// wrkOut is the JSON line the script's done() prints.
type wrkOut struct {
	Requests     float64 `json:"requests"`
	DurationUS   float64 `json:"duration_us"`
	StatusErrors float64 `json:"status_errors"`
	Connect      float64 `json:"connect"`
	Read         float64 `json:"read"`
	Write        float64 `json:"write"`
	Timeout      float64 `json:"timeout"`
	P50us        float64 `json:"p50_us"`
	P99us        float64 `json:"p99_us"`
	P999us       float64 `json:"p999_us"`
	MaxUS        float64 `json:"max_us"`
}

// wrkScriptParams are what one phase's script needs to know.
type wrkScriptParams struct {
	op         string
	tag        string // distinct per wrk invocation, so created names never repeat
	seed       uint64
	wl         *workload
	vaultPath  string // /v1/<mount>/data/<prefix>, for the vault-* ops
	vaultToken string
}

// wrkScript renders the Lua for one phase.
func wrkScript(p wrkScriptParams) string {
	q := strconv.Quote // ASCII Go string literals are valid Lua literals
	return strings.NewReplacer(
		"{{N}}", strconv.Itoa(p.wl.preload),
		"{{HOT}}", strconv.Itoa(p.wl.hot),
		"{{PAGES}}", strconv.Itoa(p.wl.listPages()),
		"{{SECRETS}}", q(p.wl.secretsPath()),
		"{{CREATED}}", q(secretsPathOf(p.wl.createdWorkspace())),
		"{{TAG}}", q(p.tag),
		"{{VAULT}}", q(p.vaultPath),
		"{{VAULT_TOKEN}}", q(p.vaultToken),
		"{{SEED}}", strconv.FormatUint(p.seed%1_000_000_007, 10),
		"{{OP}}", q(p.op),
	).Replace(wrkLua)
}

// wrkRun is one invocation of wrk as a generator.
type wrkRun struct {
	base    string // scheme://host:port of the target
	script  string // path of the Lua file
	threads int
	conc    int
	d       time.Duration
}

// run executes wrk and returns the done() figures and wrk's own CPU time,
// which is the generator's share of the machine.
func (w wrkRun) run(ctx context.Context) (*wrkOut, time.Duration, error) {
	secs := max(int(math.Ceil(w.d.Seconds())), 1) // wrk takes whole seconds
	args := []string{"-t", strconv.Itoa(w.threads), "-c", strconv.Itoa(w.conc), "-d", fmt.Sprintf("%ds", secs),
		"--timeout", "30s", "-s", w.script, w.base + "/"}
	cmd := exec.CommandContext(ctx, "wrk", args...)
	out, err := cmd.CombinedOutput()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return nil, cpu, fmt.Errorf("wrk %s: %v: %s", strings.Join(args, " "), err, out)
	}
	res, err := parseWrkDone(string(out))
	return res, cpu, err
}

// parseWrkDone finds the script's JSON line in wrk's output.
func parseWrkDone(out string) (*wrkOut, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if js, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "COFFER_WRK "); ok {
			var r wrkOut
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				return nil, fmt.Errorf("wrk done() line %q: %w", js, err)
			}
			return &r, nil
		}
	}
	return nil, fmt.Errorf("no COFFER_WRK line in wrk output:\n%s", out)
}

// row turns wrk's figures into a report row; status errors are non-2xx/3xx
// answers (wrk counts status > 399), the socket errors are transport errors.
func (r *wrkOut) row(op string, conc int) Row {
	us := func(v float64) float64 { return v / 1000 }
	x := Row{
		Op: op, Concurrency: conc, Requests: uint64(r.Requests),
		P50ms: us(r.P50us), P99ms: us(r.P99us), P999ms: us(r.P999us), Maxms: us(r.MaxUS),
		HTTPErrors:      uint64(r.StatusErrors),
		TransportErrors: uint64(r.Connect + r.Read + r.Write + r.Timeout),
	}
	if r.DurationUS > 0 {
		x.RPS = r.Requests / (r.DurationUS / 1e6)
	}
	switch {
	case x.HTTPErrors > 0:
		x.FirstError = fmt.Sprintf("wrk counted %d responses with status ≥ 400", x.HTTPErrors)
	case x.TransportErrors > 0:
		x.FirstError = fmt.Sprintf("wrk socket errors: connect %.0f, read %.0f, write %.0f, timeout %.0f", r.Connect, r.Read, r.Write, r.Timeout)
	}
	return x
}

// wrkPhaseRun runs one phase with wrk: a discarded warm-up run first (wrk
// has none of its own; whole seconds, skipped when the warm-up is 0), then
// the measured run. It returns the row and wrk's CPU time over both.
func (r *runner) wrkPhaseRun(ctx context.Context, op, base string, conc int) (Row, time.Duration, error) {
	var warmCPU time.Duration
	if r.cfg.Warmup > 0 {
		_, used, err := r.wrkOnce(ctx, op, base, conc, r.cfg.Warmup)
		if err != nil {
			return Row{}, used, err
		}
		warmCPU = used
	}
	out, used, err := r.wrkOnce(ctx, op, base, conc, r.cfg.Duration)
	if err != nil {
		return Row{}, warmCPU + used, err
	}
	return out.row(op, conc), warmCPU + used, nil
}

// wrkOnce writes a fresh script (its own tag, so created names never repeat
// across invocations) and runs wrk for d.
func (r *runner) wrkOnce(ctx context.Context, op, base string, conc int, d time.Duration) (*wrkOut, time.Duration, error) {
	r.wrkSeq++
	p := wrkScriptParams{op: op, tag: strconv.Itoa(r.wrkSeq), seed: r.seed + uint64(r.wrkSeq), wl: r.wl}
	if r.vault != nil {
		p.vaultPath, p.vaultToken = r.vault.dataPath(), r.cfg.Vault.Token
	}
	script := filepath.Join(r.dir, fmt.Sprintf("wrk-%03d-%s.lua", r.wrkSeq, op))
	if err := os.WriteFile(script, []byte(wrkScript(p)), 0o600); err != nil {
		return nil, 0, err
	}
	return wrkRun{base: base, script: script, threads: r.cfg.WrkThreads, conc: conc, d: d}.run(ctx)
}
