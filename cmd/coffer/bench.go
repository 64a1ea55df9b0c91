package main

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/loadtest"
)

// benchFlags are the raw flag values; they become a loadtest.Config only
// after --quick has supplied the defaults the user did not override.
type benchFlags struct {
	url, concurrency, ops, jsonPath, generator                string
	pid, preload, versions, replicas, hot, wrkThreads, rounds int
	duration, warmup                                          time.Duration
	serverEnv                                                 []string
	quick, wrk                                                bool
	vault                                                     loadtest.VaultConfig
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test Coffer and compare it with a trivial HTTP server on the same machine",
		Long: `Starts coffer serve on a fresh data dir (or attaches to --url; or starts --replicas servers on one
PostgreSQL database given with --server-env COFFER_DATABASE_DSN=…), preloads secrets into a new
workspace, then drives each operation at each concurrency with one keep-alive connection per
goroutine, and the same for a minimal net/http server (the ceiling). Prints a Markdown table
(req/s, ratio to the ceiling, p50/p99/p99.9 latency, errors, server peak RSS) on stdout and
progress on stderr. Exit status 1 when any request failed.

--generator wrk drives every phase (the ceiling included) with wrk and a Lua script per operation.
--compare-vault-addr adds KV v2 reads and writes against a running OpenBao or Vault, preloaded
with as many secrets, with the same generator, connections and duration, and a side-by-side table.
--rounds 3 repeats every block and adds the medians: coffer bench --generator wrk --rounds 3 is
the run the performance targets are stated in (docs/performance.md, "Load test: coffer bench").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "attach to a running Coffer at this base URL instead of starting one")
	fl.IntVar(&f.pid, "pid", 0, "with --url: the server's pid, to report its peak RSS")
	fl.StringArrayVar(&f.serverEnv, "server-env", nil, "KEY=VALUE added to the started server's environment (repeatable), e.g. COFFER_DATABASE_DSN=postgres://…")
	fl.IntVar(&f.replicas, "replicas", 1, "start this many coffer serve processes on one database (PostgreSQL, via --server-env) and spread requests round-robin across them")
	fl.IntVar(&f.preload, "preload", 10000, "secrets created before the measurements")
	fl.IntVar(&f.versions, "preload-versions", 1, "versions of each preloaded secret (the create, then updates), e.g. 10 with max_versions 10")
	fl.IntVar(&f.hot, "hot", 0, "send 90% of the reads and updates to the first N preloaded secrets (0: uniform over all)")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "measured time per operation and concurrency")
	fl.DurationVar(&f.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	fl.StringVar(&f.concurrency, "concurrency", "16,64", "comma-separated connection counts")
	fl.StringVar(&f.ops, "ops", strings.Join(loadtest.AllOps, ","), "comma-separated subset of the operations")
	fl.StringVar(&f.jsonPath, "json", "", "also write the results as JSON to this file")
	fl.BoolVar(&f.quick, "quick", false, "CI smoke run: 1s per phase, preload 200, concurrency 4 (explicit flags still win)")
	fl.BoolVar(&f.wrk, "wrk", false, "also drive the ceiling and access with wrk, if installed, to check the Go generator")
	fl.StringVar(&f.generator, "generator", loadtest.GeneratorGo, "what drives every phase: go (built in) or wrk (needs wrk installed)")
	fl.IntVar(&f.rounds, "rounds", 1, "run every concurrency's block (ceiling, ops, ceiling) this many times and add the medians")
	fl.IntVar(&f.wrkThreads, "wrk-threads", 1, "wrk's threads (-t), for --generator wrk and --wrk")
	fl.StringVar(&f.vault.Addr, "compare-vault-addr", "", "also run KV v2 reads and writes against the OpenBao/Vault at this URL, e.g. http://127.0.0.1:8200")
	fl.StringVar(&f.vault.Token, "compare-vault-token", "", "its token (default $BAO_TOKEN, else $VAULT_TOKEN); never printed")
	fl.StringVar(&f.vault.Mount, "compare-vault-mount", "secret", "its KV v2 mount")
	fl.IntVar(&f.vault.PID, "compare-vault-pid", 0, "its pid, to report its CPU and peak RSS")
	cmd.AddCommand(newCeilingServerCmd())
	return cmd
}

// newCeilingServerCmd is the ceiling's process, started by bench itself; it
// is hidden because it is an implementation detail, not a user command.
func newCeilingServerCmd() *cobra.Command {
	var bodyBytes int
	cmd := &cobra.Command{
		Use:    "ceiling-server",
		Short:  "Serve a fixed JSON body on a loopback port (used by bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return loadtest.ServeCeiling(ctx, cmd.OutOrStdout(), bodyBytes)
		},
	}
	cmd.Flags().IntVar(&bodyBytes, "body-bytes", 100, "response body size")
	return cmd
}

func runBench(cmd *cobra.Command, f benchFlags) error {
	cfg, err := benchConfig(cmd, f)
	if err != nil {
		return usageError("bench: " + err.Error())
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rep, err := loadtest.Run(ctx, cfg, cmd.ErrOrStderr())
	if err != nil {
		return &exitError{code: 1, msg: "bench: " + err.Error()}
	}
	return reportBench(cmd, rep, f.jsonPath)
}

func reportBench(cmd *cobra.Command, rep *loadtest.Report, jsonPath string) error {
	if err := rep.WriteMarkdown(cmd.OutOrStdout()); err != nil {
		return err
	}
	if jsonPath != "" {
		if err := rep.WriteJSON(jsonPath); err != nil {
			return &exitError{code: 1, msg: "bench: " + err.Error()}
		}
	}
	if n := rep.Errors(); n > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("bench: %d requests failed (see the error columns)", n)}
	}
	return nil
}

// benchConfig applies --quick to the flags the user left at their defaults.
func benchConfig(cmd *cobra.Command, f benchFlags) (loadtest.Config, error) {
	fs := cmd.Flags()
	cfg := loadtest.DefaultConfig()
	if f.quick {
		cfg = loadtest.QuickConfig()
	}
	set := func(name string) bool { return !f.quick || fs.Changed(name) }
	if set("preload") {
		cfg.Preload = f.preload
	}
	cfg.PreloadVersions = f.versions
	if set("duration") {
		cfg.Duration = f.duration
	}
	if set("warmup") {
		cfg.Warmup = f.warmup
	}
	if err := listFlags(&cfg, cmd, f, set); err != nil {
		return cfg, err
	}
	if f.pid != 0 && f.url == "" {
		return cfg, fmt.Errorf("--pid needs --url (a started server's pid is known)")
	}
	for _, kv := range f.serverEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return cfg, fmt.Errorf("--server-env %q: want KEY=VALUE", kv)
		}
	}
	if f.vault.PID != 0 && f.vault.Addr == "" {
		return cfg, fmt.Errorf("--compare-vault-pid needs --compare-vault-addr")
	}
	cfg.URL, cfg.PID, cfg.ServerEnv, cfg.Wrk, cfg.Replicas, cfg.Hot = f.url, f.pid, f.serverEnv, f.wrk, f.replicas, f.hot
	cfg.Generator, cfg.WrkThreads, cfg.Vault, cfg.Rounds = f.generator, f.wrkThreads, f.vault, f.rounds
	if cfg.Vault.Addr != "" && cfg.Vault.Token == "" {
		cfg.Vault.Token = firstEnv("BAO_TOKEN", "VAULT_TOKEN")
	}
	if f.url == "" {
		cfg.ServerSettings = serverSettings(f.serverEnv)
	}
	cfg.CommandLine = shellJoin(redactServerEnv(os.Args))
	exe, err := os.Executable()
	if err != nil {
		return cfg, fmt.Errorf("locate the coffer binary: %w", err)
	}
	cfg.Exe = exe
	return cfg, cfg.Validate()
}

func listFlags(cfg *loadtest.Config, cmd *cobra.Command, f benchFlags, set func(string) bool) error {
	var err error
	if set("concurrency") {
		if cfg.Concurrency, err = loadtest.ParseConcurrency(f.concurrency); err != nil {
			return err
		}
	}
	if cmd.Flags().Changed("ops") {
		cfg.Ops, err = loadtest.ParseOps(f.ops)
	}
	return err
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// serverSettings is what the started server will run with, read the way
// serve reads it (defaults, config file, environment plus --server-env), as
// far as the figures depend on it.
func serverSettings(serverEnv []string) string {
	lookup := func(k string) (string, bool) {
		for _, kv := range slices.Backward(serverEnv) {
			if name, v, _ := strings.Cut(kv, "="); name == k {
				return v, true
			}
		}
		return os.LookupEnv(k)
	}
	c, err := config.Load(config.Flags{Listen: "127.0.0.1:0", DataDir: os.TempDir()}, lookup)
	if err != nil {
		return "not known (the configuration does not load here: " + err.Error() + ")"
	}
	a := c.Coffer.Audit
	return fmt.Sprintf("secrets.max_versions %d; audit reads %s, read_durability %s, flush_interval %s; metrics enabled %t; auth enabled %t; database pool %d connections",
		c.Secrets.MaxVersions, a.Reads, a.ReadDurability, a.FlushInterval, c.Coffer.Metrics.Enabled, c.Auth.Enabled, c.Coffer.Database.MaxOpenConns)
}

// redactServerEnv hides --server-env values and the OpenBao/Vault token in
// the echoed command line: they are DSNs with passwords, keys and tokens,
// and reports get pasted into documents.
func redactServerEnv(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		switch {
		case a == "--server-env" && i+1 < len(out):
			out[i+1] = redactValue(out[i+1])
		case strings.HasPrefix(a, "--server-env="):
			out[i] = "--server-env=" + redactValue(strings.TrimPrefix(a, "--server-env="))
		case a == "--compare-vault-token" && i+1 < len(out):
			out[i+1] = "<redacted>"
		case strings.HasPrefix(a, "--compare-vault-token="):
			out[i] = "--compare-vault-token=<redacted>"
		}
	}
	return out
}

func redactValue(kv string) string {
	if k, _, ok := strings.Cut(kv, "="); ok {
		return k + "=<redacted>"
	}
	return kv
}

// shellJoin quotes args so the echoed command line can be pasted back.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
