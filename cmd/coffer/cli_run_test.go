package main

// End-to-end tests of coffer run (docs/cli.md, "coffer run") against the
// live server with authentication on.

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/client"
)

// runSecrets creates workspace ws on the auth server as admin1 (its Admin),
// makes viewer1 a Viewer and stores the values; it returns the server URL.
func runSecrets(t *testing.T, ws string, values map[string]string) string {
	t.Helper()
	url := authLive.URL(t)
	admin := client.New(url, client.WithHeader("X-NMP-Principal-Id", "admin1"))
	ctx := context.Background()
	if _, err := admin.CreateWorkspace(ctx, client.WorkspaceCreate{Name: ws}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddMember(ctx, ws, client.MemberCreate{Principal: "viewer1", Roles: []string{"Viewer"}}); err != nil {
		t.Fatal(err)
	}
	for name, v := range values {
		if _, err := admin.CreateSecret(ctx, ws, client.SecretCreate{Name: name, Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	return url
}

// dumpEnv is a command that writes the variables to files in dir, one file
// per variable, so that no value passes through stdout.
func dumpEnv(dir string, vars ...string) []string {
	var script strings.Builder
	for _, v := range vars {
		script.WriteString(`printf '%s' "$` + v + `" > '` + filepath.Join(dir, v) + `'; `)
	}
	return []string{"sh", "-c", script.String()}
}

func TestLiveRunInjectsSecrets(t *testing.T) {
	multi := "line one\nline 'two' = \"x\" # y\n"
	url := runSecrets(t, "run-ok", map[string]string{"hf-token": "hf_abc123", "wandb": multi})
	dir := t.TempDir()
	env := []string{
		"NMP_SECRETS_URL=" + url, "NMP_BASE_URL=http://127.0.0.1:1", // NMP_SECRETS_URL wins
		"NEMO_JOB_SECRETS=HF_TOKEN=run-ok/hf-token, WANDB_API_KEY=run-ok/wandb",
		`NMP_PRINCIPAL={"id":"viewer1"}`,
		"HF_TOKEN=stale-value-from-the-parent", // replaced, not shadowed
	}
	res := cliEnv(t, env, nil, append([]string{"run", "--"}, dumpEnv(dir, "HF_TOKEN", "WANDB_API_KEY")...)...)
	res.expect(t, 0, "")
	for v, want := range map[string]string{"HF_TOKEN": "hf_abc123", "WANDB_API_KEY": multi} {
		got, err := os.ReadFile(filepath.Join(dir, v))
		if err != nil || string(got) != want {
			t.Errorf("the command saw %s = %q (%v), want %q", v, got, err, want)
		}
	}
	if res.stdout != "" || res.stderr != "" {
		t.Errorf("coffer run printed stdout %q, stderr %q", res.stdout, res.stderr)
	}

	// --env-file and --secret add to and override NEMO_JOB_SECRETS; a
	// reference without a workspace uses --workspace.
	refs := writeFile(t, "# references, not values\nexport HF_TOKEN=wandb\nOTHER='run-ok/hf-token'\n", 0o600)
	res = cliEnv(t, env, nil, append([]string{"run", "--workspace", "run-ok", "--env-file", refs,
		"--secret", "THIRD=run-ok/hf-token", "--"}, dumpEnv(dir, "HF_TOKEN", "OTHER", "THIRD")...)...)
	res.expect(t, 0, "")
	for v, want := range map[string]string{"HF_TOKEN": multi, "OTHER": "hf_abc123", "THIRD": "hf_abc123"} {
		if got, _ := os.ReadFile(filepath.Join(dir, v)); string(got) != want {
			t.Errorf("%s = %q, want %q", v, got, want)
		}
	}
}

func TestLiveRunFailsBeforeTheCommand(t *testing.T) {
	url := runSecrets(t, "run-denied", map[string]string{"hf-token": "hf_secret_value"})
	marker := filepath.Join(t.TempDir(), "started")
	cmd := []string{"run", "--", "touch", marker}
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"a user who is not a member", []string{`NMP_PRINCIPAL={"id":"stranger"}`, "NEMO_JOB_SECRETS=HF_TOKEN=run-denied/hf-token"},
			[]string{"coffer run: cannot read HF_TOKEN=run-denied/hf-token (from NEMO_JOB_SECRETS): 403 Forbidden"}},
		{"one of several missing", []string{`NMP_PRINCIPAL={"id":"viewer1"}`, "NEMO_JOB_SECRETS=A=run-denied/hf-token,B=run-denied/nope"},
			[]string{"coffer run: cannot read B=run-denied/nope (from NEMO_JOB_SECRETS): 404 Secret run-denied/nope not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cliEnv(t, append(tt.env, "NMP_SECRETS_URL="+url), nil, cmd...)
			res.expect(t, 1, strings.Join(tt.want, "\n")+"\ncoffer run: the command was not started\n")
			if _, err := os.Stat(marker); err == nil {
				t.Error("the command ran")
			}
			if strings.Contains(res.stderr+res.stdout, "hf_secret_value") {
				t.Error("a value was printed")
			}
		})
	}
}

func TestLiveRunPassesExitStatusAndSignals(t *testing.T) {
	url := runSecrets(t, "run-exit", map[string]string{"k1": "v1"})
	env := []string{"NMP_SECRETS_URL=" + url, "NEMO_JOB_SECRETS=K=run-exit/k1"}
	cliEnv(t, env, nil, "run", "--", "sh", "-c", `test "$K" = v1 && exit 42`).expect(t, 42, "")
	cliEnv(t, env, nil, "run", "--", "no-such-command-anywhere").
		expect(t, 127, "coffer run: exec: \"no-such-command-anywhere\": executable file not found in $PATH\n")

	// SIGTERM sent to coffer run's process reaches the command's handler.
	cmd := exec.Command(cofferBin, "run", "--", "sh", "-c", `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.Env = cleanEnv(env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("first line %q", lines.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest := ""
	for lines.Scan() {
		rest += lines.Text()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the command did not end after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 7 || rest != "got TERM" {
		t.Errorf("after SIGTERM: exit status %d (%v), output %q; want 7 and the handler's line", code, err, rest)
	}
}

func TestRunSendsTheLaunchersHeaders(t *testing.T) {
	// A fake server only records the headers; the live tests above show
	// what the real one does with them.
	seen := make(chan http.Header, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.Write([]byte(`{"name":"k","workspace":"w","value":"v"}`))
	}))
	defer srv.Close()
	tests := []struct {
		env, args         []string
		principal, behalf string
	}{
		{[]string{`NMP_PRINCIPAL={"id":"alice@example.com"}`}, nil, "service:jobs", "alice@example.com"},
		{nil, []string{"--service", "evaluator"}, "service:evaluator", ""},
	}
	for _, tt := range tests {
		env := append(tt.env, "NMP_SECRETS_URL="+srv.URL)
		cliEnv(t, env, nil, append(append([]string{"run", "--secret", "K=w/k"}, tt.args...), "--", "true")...).expect(t, 0, "")
		h := <-seen
		if h.Get("X-NMP-Principal-Id") != tt.principal || h.Get("X-NMP-Principal-On-Behalf-Of") != tt.behalf {
			t.Errorf("headers %v, want principal %q on behalf of %q", h, tt.principal, tt.behalf)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no references", nil, []string{"run", "--", "true"},
			"coffer run: no secrets to read: give --secret ENV=workspace/name, --env-file FILE or NEMO_JOB_SECRETS\n"},
		{"bad reference", nil, []string{"run", "--secret", "HF-TOKEN=default/hf", "--", "true"},
			"coffer run: --secret: \"HF-TOKEN=default/hf\" is not ENV=[WORKSPACE/]NAME (ENV: letters, digits and '_')\n"},
		{"bad job variable", []string{"NEMO_JOB_SECRETS=HF_TOKEN"}, []string{"run", "--", "true"},
			"coffer run: NEMO_JOB_SECRETS: \"HF_TOKEN=\" is not ENV=[WORKSPACE/]NAME (ENV: letters, digits and '_')\n"},
		{"bad principal", []string{"NMP_PRINCIPAL=alice", "NEMO_JOB_SECRETS=A=w/k"}, []string{"run", "--", "true"},
			"NMP_PRINCIPAL must be JSON with a non-empty \"id\", e.g. {\"id\":\"alice@example.com\"}\n"},
		{"no command", nil, []string{"run", "--secret", "A=w/k"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cliEnv(t, append(tt.env, "NMP_BASE_URL="+tripwire(t)), nil, tt.args...).expect(t, 2, tt.want)
		})
	}
}
