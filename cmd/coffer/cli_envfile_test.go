package main

// End-to-end tests of secrets export and import-env (docs/cli.md, "Dotenv
// files") against the live server.

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// userToken is an unsigned token for sub on authLive (which accepts them,
// as a development setup without an identity provider would).
func userToken(sub string) string {
	enc := base64.RawURLEncoding.EncodeToString
	now := time.Now().Unix()
	claims := fmt.Sprintf(`{"sub":%q,"iat":%d,"exp":%d}`, sub, now-10, now+600)
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "."
}

func TestLiveDotenvRoundTrip(t *testing.T) {
	url := liveURL(t)
	newWorkspace(t, url, "env-src")
	newWorkspace(t, url, "env-dst")
	src, dst := liveRun(t, url, "env-src"), liveRun(t, url, "env-dst")
	// The server strips nothing, but the CLI strips --from-file values, so
	// the awkward values go in through import-env itself; awkwardValues[1]
	// is empty, which the server refuses.
	var file strings.Builder
	want := map[string]string{}
	for i, v := range awkwardValues {
		if v == "" || strings.TrimSpace(v) == "" {
			continue
		}
		q, err := formatDotenvValue(v)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("awkward-%02d", i)
		want[name] = v
		file.WriteString(envKeyOf(name) + "=" + q + "\n")
	}
	path := writeFile(t, file.String(), 0o600)
	res := src("secrets", "import-env", path)
	res.expect(t, 0, "")
	if !strings.HasSuffix(res.stdout, fmt.Sprintf("import-env: %d created, 0 updated, 0 skipped, 0 failed in ", len(want))) &&
		!strings.Contains(res.stdout, fmt.Sprintf("import-env: %d created, 0 updated, 0 skipped, 0 failed in ", len(want))) {
		t.Errorf("summary: %q", res.stdout)
	}
	for name, v := range want {
		if got := accessValue(t, url, "env-src", name); got != v {
			t.Errorf("%s stored as %.40q, want %.40q", name, got, v)
		}
	}

	// export | import-env into another workspace gives the same values.
	exported := src("secrets", "export")
	exported.expect(t, 0, "")
	if !strings.HasPrefix(exported.stdout, fmt.Sprintf("# coffer secrets export: workspace env-src, %d secrets\n", len(want))) {
		t.Errorf("export header: %.80q", exported.stdout)
	}
	res = cli(t, url, strings.NewReader(exported.stdout), "secrets", "import-env", "-", "--workspace", "env-dst")
	res.expect(t, 0, "")
	for name, v := range want {
		if got := accessValue(t, url, "env-dst", name); got != v {
			t.Errorf("after export | import-env, %s = %.40q, want %.40q", name, got, v)
		}
	}
	// The JSON export carries the same values, and nothing is on stderr.
	var items []exportedSecret
	res = dst("secrets", "export", "-f", "json")
	res.expect(t, 0, "")
	decodeJSON(t, res.stdout, &items)
	if len(items) != len(want) {
		t.Fatalf("json export has %d items, want %d", len(items), len(want))
	}
	for _, it := range items {
		if want[it.Name] != it.Value {
			t.Errorf("json export of %s = %.40q", it.Name, it.Value)
		}
	}
}

