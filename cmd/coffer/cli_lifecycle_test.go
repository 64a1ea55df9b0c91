package main

// End-to-end tests of the lifecycle commands (docs/lifecycle.md): the
// refusals against a tripwire, everything else against the live server.

import (
	"fmt"
	"strings"
	"testing"
)

func TestDestructiveCommandsNeedConfirmation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		what string
	}{
		{"destroy-version", []string{"secrets", "destroy-version", "k", "2"}, "destroy version 2 of secret default/k"},
		{"deleted purge", []string{"secrets", "deleted", "purge", "abc", "--workspace", "w"}, "erase deleted secret abc from workspace w"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" refused without a terminal", func(t *testing.T) {
			res := cli(t, tripwire(t), strings.NewReader("yes\n"), tt.args...)
			res.expect(t, 2, "Refusing to permanently "+tt.what+" without confirmation: stdin is not a terminal. Pass --yes to confirm.\n")
			if res.stdout != "" {
				t.Errorf("stdout = %q", res.stdout)
			}
		})
		t.Run(tt.name+" declined on a terminal", func(t *testing.T) {
			// /dev/null counts as a terminal and answers nothing, which is no.
			res := cli(t, tripwire(t), nil, tt.args...)
			res.expect(t, 1, "Permanently "+tt.what+"? This cannot be undone. [y/N] \nAborted: nothing was changed.\n")
		})
	}
}

func TestLifecycleUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // "" when cobra words it
	}{
		{"version not a number", []string{"secrets", "destroy-version", "k", "two", "--yes"},
			`N must be a version number (an integer of at least 1), not "two"` + "\n"},
		{"access version 0", []string{"secrets", "access", "k", "--version", "0"},
			`--version must be a version number (an integer of at least 1), not "0"` + "\n"},
		{"restore without version", []string{"secrets", "restore", "k"}, ""},
		{"destroy without version", []string{"secrets", "destroy-version", "k"}, ""},
		{"empty new name", []string{"secrets", "deleted", "restore", "id", "--name", ""},
			"--name must not be empty; leave it out to restore under the old name\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cli(t, tripwire(t), nil, tt.args...)
			res.expect(t, 2, tt.want)
			if res.stderr == "" {
				t.Error("no message on stderr")
			}
		})
	}
}

// liveRun runs the CLI against the live server in workspace ws.
func liveRun(t *testing.T, url, ws string) func(args ...string) cliResult {
	return func(args ...string) cliResult {
		t.Helper()
		return cli(t, url, nil, append(args, "--workspace", ws)...)
	}
}

// versionStates lists `secrets versions` as "number:state" pairs.
func versionStates(t *testing.T, run func(...string) cliResult, name string, extra ...string) string {
	t.Helper()
	var page struct {
		Data []struct {
			Version int64
			State   string
		}
		Pagination struct {
			TotalResults int `json:"total_results"`
		}
	}
	res := run(append([]string{"secrets", "versions", name, "-f", "json"}, extra...)...)
	res.expect(t, 0, "")
	decodeJSON(t, res.stdout, &page)
	var pairs []string
	for _, v := range page.Data {
		pairs = append(pairs, fmt.Sprintf("%d:%s", v.Version, v.State))
	}
	if page.Pagination.TotalResults != len(page.Data) {
		t.Errorf("total_results %d for %d versions", page.Pagination.TotalResults, len(page.Data))
	}
	return strings.Join(pairs, ",")
}

// currentVersion reads current_version and etag through `secrets get -f json`.
func currentVersion(t *testing.T, run func(...string) cliResult, name string) (float64, string) {
	t.Helper()
	m := jsonOf(t, run("secrets", "get", name, "-f", "json"))
	v, _ := m["current_version"].(float64)
	etag, _ := m["etag"].(string)
	return v, etag
}

