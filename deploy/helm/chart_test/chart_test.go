// Package charttest renders the Helm chart in deploy/helm/coffer with the
// Helm Go SDK for the main combinations of values, decodes every manifest
// strictly into the typed Kubernetes objects, and checks what a cluster
// would find out the hard way: the configuration in the ConfigMap listens
// on the container port the probes and the Service use, the Secrets' keys
// reach Coffer under the environment names it reads, and impossible
// combinations (SQLite with several replicas) are refused. The real coffer
// binary, built from this repository, is run on the rendered configuration
// and environment as the pod would run it.
//
// It is its own Go module so that Helm's dependency tree stays out of the
// server's build; it runs coffer as a program rather than importing its
// packages, so a dependency added to the server never needs this module's
// go.sum updated (docs/deploy.md).
package charttest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// testKEK is base64 of 32 bytes 0x00..0x1f.
const testKEK = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// secrets are the Kubernetes Secrets docs/deploy.md tells users to create,
// by name, then key.
var secrets = map[string]map[string]string{
	"coffer-kek":         {"NMP_SECRETS_DEFAULT_ENCRYPTION_KEY": testKEK},
	"coffer-db":          {"dsn": "postgres://coffer:pw@127.0.0.1:1/coffer?sslmode=disable"}, // nothing listens there
	"coffer-vault-token": {"token": "hvs.test-token"},
	"vault-ca":           {"ca.crt": "-----BEGIN CERTIFICATE-----"},
}

// manifests are the decoded objects of one rendering.
type manifests struct {
	Deployment     *appsv1.Deployment
	Service        *corev1.Service
	ConfigMap      *corev1.ConfigMap
	PVC            *corev1.PersistentVolumeClaim
	PDB            *policyv1.PodDisruptionBudget
	ServiceAccount *corev1.ServiceAccount
	ServiceMonitor *monitoringv1.ServiceMonitor
	Notes          string
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load("../coffer")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render renders the chart as `helm install coffer … -n nemo` would.
func render(t *testing.T, values map[string]any) (*manifests, error) {
	t.Helper()
	c := loadChart(t)
	opts := chartutil.ReleaseOptions{Name: "coffer", Namespace: "nemo", Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(c, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(c, rv)
	if err != nil {
		return nil, err
	}
	m := &manifests{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			m.Notes = files[name]
			continue
		}
		for _, doc := range releaseutil.SplitManifests(files[name]) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			decode(t, name, doc, m)
		}
	}
	return m, nil
}

// decode unmarshals doc strictly (unknown or duplicate fields fail) into
// the typed object of its kind.
func decode(t *testing.T, file, doc string, m *manifests) {
	t.Helper()
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
		t.Fatalf("%s: %v\n%s", file, err, doc)
	}
	var target any
	want := map[string]string{
		"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1", "PersistentVolumeClaim": "v1",
		"PodDisruptionBudget": "policy/v1", "ServiceAccount": "v1", "ServiceMonitor": "monitoring.coreos.com/v1",
	}
	if want[meta.Kind] != meta.APIVersion {
		t.Fatalf("%s: unexpected %s %s", file, meta.APIVersion, meta.Kind)
	}
	switch meta.Kind {
	case "Deployment":
		m.Deployment = &appsv1.Deployment{}
		target = m.Deployment
	case "Service":
		m.Service = &corev1.Service{}
		target = m.Service
	case "ConfigMap":
		m.ConfigMap = &corev1.ConfigMap{}
		target = m.ConfigMap
	case "PersistentVolumeClaim":
		m.PVC = &corev1.PersistentVolumeClaim{}
		target = m.PVC
	case "PodDisruptionBudget":
		m.PDB = &policyv1.PodDisruptionBudget{}
		target = m.PDB
	case "ServiceAccount":
		m.ServiceAccount = &corev1.ServiceAccount{}
		target = m.ServiceAccount
	case "ServiceMonitor":
		m.ServiceMonitor = &monitoringv1.ServiceMonitor{}
		target = m.ServiceMonitor
	}
	if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
		t.Fatalf("%s: not a valid %s: %v\n%s", file, meta.Kind, err, doc)
	}
}

