package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImageSmoke builds the image as CI does, without a daemon, and checks
// it as a container runtime would use it: the layout's one image, its
// runtime configuration, its root filesystem, and finally its coffer run
// as UID 65532 inside a chroot of that filesystem (as root, which CI is;
// otherwise the extracted binary runs directly) until /health/ready
// answers and a secret can be stored and read back.
func TestImageSmoke(t *testing.T) {
	src, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := Options{Src: src, Arch: "amd64", Version: "v0.0.0-smoke", Commit: "abc123", Created: created, CA: CABundle}
	img, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Reproducible: the same sources and options give the same image.
	again, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of one source: %s and %s", d1, d2)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	if err := WriteLayout(dir, img, "coffer:smoke"); err != nil {
		t.Fatal(err)
	}
	img = readLayout(t, dir, "coffer:smoke")
	checkConfig(t, img, created)
	root := filepath.Join(t.TempDir(), "rootfs")
	headers := unpack(t, img, root)
	checkFiles(t, root, headers)
	runImage(t, root, img)
}

// readLayout opens the layout as a pushing tool would and returns the image
// named ref, checking it is the only one and uses OCI media types.
func readLayout(t *testing.T, dir, ref string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != ref {
		t.Fatalf("index manifests %+v, want one named %s", m.Manifests, ref)
	}
	if m.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", m.Manifests[0].MediaType)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("layers %d, %v", len(ls), err)
	}
	if mt, _ := ls[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s", mt)
	}
	return img
}

func checkConfig(t *testing.T, img v1.Image, created time.Time) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (non-root)", c.User)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/usr/local/bin/coffer", "serve"}) || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want coffer serve", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok || c.WorkingDir != "/data" {
		t.Errorf("volumes %v workdir %q", c.Volumes, c.WorkingDir)
	}
	if !contains(c.Env, "NMP_DATA_DIR=/data") || !contains(c.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt") {
		t.Errorf("env %q", c.Env)
	}
	if c.Labels["org.opencontainers.image.version"] != "v0.0.0-smoke" || c.Labels["org.opencontainers.image.revision"] != "abc123" {
		t.Errorf("labels %v", c.Labels)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Time.Equal(created) {
		t.Errorf("os %s arch %s created %v", cf.OS, cf.Architecture, cf.Created)
	}
}

// unpack extracts the image's flattened filesystem into root the way a
// runtime does (owners applied when running as root) and returns the tar
// headers by path.
func unpack(t *testing.T, img v1.Image, root string) map[string]*tar.Header {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	headers := map[string]*tar.Header{}
	asRoot := os.Geteuid() == 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		clean := filepath.Clean("/" + h.Name)
		headers[clean] = h
		p := filepath.Join(root, clean)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		default:
			t.Fatalf("unexpected entry %s of type %c", h.Name, h.Typeflag)
		}
		if asRoot {
			if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(p, os.FileMode(h.Mode&0o777)|modeBits(h.Mode)); err != nil {
			t.Fatal(err)
		}
	}
	// the root itself: a runtime's rootfs is traversable by every user
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return headers
}

func modeBits(m int64) os.FileMode {
	var fm os.FileMode
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

func checkFiles(t *testing.T, root string, headers map[string]*tar.Header) {
	t.Helper()
	want := map[string]struct {
		mode int64
		uid  int
	}{
		"/usr/local/bin/coffer":              {0o755, 0},
		"/etc/ssl/certs/ca-certificates.crt": {0o644, 0},
		"/etc/passwd":                        {0o644, 0},
		"/etc/group":                         {0o644, 0},
		"/etc/nmp/config.yaml":               {0o644, 0},
		"/data":                              {0o700, 65532},
		"/tmp":                               {0o1777, 0},
	}
	for p, w := range want {
		h := headers[p]
		if h == nil {
			t.Errorf("%s missing", p)
			continue
		}
		if h.Mode != w.mode || h.Uid != w.uid || h.Gid != w.uid {
			t.Errorf("%s mode %o owner %d:%d, want %o %d:%d", p, h.Mode, h.Uid, h.Gid, w.mode, w.uid, w.uid)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), "\nnonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no entry for 65532:\n%s", passwd)
	}
	ca, _ := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	host, err := os.ReadFile(CABundle)
	if err != nil || !bytes.Equal(ca, host) || !bytes.Contains(ca, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("CA bundle (%d bytes) is not the build machine's (%d bytes, %v)", len(ca), len(host), err)
	}
	f, err := elf.Open(filepath.Join(root, "usr/local/bin/coffer"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("coffer is dynamically linked; the scratch image has no loader")
		}
	}
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v", f.Machine)
	}
}

