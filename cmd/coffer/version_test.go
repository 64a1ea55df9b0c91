package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersionMatchesServer checks that `coffer version`, `coffer
// --version` and the server's GET /version describe the same build.
func TestVersionMatchesServer(t *testing.T) {
	url := liveURL(t)
	res, err := http.Get(url + "/version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /version: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var served map[string]string
	if err := json.Unmarshal(body, &served); err != nil {
		t.Fatalf("GET /version: %v: %s", err, body)
	}
	if len(served) != 4 || served["go_version"] != runtime.Version() || served["version"] == "" ||
		served["commit"] == "" || served["build_date"] == "" {
		t.Errorf("GET /version = %s", body)
	}

	j := cli(t, url, nil, "version", "-f", "json")
	j.expect(t, 0, "")
	var printed map[string]string
	if err := json.Unmarshal([]byte(j.stdout), &printed); err != nil {
		t.Fatalf("coffer version -f json: %v: %q", err, j.stdout)
	}
	for k, v := range served {
		if printed[k] != v {
			t.Errorf("coffer version -f json: %s = %q, server says %q", k, printed[k], v)
		}
	}

	line := "coffer " + served["version"] + " (commit " + served["commit"] + ", built " +
		served["build_date"] + ", " + served["go_version"] + ")\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := cli(t, url, nil, args...)
		r.expect(t, 0, "")
		if r.stdout != line {
			t.Errorf("coffer %s = %q, want %q", strings.Join(args, " "), r.stdout, line)
		}
	}
}

// TestVersionFromLdflags checks that a release build's -ldflags -X values
// are what `coffer version` reports.
func TestVersionFromLdflags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "coffer")
	const pkg = "github.com/coffer-dev/coffer/internal/buildinfo"
	ldflags := "-X " + pkg + ".version=v1.2.3 -X " + pkg + ".commit=0123456789abcdef -X " + pkg + ".date=2026-12-02T06:00:00Z"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "coffer v1.2.3 (commit 0123456789abcdef, built 2026-12-02T06:00:00Z, " + runtime.Version() + ")\n"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}
