package main

// End-to-end tests of the client commands: they run the built coffer binary,
// against a live `coffer serve` where a server is needed and against small
// fake servers for the rules that must hold before or without one.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/openapi/openapitest"
)

// cofferBin is the binary under test, built once in TestMain.
var cofferBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coffer-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cofferBin = filepath.Join(dir, "coffer")
	if out, err := exec.Command("go", "build", "-o", cofferBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building coffer: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	for _, s := range []*liveServer{&live, &authLive, &tlsLive} {
		s.stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is the test process environment without any Coffer or NMP
// setting, so that neither the developer's configuration nor a CI variable
// changes what a test sees.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NMP_") && !strings.HasPrefix(kv, "COFFER_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with NMP_BASE_URL=baseURL. A nil stdin is /dev/null,
// a character device, which the CLI treats like a terminal.
func cli(t *testing.T, baseURL string, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	return cliEnv(t, []string{"NMP_BASE_URL=" + baseURL}, stdin, args...)
}

// cliEnv runs the binary with only the given NMP_ variables set.
func cliEnv(t *testing.T, env []string, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cofferBin, args...)
	cmd.Env = cleanEnv(env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	if exitErr, ok := err.(*exec.ExitError); ok {
		res.code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("running coffer %v: %v", args, err)
	}
	return res
}

// expect checks the exit status and, unless empty, the exact stderr.
func (r cliResult) expect(t *testing.T, code int, stderr string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if stderr != "" && r.stderr != stderr {
		t.Errorf("stderr = %q, want %q", r.stderr, stderr)
	}
}

// tripwire is a server that fails the test on any request: the value input
// rules must stop the CLI before it sends anything.
func tripwire(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "value.txt")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValueInputRules(t *testing.T) {
	blank := writeFile(t, " \n\t\n", 0o600)
	notUTF8 := writeFile(t, "a\xffb", 0o600)
	missing := filepath.Join(t.TempDir(), "nope.txt")
	tests := []struct {
		name  string
		stdin io.Reader
		args  []string
		want  string
	}{
		{"both sources", nil, []string{"secrets", "create", "k", "--value", "v", "--from-file", blank}, msgBothSources},
		{"both sources on update", nil, []string{"secrets", "update", "k", "--value", "v", "--from-file", "-"}, msgBothSources},
		{"neither on create", nil, []string{"secrets", "create", "k"}, msgNoSource},
		{"blank --value", nil, []string{"secrets", "create", "k", "--value", " \t "}, msgEmptyValue},
		{"empty --value", nil, []string{"secrets", "create", "k", "--value="}, msgEmptyValue},
		{"blank --value on update", nil, []string{"secrets", "update", "k", "--value", "\n"}, msgEmptyValue},
		{"blank file", nil, []string{"secrets", "create", "k", "--from-file", blank}, msgEmptyFile},
		{"blank stdin", strings.NewReader("  \n"), []string{"secrets", "create", "k", "--from-file", "-"}, msgEmptyFile},
		{"empty stdin on update", strings.NewReader(""), []string{"secrets", "update", "k", "--from-file", "-"}, msgEmptyFile},
		{"terminal stdin", nil, []string{"secrets", "create", "k", "--from-file", "-"}, msgNoStdin},
		{"missing file", nil, []string{"secrets", "create", "k", "--from-file", missing}, "File not found: " + missing},
		{"not UTF-8", nil, []string{"secrets", "create", "k", "--from-file", notUTF8}, msgNotUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cli(t, tripwire(t), tt.stdin, tt.args...)
			res.expect(t, 2, tt.want+"\n")
			if res.stdout != "" {
				t.Errorf("stdout = %q, want nothing", res.stdout)
			}
		})
	}
}

func TestUnreadableValueFile(t *testing.T) {
	dir, err := os.MkdirTemp("", "coffer-cli-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "value.txt")
	if err := os.WriteFile(path, []byte("v"), 0o000); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cofferBin, "secrets", "create", "k", "--from-file", path)
	cmd.Env = cleanEnv("NMP_BASE_URL=" + tripwire(t))
	if os.Geteuid() == 0 {
		// root reads any file, so the CLI runs as nobody; the directories
		// on the way must then be searchable by others.
		for _, d := range []string{dir, filepath.Dir(cofferBin)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
		t.Fatalf("exit: %v, want status 2 (stderr %q)", err, stderr.String())
	}
	if want := "Permission denied reading file: " + path + "\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown output format", []string{"secrets", "list", "-f", "xml"}},
		{"page 0", []string{"secrets", "list", "--page", "0"}},
		{"negative page size", []string{"workspaces", "list", "--page-size", "-1"}},
		{"page size 0", []string{"secrets", "list", "--all-pages", "--page-size", "0"}},
		{"missing name", []string{"secrets", "get"}},
		{"set without role", []string{"workspaces", "members", "set", "ws", "alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cli(t, tripwire(t), nil, tt.args...)
			res.expect(t, 2, "")
			if res.stderr == "" {
				t.Error("no message on stderr")
			}
		})
	}
}

func TestUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	res := cli(t, url, nil, "secrets", "create", "k", "--value", "hunter2")
	res.expect(t, 1, "")
	if !strings.HasPrefix(res.stderr, "Error: ") || strings.Contains(res.stderr, "hunter2") {
		t.Errorf("stderr = %q, want an Error: line without the value", res.stderr)
	}
}

// fakeServer answers every request with status and body.
func fakeServer(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRotationFailureExitsWithOne(t *testing.T) {
	url := fakeServer(t, http.StatusAccepted, `{"rotated_secrets":3,"success":false,"skipped_secrets":40,`+
		`"failed_secrets":[{"workspace":"ml","name":"wandb","error":"provider 'old' is not configured"}],"failed_count":1}`)
	res := cli(t, url, nil, "secrets", "admin", "rotate-encryption-keys")
	res.expect(t, 1, "")
	for _, want := range []string{"rotated_secrets", "40", "wandb", "provider 'old' is not configured"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
}

func TestSettingsFromEnvironmentAndFlags(t *testing.T) {
	// The handler runs on a server goroutine; the channel orders its writes
	// before the test's reads.
	seen := make(chan [2]string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- [2]string{r.URL.Path, r.Header.Get("Authorization")}
		io.WriteString(w, `{"name":"k","workspace":"w","description":null,"created_at":null,"updated_at":null}`)
	}))
	defer srv.Close()
	tests := []struct {
		name     string
		env      []string
		args     []string
		wantPath string
		wantAuth string
	}{
		{"defaults", []string{"NMP_BASE_URL=" + srv.URL}, nil, "/apis/secrets/v2/workspaces/default/secrets/k", ""},
		{"environment", []string{"NMP_BASE_URL=" + srv.URL, "NMP_WORKSPACE=env-ws", "NMP_ACCESS_TOKEN=tok"}, nil,
			"/apis/secrets/v2/workspaces/env-ws/secrets/k", "Bearer tok"},
		{"flags win", []string{"NMP_BASE_URL=" + tripwire(t), "NMP_WORKSPACE=env-ws"},
			[]string{"--base-url", srv.URL, "--workspace", "flag-ws"}, "/apis/secrets/v2/workspaces/flag-ws/secrets/k", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cliEnv(t, tt.env, nil, append([]string{"secrets", "get", "k"}, tt.args...)...).expect(t, 0, "")
			var got [2]string
			select {
			case got = <-seen:
			default:
			}
			if gotPath, gotAuth := got[0], got[1]; gotPath != tt.wantPath || gotAuth != tt.wantAuth {
				t.Errorf("request %s with Authorization %q; want %s with %q", gotPath, gotAuth, tt.wantPath, tt.wantAuth)
			}
		})
	}
}