// runImage starts the image's entry point with its environment only, plus
// a --listen on a free loopback port (as `docker run IMAGE --listen …`
// would append), and uses the running service.
func runImage(t *testing.T, root string, img v1.Image) {
	t.Helper()
	cf, _ := img.ConfigFile()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := append(append([]string{}, cf.Config.Entrypoint...), "--listen", addr)
	env := append([]string{}, cf.Config.Env...)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		chroot, err := exec.LookPath("chroot")
		if err != nil {
			t.Fatal("running as root but no chroot: ", err)
		}
		cmd = exec.Command(chroot, append([]string{"--userspec=" + cf.Config.User, root}, args...)...)
	} else {
		// Without root there is no chroot: run the extracted binary with
		// the image's paths moved under root.
		t.Log("not root: running the image's coffer without chroot")
		args = append(args, "--config", filepath.Join(root, "etc/nmp/config.yaml"), "--data-dir", filepath.Join(root, "data"))
		cmd = exec.Command(filepath.Join(root, args[0]), args[1:]...)
	}
	cmd.Env = env
	cmd.Dir = root
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	defer stop()
	url := "http://" + addr
	if err := waitReady(url, done); err != nil {
		stop()
		t.Fatalf("%v\nlog:\n%s", err, logs.String())
	}
	post, err := http.Post(url+"/apis/secrets/v2/workspaces/default/secrets", "application/json",
		strings.NewReader(`{"name":"smoke","value":"smoke-value"}`))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	res, err := http.Get(url + "/apis/secrets/v2/workspaces/default/secrets/smoke/access")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if post.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"smoke-value"`) {
		t.Errorf("create %d, access %d %s", post.StatusCode, res.StatusCode, body)
	}
	// The build stamped the version, commit and date (-ldflags -X).
	res, err = http.Get(url + "/version")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Version   string `json:"version"`
		Commit    string `json:"commit"`
		BuildDate string `json:"build_date"`
	}
	err = json.NewDecoder(res.Body).Decode(&info)
	res.Body.Close()
	if err != nil || info.Version != "v0.0.0-smoke" || info.Commit != "abc123" || info.BuildDate != "2026-01-02T03:04:05Z" {
		t.Errorf("GET /version: %+v (%v)", info, err)
	}
	stop()

	// The data went to /data, owned by the image's user.
	for _, f := range []string{"data/coffer.db", "data/nmp-encryption-key.txt"} {
		fi, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Errorf("/%s: %v", f, err)
			continue
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; os.Geteuid() == 0 && uid != 65532 {
			t.Errorf("/%s owned by %d, want 65532", f, uid)
		}
	}
	// The built-in config's service.log_format: json applies.
	sc := bufio.NewScanner(&logs)
	lines := 0
	for sc.Scan() {
		lines++
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Errorf("log line is not JSON: %q", sc.Text())
		}
	}
	if lines == 0 {
		t.Error("no log lines")
	}
}

func waitReady(url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("coffer exited before /health/ready answered")
		default:
		}
		if res, err := http.Get(url + "/health/ready"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New(url + "/health/ready did not answer 200 within 60 s")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestCreationTime: builds are reproducible, so the creation time never
// comes from the clock.
func TestCreationTime(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	got, err := creationTime("", t.TempDir())
	if err != nil || !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("SOURCE_DATE_EPOCH: %v %v", got, err)
	}
	got, err = creationTime("2026-03-04T05:06:07Z", "")
	if err != nil || got.Format(time.RFC3339) != "2026-03-04T05:06:07Z" {
		t.Errorf("-created: %v %v", got, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if got, _ := creationTime("", t.TempDir()); got.Unix() != 0 {
		t.Errorf("outside git: %v, want the epoch", got)
	}
}

// TestDockerfileAgrees: the Dockerfile (for people with Docker) declares
// the same runtime configuration as the image this program builds, and
// copies the same rootfs files. No daemon here, so its instructions are
// compared, not its build.
func TestDockerfileAgrees(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	final := string(b)[strings.LastIndex(string(b), "\nFROM "):]
	inst := map[string]string{}
	for _, line := range strings.Split(final, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == strings.ToUpper(k) && k != "" && k[0] != '#' {
			inst[k] += v + "\n"
		}
	}
	img, err := assemble(Options{Arch: "amd64", Version: "v", Created: time.Unix(0, 0)}, static(t))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	c := cf.Config
	entry, _ := json.Marshal(c.Entrypoint)
	want := map[string]string{
		"FROM":       "scratch\n",
		"USER":       c.User + "\n",
		"ENV":        strings.Join(c.Env, " ") + "\n",
		"WORKDIR":    c.WorkingDir + "\n",
		"VOLUME":     DataDir + "\n",
		"EXPOSE":     "8080/tcp\n",
		"STOPSIGNAL": c.StopSignal + "\n",
		"ENTRYPOINT": strings.ReplaceAll(string(entry), ",", ", ") + "\n",
	}
	for k, v := range want {
		if inst[k] != v {
			t.Errorf("Dockerfile %s %q, the builder's image has %q", k, inst[k], v)
		}
	}
	if !strings.Contains(inst["COPY"], "deploy/image/rootfs/ /\n") || !strings.Contains(inst["COPY"], "--chown=65532:65532 /out/data/ /data/\n") {
		t.Errorf("Dockerfile COPY lines:\n%s", inst["COPY"])
	}
}

// static is an empty layer, for checking configuration without a build.
func static(t *testing.T) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tar.NewWriter(&buf).Close()
	l, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return l
}
