package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/server"
)

// The reference's format-1 vector (docs/crypto.md §5), exported as an entity
// record, and its key.
const (
	refKEK     = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	otherKEK   = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
	refData    = "IiIiIiIiIiIiIiIif5FYLLiu8i+JWoFIJ82Mu+D2SmU0SY5IaJAybcPlbWs="
	refWrapped = "MzMzMzMzMzMzMzMzMzMzM0RERERERERERERERNbp3AiTc6a4K5rcbj+pKKIK66bgucSu3W5Air0j2wKSLrn07NBeYKpOo1F77KZ9iao7FPKe/QO2FvdO5Q=="
)

func entityLine(ws, name, provider string) string {
	return `{"entity_type":"platform_secret","workspace":"` + ws + `","name":"` + name + `","created_at":"2025-01-02T03:04:05.5","data":{"description":"imported","_data":"` +
		refData + `","_encrypted_dek":"` + refWrapped + `","_secret_provider":"` + provider + `"}}`
}

func importEnv(dir string) []string {
	return []string{
		"COFFER_DATA_DIR=" + dir,
		`NMP_SECRETS_ENCRYPTION={"current_provider":"new","providers":{"secret_key":{"v1":{"value":"` + refKEK + `"},"new":{"value":"` + otherKEK + `"}}}}`,
	}
}

// openService opens the data directory in-process with importEnv's
// configuration, as `coffer serve` would.
func openService(t *testing.T, dir string) (*secrets.Service, func() error) {
	t.Helper()
	env := map[string]string{}
	for _, kv := range importEnv(dir) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Load(config.Flags{}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	svc, closeStore, err := server.OpenService(context.Background(), cfg, server.NewLogger(cfg.Coffer.Log, io.Discard), lookup)
	if err != nil {
		t.Fatal(err)
	}
	return svc, closeStore
}

// accessAll opens the imported data directory in-process and reads values.
func accessAll(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	svc, closeStore := openService(t, dir)
	defer closeStore()
	var out []string
	for _, n := range names {
		ws, name, _ := strings.Cut(n, "/")
		v, _, err := svc.AccessSecret(context.Background(), ws, name, 0)
		if err != nil {
			v = "error: " + err.Error()
		}
		out = append(out, v)
	}
	return out
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, entityLine("ml", "hf-token", "v1")+"\n"+
		entityLine("ml", "lost-key", "gone")+"\n"+
		`{"data":[`+entityLine("default", "from-page", "v1")+`]}`+"\n"+
		entityLine("ml", "Bad Name", "v1")+"\n", 0o600)
	env := importEnv(dir)

	dry := cliEnv(t, env, nil, "import", "--dry-run", file)
	dry.expect(t, 1, "")
	if dry.stdout != "ml/lost-key: provider 'gone' is not configured\nml/Bad Name: invalid secret name\nimported 2, skipped 0, failed 2\n" {
		t.Errorf("dry run output %q", dry.stdout)
	}
	if got := accessAll(t, dir, "ml/hf-token"); got[0] != "error: Secret ml/hf-token not found" {
		t.Errorf("dry run wrote: %v", got)
	}

	res := cliEnv(t, env, nil, "import", file)
	res.expect(t, 1, "")
	if res.stdout != "ml/lost-key: provider 'gone' is not configured\nml/Bad Name: invalid secret name\nimported 2, skipped 0, failed 2\n" {
		t.Errorf("import output %q", res.stdout)
	}
	if got := strings.Join(accessAll(t, dir, "ml/hf-token", "default/from-page", "ml/lost-key"), "|"); got != "hf_example_token|hf_example_token|error: Secret ml/lost-key not found" {
		t.Errorf("after import: %s", got)
	}

	again := cliEnv(t, env, strings.NewReader(entityLine("ml", "hf-token", "v1")+"\n"), "import", "-")
	again.expect(t, 0, "")
	if again.stdout != "ml/hf-token: already exists\nimported 0, skipped 1, failed 0\n" {
		t.Errorf("second import output %q", again.stdout)
	}
	replace := cliEnv(t, env, strings.NewReader(entityLine("ml", "hf-token", "v1")+"\n"), "import", "--replace", "-")
	replace.expect(t, 0, "")
	if replace.stdout != "imported 1, skipped 0, failed 0\n" {
		t.Errorf("replace output %q", replace.stdout)
	}
}