func TestLiveVersionCommands(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-versions"
	newWorkspace(t, url, ws)
	run := liveRun(t, url, ws)
	run("secrets", "create", "api-key", "--value", "value-1").expect(t, 0, "")
	run("secrets", "update", "api-key", "--value", "value-2").expect(t, 0, "")
	run("secrets", "update", "api-key", "--value", "value-3").expect(t, 0, "")
	run("secrets", "update", "api-key", "--description", "no new version").expect(t, 0, "")

	if got := versionStates(t, run, "api-key"); got != "3:enabled,2:enabled,1:enabled" {
		t.Errorf("versions = %s, want newest first", got)
	}
	if got := versionStates(t, run, "api-key", "--sort", "version"); got != "1:enabled,2:enabled,3:enabled" {
		t.Errorf("versions --sort version = %s", got)
	}
	res := run("secrets", "versions", "api-key")
	res.expect(t, 0, "")
	if !strings.HasPrefix(res.stdout, "version  state    created_at") || strings.Count(res.stdout, "\n") != 4 {
		t.Errorf("versions table =\n%s", res.stdout)
	}
	res = run("secrets", "versions", "api-key", "--page-size", "2")
	res.expect(t, 0, morePagesHint+"\n")

	if got := accessValue(t, url, ws, "api-key"); got != "value-3" {
		t.Errorf("access = %q", got)
	}
	res = run("secrets", "access", "api-key", "--version", "1")
	res.expect(t, 0, "")
	if res.stdout != "value-1" {
		t.Errorf("access --version 1 = %q", res.stdout)
	}
	run("secrets", "access", "api-key", "--version", "9").expect(t, 1, "Error: 404 Secret cli-versions/api-key version 9 not found\n")

	res = run("secrets", "get", "api-key")
	res.expect(t, 0, "")
	if !strings.Contains(res.stdout, "current_version  etag") || !strings.Contains(res.stdout, `  3                "`) {
		t.Errorf("get table =\n%s", res.stdout)
	}
	if v, etag := currentVersion(t, run, "api-key"); v != 3 || !strings.HasPrefix(etag, `"`) {
		t.Errorf("get -f json: current_version %v, etag %q", v, etag)
	}

	m := jsonOf(t, run("secrets", "restore", "api-key", "--version", "1", "-f", "json"))
	if m["current_version"] != float64(4) || m["etag"] == nil || m["name"] != "api-key" {
		t.Errorf("restore -f json = %v", m)
	}
	if got := accessValue(t, url, ws, "api-key"); got != "value-1" {
		t.Errorf("access after restoring version 1 = %q", got)
	}
	run("secrets", "restore", "api-key", "--version", "7").expect(t, 1, "Error: 404 Secret cli-versions/api-key version 7 not found\n")

	res = cli(t, url, strings.NewReader("y\n"), "secrets", "destroy-version", "api-key", "2", "--workspace", ws)
	res.expect(t, 2, "")
	if got := versionStates(t, run, "api-key"); got != "4:enabled,3:enabled,2:enabled,1:enabled" {
		t.Errorf("a refused destroy changed the versions: %s", got)
	}
	res = run("secrets", "destroy-version", "api-key", "2", "--yes")
	res.expect(t, 0, "")
	if res.stdout != "✓ Destroyed version 2\n" {
		t.Errorf("destroy-version printed %q", res.stdout)
	}
	if got := versionStates(t, run, "api-key"); got != "4:enabled,3:enabled,2:destroyed,1:enabled" {
		t.Errorf("versions after destroying 2 = %s", got)
	}
	run("secrets", "access", "api-key", "--version", "2").expect(t, 1, "Error: 404 Secret cli-versions/api-key version 2 not found\n")
	run("secrets", "destroy-version", "api-key", "4", "-y").expect(t, 1,
		"Error: 409 Cannot destroy the current version 4 of secret cli-versions/api-key; update or delete the secret instead\n")
	run("secrets", "versions", "nope").expect(t, 1, "Error: 404 Secret cli-versions/nope not found\n")
}

