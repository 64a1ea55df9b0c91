package main

// Tests against a live `coffer serve` (see liveURL in cli_e2e_test.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/client"
)

// jsonOf checks that a command succeeded and decodes its JSON object.
func jsonOf(t *testing.T, res cliResult) map[string]any {
	t.Helper()
	res.expect(t, 0, "")
	var m map[string]any
	decodeJSON(t, res.stdout, &m)
	return m
}

// newWorkspace creates a workspace for one test through the Go client.
func newWorkspace(t *testing.T, url, name string) {
	t.Helper()
	if _, err := client.New(url).CreateWorkspace(context.Background(), client.WorkspaceCreate{Name: name}); err != nil {
		t.Fatalf("creating workspace %s: %v", name, err)
	}
}

// decodeJSON parses the CLI's JSON output into v.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
}

// accessValue reads a value back through `coffer secrets access -f json`.
func accessValue(t *testing.T, url, ws, name string) string {
	t.Helper()
	res := cli(t, url, nil, "secrets", "access", name, "--workspace", ws, "-f", "json")
	res.expect(t, 0, "")
	var v struct{ Value string }
	decodeJSON(t, res.stdout, &v)
	return v.Value
}

func TestLiveCreateReadsAndStripsValues(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-create"
	newWorkspace(t, url, ws)
	file := writeFile(t, "  from-a-file\n\n", 0o600)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"stdin with trailing newline", "from-stdin-value\n", []string{"--from-file", "-"}, "from-stdin-value"},
		{"file", "", []string{"--from-file", file}, "from-a-file"},
		{"flag", "", []string{"--value", " from-a-flag "}, "from-a-flag"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("k%d", i)
			args := append([]string{"secrets", "create", name, "--workspace", ws}, tt.args...)
			res := cli(t, url, strings.NewReader(tt.stdin), args...)
			res.expect(t, 0, "")
			if !strings.Contains(res.stdout, name) || strings.Contains(res.stdout, tt.want) {
				t.Errorf("create printed %q: want the metadata, never the value", res.stdout)
			}
			if got := accessValue(t, url, ws, name); got != tt.want {
				t.Errorf("stored value %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLiveSecretCommands(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-secrets"
	newWorkspace(t, url, ws)
	run := func(args ...string) cliResult {
		return cli(t, url, nil, append(args, "--workspace", ws)...)
	}

	res := run("secrets", "create", "api-key", "--value", "first-value", "--description", "d1", "-f", "json")
	res.expect(t, 0, "")
	var keys []string
	var created map[string]any
	decodeJSON(t, res.stdout, &created)
	for k := range created {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "created_at,current_version,description,etag,name,updated_at,workspace" || created["description"] != "d1" {
		t.Errorf("create -f json = %s", res.stdout)
	}
	if !strings.HasPrefix(res.stdout, "{\n  \"name\": \"api-key\",\n  \"workspace\": \"cli-secrets\",\n") {
		t.Errorf("JSON output is not the body indented by two spaces:\n%s", res.stdout)
	}

	res = run("secrets", "get", "api-key", "-f", "yaml")
	res.expect(t, 0, "")
	if !strings.HasPrefix(res.stdout, "name: api-key\nworkspace: cli-secrets\ndescription: d1\ncreated_at: ") {
		t.Errorf("get -f yaml =\n%s", res.stdout)
	}

	res = run("secrets", "get", "api-key")
	res.expect(t, 0, "")
	if !strings.HasPrefix(res.stdout, "name     workspace    description  created_at") || !strings.Contains(res.stdout, "api-key  cli-secrets  d1") {
		t.Errorf("get table =\n%s", res.stdout)
	}

	res = run("secrets", "update", "api-key", "--description", "", "-f", "json")
	res.expect(t, 0, "")
	if !strings.Contains(res.stdout, `"description": ""`) {
		t.Errorf("update --description \"\" = %s", res.stdout)
	}
	run("secrets", "update", "api-key").expect(t, 0, "")
	res = run("secrets", "update", "api-key", "--value", "second-value")
	res.expect(t, 0, "")
	if strings.Contains(res.stdout, "second-value") {
		t.Errorf("update printed the value: %s", res.stdout)
	}
	if got := accessValue(t, url, ws, "api-key"); got != "second-value" {
		t.Errorf("value after update = %q", got)
	}

	res = run("secrets", "access", "api-key", "-f", "table")
	res.expect(t, 0, "")
	if res.stdout != "name     workspace    value\napi-key  cli-secrets  second-value\n" {
		t.Errorf("access table = %q", res.stdout)
	}

	res = run("secrets", "delete", "api-key")
	res.expect(t, 0, "")
	if res.stdout != "✓ Deleted successfully\n" {
		t.Errorf("delete printed %q", res.stdout)
	}
	run("secrets", "get", "api-key").expect(t, 1, "Error: 404 Secret cli-secrets/api-key not found\n")
}

func TestLiveErrors(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-errors"
	newWorkspace(t, url, ws)
	cli(t, url, nil, "secrets", "create", "dup", "--workspace", ws, "--value", "dup-value").expect(t, 0, "")
	longDescription := strings.Repeat("x", 4097)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"409 duplicate", []string{"secrets", "create", "dup", "--workspace", ws, "--value", "dup-value"},
			"Error: 409 Secret 'cli-errors/dup' already exists\n"},
		{"422 list", []string{"secrets", "create", "Bad!", "--workspace", ws, "--value", "v", "--description", longDescription},
			"Error: 422 body.name: Value error, Invalid secret name 'Bad!'. Allowed characters: letters (a-z, A-Z), " +
				"digits (0-9), underscores, hyphens, and dots. Example: my-api-key\n" +
				"body.description: String should have at most 4096 characters\n" + hintSecretName + "\n"},
		{"422 string", []string{"secrets", "create", "kk", "--workspace", "no-such-ws", "--value", "v"},
			"Error: 422 Workspace 'no-such-ws' does not exist. Please create the workspace first.\n"},
		{"404 list", []string{"secrets", "list", "--workspace", "no-such-ws"}, "Error: 404 Workspace 'no-such-ws' not found\n"},
		{"404 access", []string{"secrets", "access", "nope", "--workspace", ws}, "Error: 404 Secret cli-errors/nope not found\n"},
		{"404 update", []string{"secrets", "update", "nope", "--workspace", ws, "--value", "v"}, "Error: 404 Secret cli-errors/nope not found\n"},
		{"404 delete", []string{"secrets", "delete", "nope", "--workspace", ws}, "Error: 404 Secret cli-errors/nope not found\n"},
		{"403 built-in workspace", []string{"workspaces", "delete", "default"}, "Error: 403 Cannot delete the built-in workspace 'default'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cli(t, url, nil, tt.args...)
			res.expect(t, 1, tt.want)
			if res.stdout != "" || strings.Contains(res.stderr, "dup-value") {
				t.Errorf("stdout %q, stderr %q: want no output and no value", res.stdout, res.stderr)
			}
		})
	}
}