// TestImportWhileServing: `coffer import` may run while the server has the
// same SQLite file open (docs/import.md). The server must then answer with
// the imported state at once, although it had read the old state just before
// (its read cache must not hide another process's writes).
func TestImportWhileServing(t *testing.T) {
	dir := t.TempDir()
	svc, closeStore := openService(t, dir)
	defer closeStore()
	ctx := context.Background()
	if _, err := svc.CreateWorkspace(ctx, "ml", nil, nil, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateSecret(ctx, "ml", secrets.NewSecret{Name: "hf-token", Value: "old-value"}, nil); err != nil {
		t.Fatal(err)
	}
	listNames := func() string {
		t.Helper()
		items, _, err := svc.ListSecrets(ctx, "ml", secrets.ListOptions{Page: 1, PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, it := range items {
			names = append(names, it.Name)
		}
		return strings.Join(names, ",")
	}
	for range 2 { // read twice: the second read is the cached one
		if v, _, err := svc.AccessSecret(ctx, "ml", "hf-token", 0); err != nil || v != "old-value" {
			t.Fatalf("before import: %q, %v", v, err)
		}
		if got := listNames(); got != "hf-token" {
			t.Fatalf("before import: list %q", got)
		}
	}

	in := entityLine("ml", "hf-token", "v1") + "\n" + entityLine("ml", "wandb-key", "v1") + "\n"
	res := cliEnv(t, importEnv(dir), strings.NewReader(in), "import", "--replace", "-")
	res.expect(t, 0, "")

	if v, _, err := svc.AccessSecret(ctx, "ml", "hf-token", 0); err != nil || v != "hf_example_token" {
		t.Errorf("after import: %q, %v; want the imported value", v, err)
	}
	// The replaced value is not lost: it stays version 1 (docs/lifecycle.md).
	if v, _, err := svc.AccessSecret(ctx, "ml", "hf-token", 1); err != nil || v != "old-value" {
		t.Errorf("after import, version 1: %q, %v; want the replaced value", v, err)
	}
	if got := listNames(); got != "wandb-key,hf-token" && got != "hf-token,wandb-key" {
		t.Errorf("after import: list %q, want both secrets", got)
	}
}

// TestImportReportsInInputOrder: records are imported by several workers at
// once, but the report lists the skipped and failed records in the order of
// the file, and the counts cover every record.
func TestImportReportsInInputOrder(t *testing.T) {
	dir := t.TempDir()
	var in, want strings.Builder
	for i := range 300 {
		name := fmt.Sprintf("s%03d", i)
		switch i % 7 {
		case 3:
			name = fmt.Sprintf("Bad Name %03d", i)
			fmt.Fprintf(&want, "ml/%s: invalid secret name\n", name)
		case 5:
			fmt.Fprintf(&want, "ml/%s: provider 'gone' is not configured\n", name)
			in.WriteString(entityLine("ml", name, "gone") + "\n")
			continue
		}
		in.WriteString(entityLine("ml", name, "v1") + "\n")
	}
	want.WriteString("imported 214, skipped 0, failed 86\n")
	res := cliEnv(t, importEnv(dir), strings.NewReader(in.String()), "import", "-")
	res.expect(t, 1, "")
	if res.stdout != want.String() {
		t.Errorf("report:\n%s\nwant:\n%s", res.stdout, want.String())
	}
	again := cliEnv(t, importEnv(dir), strings.NewReader(in.String()), "import", "-")
	if !strings.HasSuffix(again.stdout, "imported 0, skipped 214, failed 86\n") {
		t.Errorf("second run: %q", again.stdout[max(0, len(again.stdout)-80):])
	}
}

// TestImportProgressOnATerminal: with stderr on a terminal, a progress line
// (records, share of the file, rate) is drawn and erased before the report
// lines and the summary.
func TestImportProgressOnATerminal(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, entityLine("ml", "hf-token", "v1")+"\n"+entityLine("ml", "lost-key", "gone")+"\n", 0o600)
	got, code := onTerminal(t, importEnv(dir), "import", file)
	if code != 1 || !strings.Contains(got, "import: 1 (") || !strings.Contains(got, "% of the input)") ||
		!strings.Contains(got, "\r\x1b[Kml/lost-key: provider 'gone' is not configured") ||
		!strings.HasSuffix(got, "\r\x1b[Kimported 1, skipped 0, failed 1\r\n") {
		t.Errorf("status %d, terminal got %q", code, got)
	}
}