func TestLiveIfMatch(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-if-match"
	newWorkspace(t, url, ws)
	run := liveRun(t, url, ws)
	const changed = "Error: 412 Precondition failed: secret cli-if-match/api-key has changed\n"
	created := jsonOf(t, run("secrets", "create", "api-key", "--value", "v1", "-f", "json"))
	first, _ := created["etag"].(string)
	if _, etag := currentVersion(t, run, "api-key"); etag != first || first == "" {
		t.Fatalf("create etag %q, get etag %q", first, etag)
	}

	updated := jsonOf(t, run("secrets", "update", "api-key", "--value", "v2", "--if-match", first, "-f", "json"))
	second, _ := updated["etag"].(string)
	if second == "" || second == first {
		t.Errorf("etag after update %q, before %q", second, first)
	}
	res := run("secrets", "update", "api-key", "--value", "lost-update", "--if-match", first)
	res.expect(t, 1, changed)
	if res.stdout != "" || strings.Contains(res.stderr, "lost-update") {
		t.Errorf("stdout %q, stderr %q", res.stdout, res.stderr)
	}
	if got := accessValue(t, url, ws, "api-key"); got != "v2" {
		t.Errorf("value after a failed conditional update = %q", got)
	}
	run("secrets", "restore", "api-key", "--version", "1", "--if-match", first).expect(t, 1, changed)
	run("secrets", "destroy-version", "api-key", "1", "--yes", "--if-match", first).expect(t, 1, changed)
	run("secrets", "delete", "api-key", "--if-match", first).expect(t, 1, changed)

	// A tag typed without its quotes (a shell eats them) still matches.
	unquoted := strings.Trim(second, `"`)
	run("secrets", "update", "api-key", "--description", "d", "--if-match", unquoted).expect(t, 0, "")
	_, third := currentVersion(t, run, "api-key")
	run("secrets", "delete", "api-key", "--if-match", third).expect(t, 0, "")
	run("secrets", "delete", "api-key", "--if-match", "*").expect(t, 1, "")
}

// deletedEntry is what the recycle-bin tests read of `deleted list -f json`.
type deletedEntry struct {
	ID             string
	Name           string
	Description    string
	CurrentVersion int64 `json:"current_version"`
}

func deletedList(t *testing.T, run func(...string) cliResult, extra ...string) []deletedEntry {
	t.Helper()
	var page struct{ Data []deletedEntry }
	res := run(append([]string{"secrets", "deleted", "list", "-f", "json"}, extra...)...)
	res.expect(t, 0, "")
	decodeJSON(t, res.stdout, &page)
	return page.Data
}

func names(entries []deletedEntry) string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	return strings.Join(out, ",")
}

