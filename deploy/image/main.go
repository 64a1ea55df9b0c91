// Command image builds Coffer's container image as an OCI image layout
// without a container daemon: a static `coffer` binary (CGO_ENABLED=0,
// -trimpath, version stamped) on an empty (scratch) base with CA
// certificates, a passwd/group entry for the non-root user 65532, /data as
// the data directory and `coffer serve` as the entry point. It is the
// daemon-less equivalent of deploy/image/Dockerfile (docs/deploy.md,
// "Container image").
//
//	go -C deploy/image run . -out /tmp/coffer-oci
//
// The layout can be pushed with any OCI tool (crane, skopeo, oras), or
// loaded into Docker from the -docker-tar file.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts; docs/deploy.md and the Helm chart rely on them.
const (
	// UID and GID the service runs as (distroless' "nonroot").
	UID = 65532
	// Binary is where the coffer binary lives in the image.
	Binary = "/usr/local/bin/coffer"
	// DataDir is the data directory (SQLite database, development key).
	DataDir = "/data"
	// Port is the port the image's built-in configuration listens on.
	Port = 8080
	// CABundle is where the CA certificates are, in the image as on Debian.
	CABundle = "/etc/ssl/certs/ca-certificates.crt"
	// module is Coffer's Go module path, for -ldflags -X.
	module = "github.com/coffer-dev/coffer"
)

// rootfs holds the image's small text files (passwd, group, nsswitch.conf
// and the built-in configuration), shared with the Dockerfile, which copies
// the same directory.
//
//go:embed rootfs
var rootfs embed.FS

// Options describe one build.
type Options struct {
	Src     string    // repository root (holds go.mod of module)
	Arch    string    // GOARCH of the binary and the image
	Version string    // stamped into the binary and the labels
	Commit  string    // VCS revision ("" when unknown)
	Created time.Time // every file's mtime and the image's creation time
	CA      string    // CA bundle to copy into the image
}

func main() {
	var o Options
	var out, ref, dockerTar, created string
	flag.StringVar(&out, "out", "coffer-oci", "OCI image layout directory to write (replaced if it is one)")
	flag.StringVar(&ref, "tag", "", "image name stored in the layout and in -docker-tar (default coffer:<version>)")
	flag.StringVar(&dockerTar, "docker-tar", "", "also write a `docker load` tarball here")
	flag.StringVar(&o.Src, "src", "", "repository root (default: found above the working directory)")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "target architecture (GOARCH)")
	flag.StringVar(&o.Version, "version", "", "version to stamp (default: git describe, else dev)")
	flag.StringVar(&o.CA, "ca", CABundle, "CA certificate bundle to copy into the image")
	flag.StringVar(&created, "created", "", "creation time, RFC 3339 (default: $SOURCE_DATE_EPOCH, else the commit time)")
	flag.Parse()
	if err := run(context.Background(), o, out, ref, dockerTar, created); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o Options, out, ref, dockerTar, created string) error {
	var err error
	if o.Src == "" {
		if o.Src, err = repoRoot(); err != nil {
			return err
		}
	}
	if o.Version == "" {
		o.Version = gitOutput(o.Src, "describe", "--tags", "--always", "--dirty")
		if o.Version == "" {
			o.Version = "dev"
		}
	}
	o.Commit = gitOutput(o.Src, "rev-parse", "HEAD")
	if o.Created, err = creationTime(created, o.Src); err != nil {
		return err
	}
	if ref == "" {
		ref = "coffer:" + strings.ReplaceAll(o.Version, "+", "_")
	}
	img, err := Build(ctx, o)
	if err != nil {
		return err
	}
	if err := WriteLayout(out, img, ref); err != nil {
		return err
	}
	d, _ := img.Digest()
	fmt.Printf("wrote %s (%s, %s)\n", out, ref, d)
	if dockerTar != "" {
		tag, err := name.NewTag(ref)
		if err != nil {
			return fmt.Errorf("-tag: %w", err)
		}
		if err := tarball.WriteToFile(dockerTar, tag, img); err != nil {
			return err
		}
		fmt.Printf("wrote %s (docker load -i %s)\n", dockerTar, dockerTar)
	}
	return nil
}

// Build compiles coffer and assembles the image.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	tmp, err := os.MkdirTemp("", "coffer-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "coffer")
	if err := buildBinary(ctx, o, bin); err != nil {
		return nil, err
	}
	layer, err := rootfsLayer(o, bin)
	if err != nil {
		return nil, err
	}
	return assemble(o, layer)
}

