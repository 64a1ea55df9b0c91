package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLiveAuditList: `coffer audit list` shows a workspace's events with
// filters, as a table and as JSON, and --follow prints new events as they
// are recorded.
func TestLiveAuditList(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-audit"
	newWorkspace(t, url, ws)
	cli(t, url, nil, "secrets", "create", "tok", "--workspace", ws, "--value", "v1").expect(t, 0, "")
	accessValue(t, url, ws, "tok")
	var events []struct{ Action, Outcome, Secret string }
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := cli(t, url, nil, "audit", "list", "--workspace", ws, "-f", "json")
		res.expect(t, 0, "")
		var page struct {
			Data []struct{ Action, Outcome, Secret string }
		}
		decodeJSON(t, res.stdout, &page)
		events = page.Data
		if len(events) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Action+" "+e.Outcome+" "+e.Secret)
	}
	if want := "secret.access success tok|secret.create success tok|workspace.create success "; strings.Join(got, "|") != want {
		t.Errorf("events %q, want %q", strings.Join(got, "|"), want)
	}
	res := cli(t, url, nil, "audit", "list", "--workspace", ws, "--action", "secret.create")
	res.expect(t, 0, "")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "time ") || !strings.Contains(lines[1], "secret.create") {
		t.Errorf("table:\n%s", res.stdout)
	}
	cli(t, url, nil, "audit", "list", "--all", "--workspace", ws).expect(t, 2, "--all and --workspace exclude each other\n")
	res = cli(t, url, nil, "audit", "list", "--workspace", ws, "--outcome", "fine")
	if res.code != 1 || !strings.Contains(res.stderr, "422") {
		t.Errorf("bad outcome: %d %q", res.code, res.stderr)
	}

	// --follow: the existing events, oldest first, then a new one.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cofferBin, "audit", "list", "--workspace", ws, "--follow", "-f", "json")
	cmd.Env = cleanEnv("NMP_BASE_URL=" + url)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(out)
	next := func() string {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("--follow ended: %v", sc.Err())
		}
		var e struct{ Action, Secret string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("--follow line %q: %v", sc.Text(), err)
		}
		return e.Action + " " + e.Secret
	}
	for _, want := range []string{"workspace.create ", "secret.create tok", "secret.access tok"} {
		if got := next(); got != want {
			t.Errorf("--follow printed %q, want %q", got, want)
		}
	}
	cli(t, url, nil, "secrets", "delete", "tok", "--workspace", ws).expect(t, 0, "")
	if got := next(); got != "secret.delete tok" {
		t.Errorf("--follow printed %q after the delete, want secret.delete tok", got)
	}
}