func TestLiveRecycleBin(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-bin"
	newWorkspace(t, url, ws)
	run := liveRun(t, url, ws)
	run("secrets", "create", "alpha", "--value", "alpha-first", "--description", "first A").expect(t, 0, "")
	if res := run("secrets", "delete", "alpha"); res.code != 0 || res.stdout != "✓ Deleted successfully\n" {
		t.Errorf("delete: status %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	run("secrets", "create", "alpha", "--value", "alpha-second").expect(t, 0, "")
	run("secrets", "update", "alpha", "--value", "alpha-second-2").expect(t, 0, "")
	run("secrets", "delete", "alpha").expect(t, 0, "")
	run("secrets", "create", "beta", "--value", "b-value", "--description", "the B").expect(t, 0, "")
	run("secrets", "delete", "beta").expect(t, 0, "")

	bin := deletedList(t, run)
	if names(bin) != "beta,alpha,alpha" || bin[1].CurrentVersion != 2 || bin[2].Description != "first A" {
		t.Fatalf("deleted list = %+v, want beta, alpha, alpha newest deletion first", bin)
	}
	bID, aNewID, aOldID := bin[0].ID, bin[1].ID, bin[2].ID
	if got := names(deletedList(t, run, "--filter-name", "ALPHA")); got != "alpha,alpha" {
		t.Errorf("deleted list --filter-name ALPHA = %s", got)
	}
	if got := names(deletedList(t, run, "--search", "the b")); got != "beta" {
		t.Errorf("deleted list --search = %s", got)
	}
	if got := names(deletedList(t, run, "--sort", "name")); got != "alpha,alpha,beta" {
		t.Errorf("deleted list --sort name = %s", got)
	}
	res := run("secrets", "deleted", "list")
	res.expect(t, 0, "")
	if !strings.HasPrefix(res.stdout, "id ") || !strings.Contains(res.stdout, "current_version  deleted_at") || !strings.Contains(res.stdout, bID) {
		t.Errorf("deleted list table =\n%s", res.stdout)
	}

	m := jsonOf(t, run("secrets", "deleted", "restore", aNewID, "-f", "json"))
	if m["name"] != "alpha" || m["current_version"] != float64(2) || m["etag"] == nil {
		t.Errorf("deleted restore = %v", m)
	}
	if got := accessValue(t, url, ws, "alpha"); got != "alpha-second-2" {
		t.Errorf("restored alpha = %q", got)
	}
	run("secrets", "deleted", "restore", aOldID).expect(t, 1, "Error: 409 Secret 'cli-bin/alpha' already exists\n")
	res = run("secrets", "deleted", "restore", aOldID, "--name", "alpha-old")
	res.expect(t, 0, "")
	if !strings.Contains(res.stdout, "alpha-old") || strings.Contains(res.stdout, "alpha-first") {
		t.Errorf("restore --name printed %q", res.stdout)
	}
	if got := accessValue(t, url, ws, "alpha-old"); got != "alpha-first" {
		t.Errorf("alpha restored as alpha-old = %q", got)
	}

	res = cli(t, url, strings.NewReader("y\n"), "secrets", "deleted", "purge", bID, "--workspace", ws)
	res.expect(t, 2, "")
	run("secrets", "deleted", "purge", bID, "--yes").expect(t, 0, "")
	if got := deletedList(t, run); len(got) != 0 {
		t.Errorf("bin after restoring both alphas and purging beta = %+v", got)
	}
	run("secrets", "deleted", "purge", bID, "--yes").expect(t, 1, "Error: 404 Deleted secret "+bID+" not found\n")
	run("secrets", "deleted", "restore", bID).expect(t, 1, "Error: 404 Deleted secret "+bID+" not found\n")
}

func TestLiveListQueries(t *testing.T) {
	url := liveURL(t)
	const ws = "cli-query"
	newWorkspace(t, url, ws)
	run := liveRun(t, url, ws)
	for _, s := range [][2]string{{"prod-db", "Postgres main"}, {"prod-api", "HF token"}, {"dev-db", "postgres for dev"}} {
		run("secrets", "create", s[0], "--value", "v", "--description", s[1]).expect(t, 0, "")
	}
	list := func(args ...string) string {
		t.Helper()
		var page struct{ Data []struct{ Name string } }
		res := run(append([]string{"secrets", "list", "-f", "json"}, args...)...)
		res.expect(t, 0, "")
		decodeJSON(t, res.stdout, &page)
		var out []string
		for _, s := range page.Data {
			out = append(out, s.Name)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--sort", "name"}, "dev-db,prod-api,prod-db"},
		{[]string{"--sort", "-name"}, "prod-db,prod-api,dev-db"},
		{[]string{"--sort", "name", "--filter-name", "prod-%"}, "prod-api,prod-db"},
		{[]string{"--filter-name", "PROD-_B"}, "prod-db"},
		{[]string{"--filter-name", "db"}, ""},
		{[]string{"--sort", "name", "--search", "POSTGRES"}, "dev-db,prod-db"},
		{[]string{"--search", "api"}, "prod-api"},
		{[]string{"--sort", "name", "--search", "db", "--filter-name", "dev%"}, "dev-db"},
	}
	for _, tt := range tests {
		if got := list(tt.args...); got != tt.want {
			t.Errorf("list %v = %q, want %q", tt.args, got, tt.want)
		}
	}
	res := run("secrets", "list", "--sort", "name", "--all-pages", "--page-size", "1", "--filter-name", "prod%", "-f", "json")
	res.expect(t, 0, "")
	if strings.Count(res.stdout, `"name"`) != 2 {
		t.Errorf("--all-pages with a filter =\n%s", res.stdout)
	}
	res = run("secrets", "list", "--sort", "size")
	res.expect(t, 1, "")
	if !strings.HasPrefix(res.stderr, "Error: 422 query.sort: Input should be ") {
		t.Errorf("bad --sort: stderr %q", res.stderr)
	}
}
