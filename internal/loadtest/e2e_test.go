package loadtest

import (
	"bytes"
	"context"
	"encoding/base64"
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
	if testing.Short() {
		t.Skip("builds the coffer binary and runs a load test")
	}
	bin := buildCoffer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "bench", "--quick", "--json", filepath.Join(t.TempDir(), "bench.json"))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("coffer bench --quick: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "# coffer bench\n\n- command: `") || !strings.Contains(out, "bench --quick") {
		t.Errorf("the report must start with the command line:\n%s", out)
	}
	for _, op := range append([]string{CeilingOp, CeilingAfterOp}, AllOps...) {
		checkRow(t, out, op)
	}
}

// TestQuickBenchTwoReplicasOnPostgres runs the multi-replica mode the
// PostgreSQL figures in docs/performance.md come from: two real servers on
// one fresh schema, requests spread over both.
func TestQuickBenchTwoReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the coffer binary and runs a load test")
	}
	dsn := pgtest.NewDSN(t)
	bin := buildCoffer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "bench", "--quick", "--replicas", "2", "--ops", "access,create,update",
		"--server-env", "COFFER_DATABASE_DSN="+dsn,
		"--server-env", `NMP_SECRETS_ENCRYPTION={"current_provider":"k","providers":{"secret_key":{"k":{"value":"`+key+`"}}}}`)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("coffer bench --replicas 2: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
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

// checkRow finds op's table row at the quick concurrency and wants 0 in both
// error columns.
func checkRow(t *testing.T, out, op string) {
	t.Helper()
	for line := range strings.Lines(out) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) < 12 || strings.TrimSpace(cells[0]) != op || strings.TrimSpace(cells[1]) != "4" {
			continue
		}
		if strings.TrimSpace(cells[7]) != "0" || strings.TrimSpace(cells[8]) != "0" || strings.TrimSpace(cells[9]) == "n/a" {
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