func TestLiveImportEnvOutcomes(t *testing.T) {
	url := liveURL(t)
	newWorkspace(t, url, "env-outcomes")
	run := liveRun(t, url, "env-outcomes")
	run("secrets", "create", "existing", "--value", "old-value").expect(t, 0, "")
	file := writeFile(t, "EXISTING=new-value\nNEW_KEY=fresh-value\n_BAD=never-sent\nX=short-name-value\nEMPTY=\n", 0o600)

	res := run("secrets", "import-env", file)
	res.expect(t, 1, "")
	wantOut := "skipped  existing (EXISTING): exists (--update replaces its value)\ncreated  new-key (NEW_KEY)\n"
	if !strings.HasPrefix(res.stdout, wantOut) || !strings.Contains(res.stdout, "import-env: 1 created, 0 updated, 1 skipped, 3 failed in ") {
		t.Errorf("stdout = %q", res.stdout)
	}
	for _, want := range []string{
		"failed   -bad (_BAD, line 3): not a valid secret name (Secret names are 2 to 63",
		"failed   x (X, line 4): not a valid secret name",
		"failed   empty (EMPTY, line 5): 422 ",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	for _, v := range []string{"new-value", "fresh-value", "never-sent", "short-name-value"} {
		if strings.Contains(res.stdout+res.stderr, v) {
			t.Errorf("a value (%s) was printed", v)
		}
	}
	if got := accessValue(t, url, "env-outcomes", "existing"); got != "old-value" {
		t.Errorf("skipped secret changed to %q", got)
	}

	res = run("secrets", "import-env", writeFile(t, "EXISTING=new-value\nNEW_KEY=fresh-value\n", 0o600), "--update")
	res.expect(t, 0, "")
	if !strings.HasPrefix(res.stdout, "updated  existing (EXISTING)\nupdated  new-key (NEW_KEY)\nimport-env: 0 created, 2 updated, 0 skipped, 0 failed in ") {
		t.Errorf("--update stdout = %q", res.stdout)
	}
	if got := accessValue(t, url, "env-outcomes", "existing"); got != "new-value" {
		t.Errorf("updated secret = %q", got)
	}

	run("secrets", "import-env", writeFile(t, "A='open\n", 0o600)).expect(t, 2, "")
	res = run("secrets", "import-env", "-")
	res.expect(t, 2, "No input provided on stdin, but required for 'import-env -'\n")
}

func TestLiveExportRefusesWhatDotenvCannotHold(t *testing.T) {
	url := liveURL(t)
	newWorkspace(t, url, "env-clash")
	run := liveRun(t, url, "env-clash")
	run("secrets", "create", "a-b", "--value", "one").expect(t, 0, "")
	run("secrets", "create", "a.b", "--value", "two").expect(t, 0, "")
	res := run("secrets", "export")
	res.expect(t, 1, "Error: secrets a-b and a.b both become A_B in a dotenv file; export with -f json.\nNothing was exported.\n")
	if res.stdout != "" {
		t.Errorf("stdout = %q", res.stdout)
	}
	run("secrets", "export", "-f", "json").expect(t, 0, "")
	run("secrets", "export", "-f", "yaml").expect(t, 2, "")
}

func TestImportEnvProgressOnATerminal(t *testing.T) {
	url := liveURL(t)
	newWorkspace(t, url, "env-progress")
	file := writeFile(t, "P_ONE=1x\nP_TWO=2x\n", 0o600)
	got, code := onTerminal(t, []string{"NMP_BASE_URL=" + url}, "secrets", "import-env", file, "--workspace", "env-progress")
	if code != 0 || !strings.Contains(got, "import-env: 1/2") || !strings.Contains(got, "\r\x1b[K") ||
		!strings.Contains(got, "import-env: 2 created, 0 updated, 0 skipped, 0 failed in ") {
		t.Errorf("status %d, terminal got %q", code, got)
	}
}

func TestLiveExportWithAuthNeedsAServiceIdentity(t *testing.T) {
	url := runSecrets(t, "env-auth", map[string]string{"hf-token": "hf_auth_value"})
	// admin1 may manage the workspace but, as a user, not read values.
	res := cli(t, url, nil, "secrets", "export", "--workspace", "env-auth")
	res.expect(t, 1, "Error: 401 Unauthorized\n"+hintUnauthorized+"\n")
	// With admin1's token the list works and the first value is refused.
	tokenFile := writeFile(t, userToken("admin1"), 0o600)
	res = cli(t, url, nil, "secrets", "export", "--workspace", "env-auth", "--token-file", tokenFile)
	res.expect(t, 1, "Error: reading env-auth/hf-token: 403 Forbidden\nNothing was exported.\n"+
		"Hint: only platform services read values; from a trusted network, pass --service NAME.\n")
	res = cli(t, url, nil, "secrets", "export", "--workspace", "env-auth", "--service", "backup")
	res.expect(t, 0, "")
	if res.stdout != "# coffer secrets export: workspace env-auth, 1 secrets\nHF_TOKEN='hf_auth_value'\n" {
		t.Errorf("export as a service = %q", res.stdout)
	}
}
