package loadtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
)

// TestQuickBenchAgainstRealCoffer is the CI smoke run: it builds the real
// binary and runs `coffer bench --quick`, which starts `coffer serve` and the
// ceiling as child processes, exactly as an operator would.
func TestQuickBenchAgainstRealCoffer(t *testing.T) {
	// Three versions per preloaded secret: the bench itself checks the
	// server's current_version after the preload and fails the run otherwise.
	out := runBench(t, "--quick", "--preload-versions", "3", "--json", filepath.Join(t.TempDir(), "bench.json"))
	if !strings.HasPrefix(out, "# coffer bench\n\n- command: `") || !strings.Contains(out, "bench --quick") {
		t.Errorf("the report must start with the command line:\n%s", out)
	}
	if !strings.Contains(out, "200 secrets × 3 versions preloaded") {
		t.Errorf("the header must state the preloaded versions:\n%s", out)
	}
	for _, op := range append([]string{CeilingOp, CeilingAfterOp}, AllOps...) {
		checkRow(t, out, op)
	}
}

// TestQuickBenchWithWrkGenerator runs every op through wrk's Lua scripts
// against the real server and checks, from the server's own /metrics, that
// each op's requests went to its route and succeeded; the header states the
// settings the targets assume (max_versions 10, async read audit,
// metrics on).
func TestQuickBenchWithWrkGenerator(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("needs wrk (apt-get install -y wrk; CI installs it)")
	}
	path := filepath.Join(t.TempDir(), "bench.json")
	out := runBench(t, "--quick", "--generator", "wrk", "--warmup", "0", "--json", path)
	for _, op := range append([]string{CeilingOp, CeilingAfterOp}, AllOps...) {
		checkRow(t, out, op)
	}
	for _, want := range []string{"- server settings: secrets.max_versions 10; audit reads access, read_durability async", "metrics enabled true",
		"- metrics: on", "- generator: wrk, 1 thread(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("header lacks %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	for _, row := range rep.Results {
		checkServerCounts(t, row)
	}
}

// TestQuickBenchTwoReplicasOnPostgres runs the multi-replica mode the
// PostgreSQL figures in docs/performance.md come from: two real servers on
// one fresh schema, requests spread over both.
func TestQuickBenchTwoReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the coffer binary and runs a load test")
	}
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	out := runBench(t, "--quick", "--replicas", "2", "--ops", "access,create,update",
		"--server-env", "COFFER_DATABASE_DSN="+pgtest.NewDSN(t),
		"--server-env", `NMP_SECRETS_ENCRYPTION={"current_provider":"k","providers":{"secret_key":{"k":{"value":"`+key+`"}}}}`)
	if !strings.Contains(out, "2 `coffer serve` replicas started by this run") || !strings.Contains(out, "PostgreSQL") {
		t.Errorf("the header must name both replicas and the database:\n%s", out)
	}
	if strings.Contains(out, key) || strings.Contains(out, "sslmode") {
		t.Errorf("the report echoes --server-env values:\n%s", out)
	}
	for _, op := range []string{"access", "create", "update"} {
		checkRow(t, out, op)
	}
}

// runBench builds the real binary, runs `coffer bench args…` and returns
// its report; a failed run fails t with both of its outputs.
func runBench(t *testing.T, args ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the coffer binary and runs a load test")
	}
	bin := buildCoffer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"bench"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("coffer bench %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// checkRow finds op's table row at the quick concurrency and wants 0 in both
// error columns.
func checkRow(t *testing.T, out, op string) {
	t.Helper()
	for line := range strings.Lines(out) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) < 12 || strings.TrimSpace(cells[0]) != op || strings.TrimSpace(cells[1]) != "4" {
			continue
		}
		if strings.TrimSpace(cells[8]) != "0" || strings.TrimSpace(cells[9]) != "0" || strings.TrimSpace(cells[10]) == "n/a" {
			t.Errorf("%s has errors or no RSS: %s", op, line)
		}
		return
	}
	t.Errorf("no %s row at concurrency 4 in:\n%s", op, out)
}

// buildCoffer compiles cmd/coffer from the module root (found with go env
// GOMOD, so the test works from any working directory).
func buildCoffer(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		t.Fatalf("go env GOMOD: %v %q", err, gomod)
	}
	bin := filepath.Join(t.TempDir(), "coffer")
	build := exec.Command("go", "build", "-o", bin, "./cmd/coffer")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/coffer: %v\n%s", err, out)
	}
	return bin
}
