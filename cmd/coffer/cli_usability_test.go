package main

// End-to-end tests of what a new user meets first (docs/cli.md): plain
// values from access, exit status 2 for unknown commands everywhere, base
// URLs without a scheme, a private CA, the hints after a 401 and after a
// bad name, and the rotation summary.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/spf13/cobra"
)

func TestUnknownSubcommandsExitTwo(t *testing.T) {
	var groups [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Annotations[groupAnnotation] != "" || !c.HasParent() {
			groups = append(groups, path)
		}
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(newRootCmd(), nil)
	for _, want := range []string{"secrets", "secrets admin", "secrets deleted", "workspaces", "workspaces members"} {
		found := false
		for _, g := range groups {
			found = found || strings.Join(g, " ") == want
		}
		if !found {
			t.Errorf("command group %q not found in %v", want, groups)
		}
	}
	for _, g := range groups {
		name := strings.Join(append([]string{"coffer"}, g...), " ")
		t.Run(name, func(t *testing.T) {
			res := cli(t, tripwire(t), nil, append(g, "bogus")...)
			res.expect(t, 2, "")
			if want := fmt.Sprintf("unknown command %q for %q", "bogus", name); !strings.Contains(res.stderr, want) || res.stdout != "" {
				t.Errorf("stderr %q, stdout %q; want %q on stderr only", res.stderr, res.stdout, want)
			}
			if len(g) > 0 { // the group alone prints its help and succeeds
				res := cli(t, tripwire(t), nil, g...)
				res.expect(t, 0, "")
				if !strings.Contains(res.stdout, "Available Commands:") {
					t.Errorf("%s alone printed %q", name, res.stdout)
				}
			}
		})
	}
	res := cli(t, tripwire(t), nil, "workspaces", "members", "lst")
	if !strings.Contains(res.stderr, "Did you mean this?\n\tlist") {
		t.Errorf("no suggestion for a typo: %q", res.stderr)
	}
}

func TestLiveAccessPrintsTheValueAlone(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-access"
	newWorkspace(t, url, ws)
	run := liveRun(t, url, ws)
	multi := "line one\nline \"two\"\tend"
	path := writeFile(t, multi, 0o600)
	run("secrets", "create", "multi", "--from-file", path).expect(t, 0, "")
	run("secrets", "create", "single", "--value", "hf_abc").expect(t, 0, "")

	res := run("secrets", "access", "multi")
	res.expect(t, 0, "")
	if res.stdout != multi {
		t.Errorf("access to a pipe printed %q, want the value alone without a newline: %q", res.stdout, multi)
	}
	res = run("secrets", "access", "multi", "-f", "table")
	if want := "name   workspace   value\nmulti  cli-access  " + multi + "\n"; res.stdout != want {
		t.Errorf("access -f table = %q, want %q", res.stdout, want)
	}
	if m := jsonOf(t, run("secrets", "access", "multi", "-f", "json")); m["value"] != multi {
		t.Errorf("access -f json value = %v", m["value"])
	}

	// On a terminal a newline follows, so the prompt starts on a line of its own.
	got, code := onTerminal(t, []string{"NMP_BASE_URL=" + url}, "secrets", "access", "single", "--workspace", ws)
	if code != 0 || got != "hf_abc\r\n" { // the terminal turns \n into \r\n
		t.Errorf("access on a terminal: status %d, output %q; want %q", code, got, "hf_abc\r\n")
	}
}

func TestBaseURLWithoutScheme(t *testing.T) {
	url := liveURL(t)
	hostport := strings.TrimPrefix(url, "http://")
	_, port, _ := net.SplitHostPort(hostport)
	for _, base := range []string{hostport, "localhost:" + port, hostport + "/"} {
		res := cliEnv(t, nil, nil, "workspaces", "get", "default", "--base-url", base)
		res.expect(t, 0, "")
		if !strings.Contains(res.stdout, "default") {
			t.Errorf("--base-url %s: %q", base, res.stdout)
		}
	}
	tests := []struct{ base, want string }{
		{"coffer.example:8080", `--base-url "coffer.example:8080" has no scheme: write https://coffer.example:8080 (or http://coffer.example:8080 if it really serves plain HTTP)` + "\n"},
		{"ftp://127.0.0.1:21", `--base-url "ftp://127.0.0.1:21": the scheme must be http or https` + "\n"},
		{"http://", `--base-url "http://" has no host` + "\n"},
	}
	for _, tt := range tests {
		cliEnv(t, []string{"NMP_BASE_URL=" + tt.base}, nil, "secrets", "list").expect(t, 2, tt.want)
	}
}

func TestPrivateCA(t *testing.T) {
	url := tlsLive.URL(t)
	ca := tlsLive.caFile
	res := cli(t, url, nil, "workspaces", "get", "default")
	res.expect(t, 1, "")
	if !strings.Contains(res.stderr, "certificate") {
		t.Errorf("without the CA: %q, want a certificate error", res.stderr)
	}
	cli(t, url, nil, "workspaces", "get", "default", "--ca-cert", ca).expect(t, 0, "")
	cliEnv(t, []string{"NMP_BASE_URL=" + url, "NMP_CA_CERT=" + ca}, nil, "workspaces", "get", "default").expect(t, 0, "")
	notPEM := writeFile(t, "not a certificate", 0o600)
	cli(t, url, nil, "workspaces", "get", "default", "--ca-cert", notPEM).
		expect(t, 2, "--ca-cert "+notPEM+": no PEM certificate in the file\n")
}

func TestLiveHints(t *testing.T) {
	url := authLive.URL(t)
	const hint401 = "Hint: the server wants a valid bearer token: set NMP_ACCESS_TOKEN to one, or pass --token-file FILE " +
		"(a token that was sent may have expired or be meant for another server).\n"
	cli(t, url, nil, "secrets", "list").expect(t, 1, "Error: 401 Unauthorized\n"+hint401)
	res := cliEnv(t, []string{"NMP_BASE_URL=" + url, "NMP_ACCESS_TOKEN=not-a-jwt"}, nil, "secrets", "list")
	res.expect(t, 1, "")
	if !strings.HasPrefix(res.stderr, "Error: 401 ") || !strings.HasSuffix(res.stderr, hint401) {
		t.Errorf("refused token: %q", res.stderr)
	}
	tokenFile := writeFile(t, "not-a-jwt-either\n", 0o600)
	res = cli(t, url, nil, "workspaces", "list", "--token-file", tokenFile)
	if res.code != 1 || !strings.HasSuffix(res.stderr, hint401) {
		t.Errorf("--token-file: status %d, stderr %q", res.code, res.stderr)
	}
	// A good token read from --token-file (whitespace around it stripped) works.
	res = cli(t, url, nil, "workspaces", "create", "hint-ws", "--token-file", writeFile(t, "\n "+userToken("hinter")+"\n", 0o600), "-f", "json")
	if m := jsonOf(t, res); m["created_by"] != "hinter" {
		t.Errorf("created with --token-file: %v", m)
	}

	plain := liveURL(t)
	res = cli(t, plain, nil, "secrets", "create", "x", "--value", "v")
	res.expect(t, 1, "Error: 422 body.name: String should match pattern '^[a-z](?!.*--)[a-z0-9._-]{1,62}(?<!-)$'\n"+
		"Secret names are 2 to 63 characters long: lowercase letters a-z, digits 0-9, '.', '_' and '-'. "+
		"They start with a letter, do not end with '-' and never contain '--'. Example: my-api-key\n")
	res = cli(t, plain, nil, "secrets", "create", "Bad!", "--value", "v")
	if res.code != 1 || !strings.Contains(res.stderr, "Invalid secret name 'Bad!'") || !strings.Contains(res.stderr, "\nSecret names are 2 to 63") {
		t.Errorf("bad characters: status %d, stderr %q", res.code, res.stderr)
	}
	res = cli(t, plain, nil, "workspaces", "create", "Ab")
	if res.code != 1 || !strings.HasSuffix(res.stderr, "\nWorkspace names are 2 to 63 characters long: lowercase letters a-z, digits 0-9, '-', '_', '.', '@' and '+'. "+
		"They start with a letter, do not end with '-' and never contain '--'. Example: ml-team\n") {
		t.Errorf("bad workspace name: status %d, stderr %q", res.code, res.stderr)
	}
}

func TestRotationHelpAndSummary(t *testing.T) {
	res := cli(t, tripwire(t), nil, "secrets", "admin", "rotate-encryption-keys", "--help")
	res.expect(t, 0, "")
	if strings.Contains(res.stdout, "--workspace") || !strings.Contains(res.stdout, "--base-url") {
		t.Errorf("rotate-encryption-keys --help:\n%s", res.stdout)
	}
	if res := cli(t, tripwire(t), nil, "secrets", "list", "--help"); !strings.Contains(res.stdout, "--workspace") {
		t.Errorf("secrets list --help lost --workspace:\n%s", res.stdout)
	}
	cli(t, tripwire(t), nil, "secrets", "admin", "rotate-encryption-keys", "--workspace", "ml").
		expect(t, 2, "rotate-encryption-keys re-encrypts every workspace; --workspace does not apply\n")

	url := liveURL(t)
	res = cli(t, url, nil, "secrets", "admin", "rotate-encryption-keys")
	res.expect(t, 0, "")
	// Two lines: what the run did, then what is left.
	lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "rotation: ") || !strings.Contains(lines[0], " secrets rotated (") ||
		!strings.HasPrefix(lines[1], "left to rotate: 0 of ") || !strings.HasSuffix(lines[1], " stored versions (0 unreadable)") {
		t.Errorf("rotation summary on stderr = %q", res.stderr)
	}
	if !strings.Contains(res.stdout, "rotated_secrets") || !strings.Contains(res.stdout, "versions_to_rotate") {
		t.Errorf("rotation and status tables = %q", res.stdout)
	}
}

