package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeWithPlatformConfig runs `coffer serve` on the NeMo Platform
// configuration as the platform's Helm chart renders it (the fixture in
// internal/config/testdata, its service.port moved to a free port), with
// the chart's NMP_SECRETS_DEFAULT_ENCRYPTION_KEY set: Coffer listens on all
// interfaces at service.port, logs JSON (service.log_format), notes the
// reference-only auth keys as ignored, and serves secrets sealed with the
// platform's key, never creating a development key.
func TestServeWithPlatformConfig(t *testing.T) {
	fixture, err := os.ReadFile("../../internal/config/testdata/nemo-platform-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	cfg := strings.Replace(string(fixture), "\n  port: 8080\n", "\n  port: "+port+"\n", 1)
	if cfg == string(fixture) {
		t.Fatal("fixture has no service port line to move")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	var logs bytes.Buffer
	cmd := exec.Command(cofferBin, "serve", "--config", cfgPath, "--data-dir", dataDir)
	cmd.Env = cleanEnv("HOME="+dir, "NMP_SECRETS_DEFAULT_ENCRYPTION_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
	}
	defer stop()
	url := "http://127.0.0.1:" + port
	if err := waitReady(http.DefaultClient, url, done); err != nil {
		stop()
		t.Fatalf("%v\n%s", err, logs.String())
	}
	cli(t, url, nil, "secrets", "create", "hf-token", "--value", "hf_platform").expect(t, 0, "")
	if got := accessValue(t, url, "default", "hf-token"); got != "hf_platform" {
		t.Errorf("access = %q", got)
	}
	stop()

	if _, err := os.Stat(filepath.Join(dataDir, "nmp-encryption-key.txt")); !os.IsNotExist(err) {
		t.Errorf("a development key was created next to the data (stat: %v)", err)
	}
	var msgs []string
	sc := bufio.NewScanner(&logs)
	for sc.Scan() {
		var line struct{ Msg string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON (service.log_format: json): %q", sc.Text())
		}
		msgs = append(msgs, line.Msg)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"listen address 0.0.0.0:" + port + " comes from service.host and service.port (coffer.listen is not set)",
		"auth.policy_decision_point_provider belongs to the reference's external policy engine and is ignored",
		"Coffer listening",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no log line %q in:\n%s", want, all)
		}
	}
	if strings.Contains(logs.String(), "hf_platform") {
		t.Error("the secret value reached the log")
	}
}