func mustRender(t *testing.T, values map[string]any) *manifests {
	t.Helper()
	m, err := render(t, values)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// base is the minimum install of docs/deploy.md: SQLite, a key Secret.
func base() map[string]any {
	return map[string]any{
		"image": map[string]any{"repository": "registry.example/coffer", "tag": "v1.2.0"},
		"kek":   map[string]any{"secretKey": map[string]any{"existingSecret": "coffer-kek"}},
	}
}

func postgres(replicas int) map[string]any {
	v := base()
	v["database"] = map[string]any{"type": "postgres", "postgres": map[string]any{"existingSecret": "coffer-db"}}
	v["replicaCount"] = replicas
	return v
}

func vault() map[string]any {
	v := base()
	v["kek"] = map[string]any{"provider": "vault", "vault": map[string]any{
		"address": "http://127.0.0.1:1", "keyName": "nemo-platform-key", // nothing listens there
		"token":  map[string]any{"existingSecret": "coffer-vault-token"},
		"caCert": map[string]any{"existingSecret": "vault-ca"},
	}}
	return v
}

// coffer is the container spec.
func (m *manifests) coffer(t *testing.T) corev1.Container {
	t.Helper()
	if m.Deployment == nil {
		t.Fatal("no Deployment")
	}
	cs := m.Deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "coffer" {
		t.Fatalf("containers %+v", cs)
	}
	return cs[0]
}

// env resolves the container's environment as the kubelet would from the
// Secrets users create; a reference to a missing Secret or key fails.
func (m *manifests) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range m.coffer(t).Env {
		switch {
		case e.ValueFrom == nil:
			out[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secrets[ref.Name][ref.Key]
			if !ok {
				t.Fatalf("env %s refers to Secret %s key %s, which docs/deploy.md does not create", e.Name, ref.Name, ref.Key)
			}
			out[e.Name] = v
		default:
			t.Fatalf("env %s: unexpected source %+v", e.Name, e.ValueFrom)
		}
	}
	return out
}

// settings is the rendered config.yaml, decoded.
type settings map[string]any

// get returns the value at a dotted key ("service.port"), or nil.
func (s settings) get(key string) any {
	var v any = map[string]any(s)
	for _, k := range strings.Split(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// load returns the configuration the container reads (checking that its
// --config argument names the file the ConfigMap is mounted as) and its
// resolved environment.
func (m *manifests) load(t *testing.T) (settings, map[string]string) {
	t.Helper()
	c := m.coffer(t)
	if !slices.Equal(c.Args, []string{"--config", "/etc/nmp/config.yaml"}) {
		t.Fatalf("args %q", c.Args)
	}
	mount := volumeMount(t, c, "/etc/nmp")
	vol := volume(t, m.Deployment, mount.Name)
	if vol.ConfigMap == nil || vol.ConfigMap.Name != m.ConfigMap.Name {
		t.Fatalf("/etc/nmp is volume %+v, not the ConfigMap %s", vol, m.ConfigMap.Name)
	}
	var s settings
	if err := yaml.UnmarshalStrict([]byte(m.ConfigMap.Data["config.yaml"]), &s); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	return s, m.env(t)
}

// cofferProcess is coffer started as the pod would start it.
type cofferProcess struct {
	cmd     *exec.Cmd
	logs    *syncBuffer
	done    chan struct{}
	dataDir string
}

// start runs the built coffer with the container's arguments (the
// ConfigMap's file where --config points), exactly the resolved container
// environment, and the data directory moved to the test's (the pod mounts
// a volume at /data).
func (m *manifests) start(t *testing.T) *cofferProcess {
	t.Helper()
	m.load(t)
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(m.ConfigMap.Data["config.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &cofferProcess{logs: &syncBuffer{}, done: make(chan struct{}), dataDir: filepath.Join(t.TempDir(), "data")}
	args := []string{"serve", "--config", file, "--data-dir", p.dataDir}
	p.cmd = exec.Command(cofferBin, args...)
	p.cmd.Env = []string{"HOME=" + t.TempDir()}
	for k, v := range m.env(t) {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// stop ends coffer with SIGTERM, as the kubelet does.
func (p *cofferProcess) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// exited waits for coffer to stop by itself and returns its output.
func (p *cofferProcess) exited(t *testing.T) string {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("coffer still running; log:\n%s", p.logs.String())
	}
	return p.logs.String()
}

// syncBuffer collects the output of the child's two streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func volumeMount(t *testing.T, c corev1.Container, path string) corev1.VolumeMount {
	t.Helper()
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == path {
			return vm
		}
	}
	t.Fatalf("nothing mounted at %s", path)
	return corev1.VolumeMount{}
}

func volume(t *testing.T, d *appsv1.Deployment, name string) corev1.Volume {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %s", name)
	return corev1.Volume{}
}

// TestEveryCombinationIsConsistent renders the main value combinations and
// checks the wiring every one of them needs.
func TestEveryCombinationIsConsistent(t *testing.T) {
	tests := map[string]map[string]any{
		"sqlite":              base(),
		"postgres 3 replicas": postgres(3),
		"postgres 1 replica":  postgres(1),
		"vault":               vault(),
		"service monitor":     withMetrics(base()),
		"other port":          with(base(), "containerPort", 9090),
		"text logs, extra config": with(with(base(), "logFormat", "text"), "config", map[string]any{
			"auth":    map[string]any{"enabled": true, "admin_email": "admin@example.com"},
			"secrets": map[string]any{"max_versions": 20},
		}),
	}
	for name, values := range tests {
		t.Run(name, func(t *testing.T) {
			m := mustRender(t, values)
			c := m.coffer(t)
			cfg, _ := m.load(t)

			// The port Coffer listens on (service.*, as coffer.listen is
			// not set) is the container port "http", which the probes, the
			// Service and the ServiceMonitor use.
			port := containerPort(t, c, "http")
			if cfg.get("service.host") != "0.0.0.0" || cfg.get("service.port") != float64(port) || cfg.get("coffer.listen") != nil {
				t.Errorf("service %v, coffer.listen %v; want 0.0.0.0 and port %d", cfg.get("service"), cfg.get("coffer.listen"), port)
			}
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
				path  string
			}{{"startup", c.StartupProbe, "/health/live"}, {"liveness", c.LivenessProbe, "/health/live"}, {"readiness", c.ReadinessProbe, "/health/ready"}} {
				if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != intstr.FromString("http") {
					t.Errorf("%s probe %+v, want GET %s on port http", p.name, p.probe, p.path)
				}
			}
			sp := m.Service.Spec.Ports
			if len(sp) != 1 || sp[0].TargetPort != intstr.FromString("http") || sp[0].Name != "http" {
				t.Errorf("service ports %+v", sp)
			}
			pod := m.Deployment.Spec.Template.Labels
			if !subset(m.Service.Spec.Selector, pod) || !subset(m.Deployment.Spec.Selector.MatchLabels, pod) {
				t.Errorf("selectors %v / %v do not select pod labels %v", m.Service.Spec.Selector, m.Deployment.Spec.Selector.MatchLabels, pod)
			}
			if m.ConfigMap.Name != "coffer" || m.Deployment.Name != "coffer" || m.Service.Name != "coffer" {
				t.Errorf("names %s %s %s", m.ConfigMap.Name, m.Deployment.Name, m.Service.Name)
			}

			// The data directory is the mounted volume.
			if cfg.get("coffer.data_dir") != "/data" {
				t.Errorf("data dir %v", cfg.get("coffer.data_dir"))
			}
			volumeMount(t, c, "/data")
			volumeMount(t, c, "/tmp")

			checkSecurity(t, m)
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources %+v", c.Resources)
			}
			if m.ServiceAccount == nil || m.ServiceAccount.AutomountServiceAccountToken == nil || *m.ServiceAccount.AutomountServiceAccountToken {
				t.Error("the service account must not mount an API token: Coffer never calls the Kubernetes API")
			}
		})
	}
}

func checkSecurity(t *testing.T, m *manifests) {
	t.Helper()
	ps := m.Deployment.Spec.Template.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532 ||
		ps.FSGroup == nil || *ps.FSGroup != 65532 || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", ps)
	}
	cs := m.coffer(t).SecurityContext
	if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
		cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation ||
		cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) != 0 ||
		cs.Privileged == nil || *cs.Privileged {
		t.Errorf("container security context %+v", cs)
	}
}