// liveServer is one `coffer serve` shared by the tests that need the real
// service; each test works in its own workspaces. The tests reach it through
// a proxy that validates every response against the OpenAPI document.
type liveServer struct {
	env []string // extra environment of coffer serve
	tls bool     // serve HTTPS with a certificate of a test CA (caFile)

	once   sync.Once
	url    string // the validating proxy's
	caFile string // PEM of the CA that signed the server's certificate
	err    error
	dir    string // data directory and log file
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	proxy  *httptest.Server
	// failures are responses that did not match the document, reported by
	// the test that is running when they arrive.
	failures openapitest.Collector
}

var (
	// live is the service in its default (development) configuration.
	live liveServer
	// authLive has authentication on; callers use identity headers from
	// loopback or unsigned tokens (userToken), and boss@corp.com is
	// PlatformAdmin.
	authLive = liveServer{env: []string{"NMP_AUTH_ENABLED=true", "NMP_AUTH_ADMIN_EMAIL=boss@corp.com", "NMP_AUTH_ALLOW_UNSIGNED_JWT=true"}}
	// tlsLive serves HTTPS with a certificate of a private CA.
	tlsLive = liveServer{tls: true}
)

// liveURL starts the default service on first use and returns its base URL.
func liveURL(t *testing.T) string {
	t.Helper()
	return live.URL(t)
}

// URL starts the service on first use and returns its base URL.
func (s *liveServer) URL(t *testing.T) string {
	t.Helper()
	s.once.Do(s.start)
	if s.err != nil {
		logText, _ := os.ReadFile(filepath.Join(s.dir, "serve.log"))
		t.Fatalf("starting coffer serve: %v\nserver log:\n%s", s.err, logText)
	}
	t.Cleanup(func() { s.failures.Drain(t) })
	return s.url
}

func (s *liveServer) start() {
	if s.dir, s.err = os.MkdirTemp("", "coffer-cli-data-"); s.err != nil {
		return
	}
	env := append([]string{"HOME=" + s.dir, "XDG_DATA_HOME=" + s.dir}, s.env...)
	scheme, hc := "http", http.DefaultClient
	var certFile, keyFile string
	if s.tls {
		if s.caFile, certFile, keyFile, hc, s.err = testCA(s.dir); s.err != nil {
			return
		}
		scheme = "https"
		env = append(env, "COFFER_TLS_CERT_FILE="+certFile, "COFFER_TLS_KEY_FILE="+keyFile)
	}
	logFile, err := os.Create(filepath.Join(s.dir, "serve.log"))
	if err != nil {
		s.err = err
		return
	}
	defer logFile.Close() // the child has its own descriptor
	addr, err := freeLoopbackAddr()
	if err != nil {
		s.err = err
		return
	}
	s.cmd = exec.Command(cofferBin, "serve", "--listen", addr, "--data-dir", filepath.Join(s.dir, "data"))
	s.cmd.Env = cleanEnv(env...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if s.err = s.cmd.Start(); s.err != nil {
		return
	}
	s.done = make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	if s.err = waitReady(hc, scheme+"://"+addr, s.done); s.err != nil {
		return
	}
	s.url, s.err = s.startProxy(&url.URL{Scheme: scheme, Host: addr}, hc, certFile, keyFile)
}

// startProxy puts a reverse proxy in front of the service that validates
// every response against the OpenAPI document; with TLS it serves the
// service's own certificate, so the tests see the same CA.
func (s *liveServer) startProxy(target *url.URL, hc *http.Client, certFile, keyFile string) (string, error) {
	s.proxy = httptest.NewUnstartedServer(&httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: openapitest.Transport(hc.Transport, s.failures.Add),
	})
	if !s.tls {
		s.proxy.Start()
		return s.proxy.URL, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return "", err
	}
	s.proxy.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.proxy.StartTLS()
	return s.proxy.URL, nil
}

// stop ends the server with SIGTERM, as an operator would, and removes its
// data.
func (s *liveServer) stop() {
	if s.proxy != nil {
		s.proxy.Close()
	}
	if s.done != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(hc *http.Client, url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("coffer serve exited before it was ready")
		default:
		}
		resp, err := hc.Get(url + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s/health/ready did not answer 200 within 20s", url)
}