// buildBinary builds a static, reproducible coffer for linux/o.Arch.
func buildBinary(ctx context.Context, o Options, out string) error {
	x := func(k, v string) string { return "-X " + module + "/internal/buildinfo." + k + "=" + v }
	ldflags := strings.Join([]string{"-s", "-w",
		x("version", o.Version), x("commit", o.Commit), x("date", o.Created.UTC().Format(time.RFC3339))}, " ")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/coffer")
	cmd.Dir = o.Src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.Arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}

// entry is one file of the root filesystem.
type entry struct {
	path string // without leading slash; a trailing slash makes a directory
	mode int64
	uid  int
	body []byte
}

// rootfsLayer is the image's only layer: the binary and the few files a
// static Go server needs on an empty base.
func rootfsLayer(o Options, bin string) (v1.Layer, error) {
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(o.CA)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w (install ca-certificates or pass -ca)", err)
	}
	files := []entry{
		{path: "etc/ssl/", mode: 0o755},
		{path: "etc/ssl/certs/", mode: 0o755},
		{path: strings.TrimPrefix(CABundle, "/"), mode: 0o644, body: ca},
		{path: "usr/", mode: 0o755},
		{path: "usr/local/", mode: 0o755},
		{path: "usr/local/bin/", mode: 0o755},
		{path: strings.TrimPrefix(Binary, "/"), mode: 0o755, body: binary},
		{path: strings.TrimPrefix(DataDir, "/") + "/", mode: 0o700, uid: UID},
		{path: "tmp/", mode: 0o1777},
	}
	err = fs.WalkDir(rootfs, "rootfs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "rootfs" {
			return err
		}
		rel := strings.TrimPrefix(p, "rootfs/")
		if d.IsDir() {
			files = append(files, entry{path: rel + "/", mode: 0o755})
			return nil
		}
		b, err := rootfs.ReadFile(p)
		files = append(files, entry{path: rel, mode: 0o644, body: b})
		return err
	})
	if err != nil {
		return nil, err
	}
	// Parents before children, in one fixed order: the layer's digest
	// depends only on the contents.
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: o.Created, Format: tar.FormatPAX}
		if strings.HasSuffix(f.path, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// assemble puts the layer on an empty base with the runtime configuration.
func assemble(o Options, layer v1.Layer) (v1.Image, error) {
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "coffer deploy/image " + o.Version, Comment: "static coffer on scratch"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = o.Arch, "linux"
	cf.Created = v1.Time{Time: o.Created}
	labels := map[string]string{
		"org.opencontainers.image.title":       "coffer",
		"org.opencontainers.image.description": "Coffer secrets service (NeMo Platform secrets API)",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":      "https://" + module,
	}
	if o.Commit != "" {
		labels["org.opencontainers.image.revision"] = o.Commit
	}
	cf.Config = v1.Config{
		User:         strconv.Itoa(UID) + ":" + strconv.Itoa(UID),
		Entrypoint:   []string{Binary, "serve"},
		ExposedPorts: map[string]struct{}{strconv.Itoa(Port) + "/tcp": {}},
		Env: []string{
			"PATH=/usr/local/bin",
			"NMP_DATA_DIR=" + DataDir, // the default data directory; coffer.data_dir still wins
			"SSL_CERT_FILE=" + CABundle,
		},
		WorkingDir: DataDir,
		Volumes:    map[string]struct{}{DataDir: {}},
		Labels:     labels,
		StopSignal: "SIGTERM",
	}
	return mutate.ConfigFile(img, cf)
}

// WriteLayout writes img as the only image of an OCI layout at dir, named
// ref. An existing layout at dir is replaced; any other existing directory
// is refused rather than deleted.
func WriteLayout(dir string, img v1.Image, ref string) error {
	if _, err := os.Stat(dir); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("%s exists and is not an OCI layout; not replacing it", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref,
	}))
}

// repoRoot finds Coffer's module root above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module "+module+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no " + module + " go.mod above the working directory; pass -src")
		}
		dir = parent
	}
}

// creationTime is -created, else $SOURCE_DATE_EPOCH, else the last commit's
// time, else the Unix epoch: never the build's wall clock, so two builds of
// one commit give one digest.
func creationTime(flagValue, src string) (time.Time, error) {
	if flagValue != "" {
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("-created: %w", err)
		}
		return t.UTC(), nil
	}
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		s = gitOutput(src, "log", "-1", "--format=%ct")
	}
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH: not a number of seconds")
	}
	return time.Unix(n, 0).UTC(), nil
}

// gitOutput runs git in dir and returns its trimmed output, "" on failure.
func gitOutput(dir string, args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