// TestSQLite: one replica, Recreate, a kept PersistentVolumeClaim at /data;
// and coffer run on the rendered configuration and environment listens on
// the container port, answers the probes' paths with 200, seals with the
// key from the Secret (no development key) and logs JSON.
func TestSQLite(t *testing.T) {
	port := freePort(t)
	m := mustRender(t, with(base(), "containerPort", port))
	cfg, env := m.load(t)
	if cfg.get("coffer.database") != nil || env["COFFER_DATABASE_DSN"] != "" {
		t.Errorf("SQLite deployment sets a database: %v %q", cfg.get("coffer.database"), env["COFFER_DATABASE_DSN"])
	}
	d := m.Deployment.Spec
	if *d.Replicas != 1 || d.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %d strategy %s", *d.Replicas, d.Strategy.Type)
	}
	vol := volume(t, m.Deployment, volumeMount(t, m.coffer(t), "/data").Name)
	if m.PVC == nil || vol.PersistentVolumeClaim == nil || vol.PersistentVolumeClaim.ClaimName != m.PVC.Name {
		t.Fatalf("/data is %+v, PVC %v", vol, m.PVC)
	}
	if m.PVC.Annotations["helm.sh/resource-policy"] != "keep" || m.PVC.Spec.Resources.Requests.Storage().String() != "1Gi" ||
		!slices.Equal(m.PVC.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		t.Errorf("PVC %+v", m.PVC)
	}
	if m.PDB != nil {
		t.Error("a PodDisruptionBudget for one replica blocks node drains")
	}

	p := m.start(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(url, p.done); err != nil {
		t.Fatalf("%v\n%s", err, p.logs.String())
	}
	c := m.coffer(t)
	for _, pr := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if code := get(t, url+pr.HTTPGet.Path); code != http.StatusOK {
			t.Errorf("probe GET %s: %d", pr.HTTPGet.Path, code)
		}
	}
	res, err := http.Post(url+"/apis/secrets/v2/workspaces/default/secrets", "application/json", strings.NewReader(`{"name":"hf-token","value":"hf_chart"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("create: %d", res.StatusCode)
	}
	p.stop()
	if _, err := os.Stat(filepath.Join(p.dataDir, "coffer.db")); err != nil {
		t.Errorf("no database in the data directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.dataDir, "nmp-encryption-key.txt")); !os.IsNotExist(err) {
		t.Errorf("a development key was created (%v): the Secret's key was not used", err)
	}
	logs := p.logs.String()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Errorf("log line is not JSON (logFormat json): %q", line)
		}
	}
	if want := "listen address 0.0.0.0:" + strconv.Itoa(port) + " comes from service.host and service.port"; !strings.Contains(logs, want) {
		t.Errorf("no %q in the log:\n%s", want, logs)
	}

	// An existing claim is used as is.
	m = mustRender(t, with(base(), "persistence", map[string]any{"existingClaim": "old-data"}))
	if m.PVC != nil || volume(t, m.Deployment, "data").PersistentVolumeClaim.ClaimName != "old-data" {
		t.Errorf("existingClaim: PVC %v, volume %+v", m.PVC, volume(t, m.Deployment, "data"))
	}
}

// TestPostgreSQL: the DSN from its Secret as COFFER_DATABASE_DSN, rolling
// updates that keep every replica until new ones are ready, a
// PodDisruptionBudget with more than one replica, no PVC.
func TestPostgreSQL(t *testing.T) {
	m := mustRender(t, postgres(3))
	cfg, env := m.load(t)
	if env["COFFER_DATABASE_DSN"] != secrets["coffer-db"]["dsn"] || cfg.get("coffer.database.max_open_conns") != float64(10) || cfg.get("coffer.database.dsn") != nil {
		t.Errorf("DSN %q, database settings %v", env["COFFER_DATABASE_DSN"], cfg.get("coffer.database"))
	}
	if strings.Contains(m.ConfigMap.Data["config.yaml"], "pw@") {
		t.Error("the DSN's password is in the ConfigMap")
	}
	d := m.Deployment.Spec
	if *d.Replicas != 3 || d.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		d.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("replicas %d strategy %+v", *d.Replicas, d.Strategy)
	}
	if m.PVC != nil || volume(t, m.Deployment, "data").EmptyDir == nil {
		t.Error("PostgreSQL replicas need no claim, only a writable /data")
	}
	if m.PDB == nil || m.PDB.Spec.MaxUnavailable.IntValue() != 1 || !subset(m.PDB.Spec.Selector.MatchLabels, m.Deployment.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget %+v", m.PDB)
	}
	if m := mustRender(t, postgres(1)); m.PDB != nil {
		t.Error("PodDisruptionBudget for one replica")
	}
	// coffer reads the DSN from the variable: started on the rendered
	// pod, it tries the Secret's server (unreachable here) and says so.
	out := m.start(t).exited(t)
	if !strings.Contains(out, "coffer.database.dsn: cannot open PostgreSQL: failed to connect to `user=coffer database=coffer`") || strings.Contains(out, ":pw@") {
		t.Errorf("startup on the rendered PostgreSQL pod:\n%s", out)
	}
}

// TestVault: the Transit provider in the configuration, its token from the
// Secret as VAULT_TOKEN, the CA certificate mounted where ca_cert points.
func TestVault(t *testing.T) {
	m := mustRender(t, vault())
	cfg, env := m.load(t)
	if cfg.get("secrets.encryption.current_provider") != "transit" || cfg.get("secrets.encryption.providers.secret_key") != nil {
		t.Fatalf("encryption %v", cfg.get("secrets.encryption"))
	}
	v, _ := cfg.get("secrets.encryption.providers.vault.transit").(map[string]any)
	if v["address"] != "http://127.0.0.1:1" || v["key_name"] != "nemo-platform-key" || v["mount"] != "transit" {
		t.Errorf("vault provider %v", v)
	}
	if env["VAULT_TOKEN"] != "hvs.test-token" {
		t.Errorf("VAULT_TOKEN %q", env["VAULT_TOKEN"])
	}
	caCert, _ := v["ca_cert"].(string)
	mount := volumeMount(t, m.coffer(t), filepath.Dir(caCert))
	vol := volume(t, m.Deployment, mount.Name)
	if vol.Secret == nil || vol.Secret.SecretName != "vault-ca" || len(vol.Secret.Items) != 1 || vol.Secret.Items[0].Path != filepath.Base(caCert) {
		t.Errorf("ca_cert %s, volume %+v", caCert, vol)
	}
	if _, ok := secrets[vol.Secret.SecretName][vol.Secret.Items[0].Key]; !ok {
		t.Errorf("CA volume key %s", vol.Secret.Items[0].Key)
	}

	// Without the CA (its file exists only in the pod), coffer started on
	// the rendered pod has its token from VAULT_TOKEN and tries Transit
	// at the address (unreachable here).
	noCA := vault()
	noCA["kek"].(map[string]any)["vault"].(map[string]any)["caCert"] = map[string]any{"existingSecret": ""}
	out := mustRender(t, noCA).start(t).exited(t)
	if !strings.Contains(out, "secrets.encryption.providers.vault.transit: Transit round trip failed") {
		t.Errorf("startup on the rendered Vault pod:\n%s", out)
	}
}

// TestVaultKubernetesAuth: with authMethod kubernetes there is no token
// Secret; Coffer logs in with a projected token of the release's service
// account (the API token itself stays unmounted), at the path its
// configuration reads.
func TestVaultKubernetesAuth(t *testing.T) {
	values := vault()
	v := values["kek"].(map[string]any)["vault"].(map[string]any)
	v["authMethod"] = "kubernetes"
	v["kubernetes"] = map[string]any{"role": "coffer", "audience": "vault"}
	v["token"] = map[string]any{"existingSecret": ""}
	v["caCert"] = map[string]any{"existingSecret": ""}
	m := mustRender(t, values)
	cfg, env := m.load(t)
	if _, ok := env["VAULT_TOKEN"]; ok {
		t.Error("VAULT_TOKEN set with Kubernetes auth")
	}
	p, _ := cfg.get("secrets.encryption.providers.vault.transit").(map[string]any)
	k, _ := p["kubernetes"].(map[string]any)
	tokenFile, _ := k["token_file"].(string)
	if p["auth_method"] != "kubernetes" || k["role"] != "coffer" || k["mount"] != "kubernetes" || tokenFile == "" {
		t.Fatalf("vault provider %v", p)
	}
	vol := volume(t, m.Deployment, volumeMount(t, m.coffer(t), filepath.Dir(tokenFile)).Name)
	if vol.Projected == nil || len(vol.Projected.Sources) != 1 || vol.Projected.Sources[0].ServiceAccountToken == nil {
		t.Fatalf("token volume %+v", vol)
	}
	sat := vol.Projected.Sources[0].ServiceAccountToken
	if sat.Path != filepath.Base(tokenFile) || sat.Audience != "vault" || sat.ExpirationSeconds == nil || *sat.ExpirationSeconds != 3600 {
		t.Errorf("projected token %+v, config reads %s", sat, tokenFile)
	}
	spec := m.Deployment.Spec.Template.Spec
	if spec.ServiceAccountName != m.ServiceAccount.Name || spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("service account %s (rendered %s), automount %v", spec.ServiceAccountName, m.ServiceAccount.Name, spec.AutomountServiceAccountToken)
	}
	// coffer accepts the configuration and goes for the login (the token
	// file exists only in the pod).
	out := m.start(t).exited(t)
	if !strings.Contains(out, "secrets.encryption.providers.vault.transit: kubernetes login failed") {
		t.Errorf("startup on the rendered pod:\n%s", out)
	}
}

func TestServiceMonitor(t *testing.T) {
	if m := mustRender(t, base()); m.ServiceMonitor != nil {
		t.Error("ServiceMonitor rendered without metrics.serviceMonitor.enabled")
	}
	m := mustRender(t, withMetrics(base()))
	sm := m.ServiceMonitor
	if sm == nil || len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor %+v", sm)
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != m.Service.Spec.Ports[0].Name || ep.Path != "/metrics" || !subset(sm.Spec.Selector.MatchLabels, m.Service.Labels) {
		t.Errorf("endpoint %+v selector %v, service %v", ep, sm.Spec.Selector.MatchLabels, m.Service.Labels)
	}
	if sm.Labels["release"] != "prom" {
		t.Errorf("labels %v", sm.Labels)
	}
}

// TestRefusedCombinations: what cannot work stops `helm install` with a
// message saying what to change.
func TestRefusedCombinations(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"sqlite with replicas", with(base(), "replicaCount", 2), "replicaCount > 1 needs database.type=postgres"},
		{"postgres without its Secret", with(postgres(2), "database", map[string]any{"type": "postgres"}), "database.postgres.existingSecret is required"},
		{"no key Secret", with(base(), "kek", map[string]any{"secretKey": map[string]any{"existingSecret": ""}}), "kek.secretKey.existingSecret is required"},
		{"vault without address", with(vault(), "kek", map[string]any{"provider": "vault", "vault": map[string]any{"address": ""}}), "kek.vault.address is required"},
		{"vault kubernetes auth without role", with(vault(), "kek", map[string]any{"provider": "vault", "vault": map[string]any{"address": "http://127.0.0.1:1", "authMethod": "kubernetes"}}), "kek.vault.kubernetes.role is required"},
		{"unknown database", with(base(), "database", map[string]any{"type": "mysql"}), `database.type must be sqlite or postgres, got "mysql"`},
		{"a misspelt value (schema)", with(base(), "replicas", 2), "additional properties 'replicas' not allowed"},
		{"a wrong log format (schema)", with(base(), "logFormat", "xml"), "logFormat"},
		{"coffer.listen in config", with(base(), "config", map[string]any{"coffer": map[string]any{"listen": "0.0.0.0:1"}}), "config.coffer.listen is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestConfigChangeRollsPods: the pod template carries a checksum of the
// configuration, so `helm upgrade` with new settings restarts the pods.
func TestConfigChangeRollsPods(t *testing.T) {
	a := mustRender(t, base()).Deployment.Spec.Template.Annotations["checksum/config"]
	b := mustRender(t, with(base(), "config", map[string]any{"secrets": map[string]any{"max_versions": 3}})).Deployment.Spec.Template.Annotations["checksum/config"]
	if a == "" || a == b {
		t.Errorf("checksums %q and %q", a, b)
	}
}

// TestNotesWarnWithoutAuth: the install notes say when anyone who reaches
// the Service can read values.
func TestNotesWarnWithoutAuth(t *testing.T) {
	const warning = "Authentication is off"
	if n := mustRender(t, base()).Notes; !strings.Contains(n, warning) || !strings.Contains(n, "http://coffer.nemo.svc:8080/apis/secrets/v2/") {
		t.Errorf("notes:\n%s", n)
	}
	on := with(base(), "config", map[string]any{"auth": map[string]any{"enabled": true}})
	if n := mustRender(t, on).Notes; strings.Contains(n, warning) {
		t.Errorf("notes with auth on:\n%s", n)
	}
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("no container port %s in %+v", name, c.Ports)
	return 0
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// with returns a copy of v with key set (a shallow copy is enough: the
// tests replace whole sections).
func with(v map[string]any, key string, value any) map[string]any {
	out := map[string]any{}
	for k, x := range v {
		out[k] = x
	}
	out[key] = value
	return out
}

func withMetrics(v map[string]any) map[string]any {
	return with(v, "metrics", map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}})
}

// cofferBin is coffer built from this repository by TestMain.
var cofferBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coffer-chart-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cofferBin = filepath.Join(dir, "coffer")
	build := exec.Command("go", "build", "-o", cofferBin, "./cmd/coffer")
	build.Dir = "../../.."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building coffer: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func get(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func waitReady(url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("coffer exited before it was ready")
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