func TestLiveWorkspaceDeleteSaysItIsGone(t *testing.T) {
	url := liveURL(t)
	newWorkspace(t, url, "cli-gone")
	cli(t, url, nil, "workspaces", "delete", "cli-gone").expect(t, 0, "")
	res := cli(t, url, nil, "workspaces", "delete", "cli-gone")
	res.expect(t, 1, "Error: 404 Workspace 'cli-gone' not found\n")
	newWorkspace(t, url, "cli-gone")
	res = cli(t, url, nil, "workspaces", "delete", "cli-gone")
	if res.stdout != "✓ Deleted workspace cli-gone with its secrets and members\n" {
		t.Errorf("workspaces delete printed %q", res.stdout)
	}
}

// onTerminal runs the CLI with stdout and stderr on a new pseudo-terminal
// and returns what the terminal received and the exit status.
func onTerminal(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	master, tty := openPTY(t)
	cmd := exec.Command(cofferBin, args...)
	cmd.Env = cleanEnv(env...)
	cmd.Stdout, cmd.Stderr = tty, tty
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once the child and tty are closed
		out <- string(b)
	}()
	err := cmd.Run()
	tty.Close()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-out:
		return s, code
	case <-time.After(10 * time.Second):
		t.Fatal("reading the terminal did not end")
		return "", code
	}
}

// openPTY opens a pseudo-terminal pair (Linux /dev/ptmx).
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("opening /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Fatalf("unlocking the pty: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("pty number: %v", errno)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// testCA writes a CA certificate and a server certificate for 127.0.0.1
// signed by it into dir, and returns their files and an HTTP client that
// trusts the CA.
func testCA(dir string) (caFile, certFile, keyFile string, hc *http.Client, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "coffer test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{caFile, "CERTIFICATE", caDER}, {certFile, "CERTIFICATE", leafDER}, {keyFile, "EC PRIVATE KEY", keyDER}} {
		if err = os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return caFile, certFile, keyFile, hc, nil
}