func TestLiveListPages(t *testing.T) {
	url := liveURL(t)
	const ws, total = "cli-many", 105
	newWorkspace(t, url, ws)
	c := client.New(url)
	want := make([]string, total)
	for i := range want {
		want[i] = fmt.Sprintf("s%03d", i)
		if _, err := c.CreateSecret(context.Background(), ws, client.SecretCreate{Name: want[i], Value: "v"}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(args ...string) cliResult {
		return cli(t, url, nil, append([]string{"secrets", "list", "--workspace", ws}, args...)...)
	}

	res := list("--all-pages", "-f", "json")
	res.expect(t, 0, "")
	var items []struct{ Name string }
	decodeJSON(t, res.stdout, &items)
	var got []string
	for _, it := range items {
		got = append(got, it.Name)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("--all-pages listed %d secrets, want all %d", len(got), total)
	}

	res = list("--all-pages", "--page-size", "50")
	res.expect(t, 0, "")
	if lines := strings.Count(res.stdout, "\n"); lines != total+1 {
		t.Errorf("--all-pages table has %d lines, want a header and %d rows", lines, total)
	}
	if res = list("--all-pages", "-f", "yaml"); strings.Count(res.stdout, "- name: ") != total {
		t.Errorf("--all-pages yaml lists %d items", strings.Count(res.stdout, "- name: "))
	}

	res = list("-f", "json")
	res.expect(t, 0, morePagesHint+"\n")
	var page client.SecretPage
	decodeJSON(t, res.stdout, &page)
	if len(page.Data) != 10 || page.Pagination.TotalPages != 11 || page.Pagination.TotalResults != total {
		t.Errorf("first page = %+v with %d items", page.Pagination, len(page.Data))
	}
	if res = list("--page", "11"); res.stderr != "" || strings.Count(res.stdout, "\n") != 6 {
		t.Errorf("last page: stdout %q, stderr %q; want 5 rows and no hint", res.stdout, res.stderr)
	}

	newWorkspace(t, url, "cli-empty")
	res = cli(t, url, nil, "secrets", "list", "--workspace", "cli-empty", "--all-pages", "-f", "json")
	res.expect(t, 0, "")
	if res.stdout != "[]\n" {
		t.Errorf("empty --all-pages = %q", res.stdout)
	}
}

func TestLiveRotateEncryptionKeys(t *testing.T) {
	url := liveURL(t)
	res := cli(t, url, nil, "secrets", "admin", "rotate-encryption-keys", "-f", "json")
	res.expect(t, 0, "")
	var r client.RotationResult
	decodeJSON(t, res.stdout, &r)
	if !r.Success || r.FailedCount != 0 || r.RotatedSecrets != 0 {
		t.Errorf("rotation with every secret current = %s", res.stdout)
	}
	res = cli(t, url, nil, "secrets", "admin", "rotate-encryption-keys")
	res.expect(t, 0, "")
	if !strings.HasPrefix(res.stdout, "rotated_secrets  skipped_secrets  failed_count  success  rotated_versions  deleted_secrets_rotated\n0 ") {
		t.Errorf("rotation table = %q", res.stdout)
	}
}

// TestLiveEncryptionStatus: on a server that has only ever had the
// development key, every stored version is up to date, and the table says
// so in words.
func TestLiveEncryptionStatus(t *testing.T) {
	url := liveURL(t)
	newWorkspace(t, url, "cli-status")
	cli(t, url, nil, "secrets", "create", "status-key", "--value", "v1", "--workspace", "cli-status").expect(t, 0, "")
	cli(t, url, nil, "secrets", "update", "status-key", "--value", "v2", "--workspace", "cli-status").expect(t, 0, "")

	res := cli(t, url, nil, "secrets", "admin", "encryption-status", "-f", "json")
	res.expect(t, 0, "")
	var st client.EncryptionStatus
	decodeJSON(t, res.stdout, &st)
	if st.CurrentProvider != "" || !slices.Equal(st.Providers, []string{""}) || st.VersionsToRotate != 0 ||
		st.UnreadableVersions != 0 || len(st.Records) != 1 {
		t.Fatalf("status = %s", res.stdout)
	}
	r := st.Records[0]
	if !r.UpToDate || !r.ProviderConfigured || r.Format != 2 || r.CurrentVersions < 1 || r.KeptVersions < 1 ||
		r.TotalVersions != st.TotalVersions {
		t.Errorf("record = %+v, want the development key's, up to date, with the current and kept version of status-key", r)
	}

	res = cli(t, url, nil, "secrets", "admin", "encryption-status")
	res.expect(t, 0, "")
	for _, want := range []string{"current_provider   configured_providers", "(development key)", "up to date"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("status table lacks %q:\n%s", want, res.stdout)
		}
	}
	cli(t, url, nil, "secrets", "admin", "encryption-status", "--workspace", "ml").
		expect(t, 2, "encryption-status counts every workspace; --workspace does not apply\n")
}

func TestLiveWorkspaceCommands(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-ws"
	run := func(args ...string) cliResult { return cli(t, url, nil, args...) }

	created := jsonOf(t, run("workspaces", "create", ws, "--description", "first", "-f", "json"))
	if id, _ := created["id"].(string); !strings.HasPrefix(id, "workspace-") || created["description"] != "first" {
		t.Errorf("create = %v", created)
	}
	run("workspaces", "create", ws).expect(t, 1, "Error: 409 Workspace 'cli-ws' already exists\n")
	if got := jsonOf(t, run("workspaces", "get", ws, "-f", "json")); got["id"] != created["id"] {
		t.Errorf("get = %v", got)
	}
	if got := jsonOf(t, run("workspaces", "update", ws, "--description", "second", "-f", "json")); got["description"] != "second" {
		t.Errorf("update = %v", got)
	}

	res := run("workspaces", "list", "--all-pages", "--sort", "created_at", "-f", "json")
	res.expect(t, 0, "")
	var all []client.Workspace
	decodeJSON(t, res.stdout, &all)
	names := map[string]bool{}
	for _, w := range all {
		names[w.Name] = true
	}
	if !names["default"] || !names["system"] || !names[ws] {
		t.Errorf("workspaces list --all-pages = %v", names)
	}

	res = run("workspaces", "delete", ws, "-f", "json")
	res.expect(t, 0, "")
	if res.stdout != "{\n  \"message\": \"Workspace marked for deletion\",\n  \"id\": \"cli-ws\",\n  \"deleted_count\": 1\n}\n" {
		t.Errorf("delete = %q", res.stdout)
	}
	run("workspaces", "get", ws).expect(t, 1, "Error: 404 Workspace 'cli-ws' not found\n")
}

func TestLiveMemberCommands(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-members"
	newWorkspace(t, url, ws)
	run := func(args ...string) cliResult { return cli(t, url, nil, args...) }
	if m := jsonOf(t, run("workspaces", "members", "add", ws, "alice", "-f", "json")); fmt.Sprint(m["roles"]) != "[Editor]" {
		t.Errorf("add without --role = %v", m)
	}
	if m := jsonOf(t, run("workspaces", "members", "add", ws, "bob", "--role", "Viewer", "--role", "Admin", "-f", "json")); fmt.Sprint(m["roles"]) != "[Viewer Admin]" {
		t.Errorf("add with roles = %v", m)
	}
	if m := jsonOf(t, run("workspaces", "members", "set", ws, "alice", "--role", "Viewer", "-f", "json")); fmt.Sprint(m["roles"]) != "[Viewer]" {
		t.Errorf("set = %v", m)
	}
	res := run("workspaces", "members", "list", ws)
	res.expect(t, 0, "")
	if !strings.HasPrefix(res.stdout, "principal  roles") || !strings.Contains(res.stdout, "alice") || !strings.Contains(res.stdout, "Viewer,Admin") {
		t.Errorf("members list =\n%s", res.stdout)
	}
	run("workspaces", "members", "remove", ws, "bob").expect(t, 1, "Error: 409 Cannot remove member 'bob'. "+
		"This is the last Admin for workspace 'cli-members'. Add another Admin before removing this member.\n")
	if m := jsonOf(t, run("workspaces", "members", "remove", ws, "alice", "-f", "json")); m["message"] != "Member removed from workspace 'cli-members'" {
		t.Errorf("remove = %v", m)
	}

	run("workspaces", "members", "add", ws, "carol", "--role", "Boss").expect(t, 1,
		"Error: 422 body.roles.0: Value error, Unknown role 'Boss'. Allowed roles: Viewer, Editor, Admin, PlatformAdmin\n")
}
