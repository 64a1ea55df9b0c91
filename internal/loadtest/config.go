package loadtest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AllOps lists the operations in the order they run and are reported.
var AllOps = []string{"access", "get", "list", "list-filter", "create", "update", "mix"}

// The generators: Go's closed loop in this package, or wrk driven by Lua
// scripts (docs/performance.md, "Load test: coffer bench").
const (
	GeneratorGo  = "go"
	GeneratorWrk = "wrk"
)

// Config is one benchmark run. The zero value is not usable; start from
// DefaultConfig (or QuickConfig) so every figure has a deliberate default.
type Config struct {
	// Exe is the coffer binary started as the target (when URL is empty) and
	// as the ceiling server (when CeilingURL is empty).
	Exe string
	// URL attaches to a running Coffer instead of starting one.
	URL string
	// PID is the attached server's process id, for its peak RSS; 0 = unknown.
	PID int
	// ServerEnv is extra KEY=VALUE environment for a started Coffer.
	ServerEnv []string
	// Replicas is how many `coffer serve` processes to start on one
	// database; more than one needs PostgreSQL. Requests go round-robin
	// across them, as behind a load balancer.
	Replicas int
	// CeilingURL replaces the ceiling child process (tests use an in-process one).
	CeilingURL string

	Preload int
	// PreloadVersions is how many versions each preloaded secret has: the
	// create and PreloadVersions-1 updates, so reads and memory are measured
	// on a store that keeps history (the default 1: no updates).
	PreloadVersions int
	// Hot, when set, sends 90 % of the reads and updates of existing secrets
	// to the first Hot preloaded ones, like a platform whose running jobs read
	// a few keys far more often than the rest; 0 is uniform over all of them.
	Hot         int
	Duration    time.Duration
	Warmup      time.Duration
	Concurrency []int
	Ops         []string
	// Rounds repeats every concurrency's block (ceiling, operations,
	// ceiling) this many times on the same server; above 1 the report adds
	// the median of the rounds, the figure the targets are stated in.
	Rounds int
	// Generator drives every phase: GeneratorGo or GeneratorWrk.
	Generator string
	// WrkThreads is wrk's -t, for the wrk generator and the --wrk check.
	WrkThreads int
	// Wrk also drives the ceiling and access with wrk after the Go
	// generator's phases, when it is installed: a check of that generator.
	Wrk bool
	// Vault, when its Addr is set, runs KV v2 reads and writes against a
	// running OpenBao or Vault in the same run, for the side-by-side table.
	Vault VaultConfig
	// ServerSettings describes the started server's effective settings
	// (max_versions, audit, metrics); echoed in the report header.
	ServerSettings string
	// CommandLine is echoed at the top of the report.
	CommandLine string
}

// DefaultConfig is the full run documented in docs/performance.md.
func DefaultConfig() Config {
	return Config{
		Preload:         10000,
		PreloadVersions: 1,
		Replicas:        1,
		Generator:       GeneratorGo,
		Rounds:          1,
		WrkThreads:      1,
		Duration:        10 * time.Second,
		Warmup:          time.Second,
		Concurrency:     []int{16, 64},
		Ops:             slices.Clone(AllOps),
	}
}

// QuickConfig is small enough for CI: every op and the ceiling run, in seconds.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Preload = 200
	c.Duration = time.Second
	c.Warmup = 100 * time.Millisecond
	c.Concurrency = []int{4}
	return c
}

// ParseConcurrency reads a comma-separated list of positive integers.
func ParseConcurrency(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 10000 || slices.Contains(out, n) {
			return nil, fmt.Errorf("concurrency %q: want distinct positive integers up to 10000, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// ParseOps reads a comma-separated subset of AllOps; the run keeps AllOps order.
func ParseOps(s string) ([]string, error) {
	want := map[string]bool{}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(AllOps, f) {
			return nil, fmt.Errorf("unknown op %q (known: %s)", f, strings.Join(AllOps, ", "))
		}
		want[f] = true
	}
	var out []string
	for _, op := range AllOps {
		if want[op] {
			out = append(out, op)
		}
	}
	return out, nil
}

// Validate rejects settings that would produce a meaningless report.
func (c *Config) Validate() error {
	switch {
	case c.Preload < 1:
		return fmt.Errorf("preload must be at least 1 (access, get and update need existing secrets)")
	case c.PreloadVersions < 1:
		return fmt.Errorf("preload-versions must be at least 1 (the create)")
	case c.Hot < 0 || c.Hot > c.Preload:
		return fmt.Errorf("hot must be between 0 (uniform) and preload (%d)", c.Preload)
	case c.Generator != GeneratorGo && c.Generator != GeneratorWrk:
		return fmt.Errorf("generator %q: want go or wrk", c.Generator)
	case c.Generator == GeneratorWrk && c.Wrk:
		return fmt.Errorf("--wrk checks the Go generator against wrk; with --generator wrk every phase already uses wrk")
	case c.Duration <= 0:
		return fmt.Errorf("duration must be positive")
	case c.Warmup < 0:
		return fmt.Errorf("warmup must not be negative")
	case c.Rounds < 1:
		return fmt.Errorf("rounds must be at least 1")
	case len(c.Concurrency) == 0 || len(c.Ops) == 0:
		return fmt.Errorf("need at least one concurrency and one op")
	case c.WrkThreads < 1 || (c.usesWrk() && c.WrkThreads > slices.Min(c.Concurrency)):
		return fmt.Errorf("wrk threads must be between 1 and the smallest concurrency (wrk needs a connection per thread)")
	case c.URL == "" && c.Exe == "":
		return fmt.Errorf("no coffer executable to start and no --url")
	case c.Replicas < 1:
		return fmt.Errorf("replicas must be at least 1")
	case c.Replicas > 1 && c.URL != "":
		return fmt.Errorf("replicas are started by the run; with --url there is one target")
	case c.Replicas > 1 && databaseOf(c.ServerEnv) != postgresDB:
		return fmt.Errorf("several replicas need one shared database: pass COFFER_DATABASE_DSN=postgres://… with --server-env")
	case c.Replicas > 1 && c.usesWrk():
		return fmt.Errorf("wrk drives one URL; use it with a single replica")
	}
	return c.Vault.validate()
}

func (c *Config) usesWrk() bool { return c.Wrk || c.Generator == GeneratorWrk }
