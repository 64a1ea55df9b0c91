package main

import "testing"

func TestBenchCommandLineEcho(t *testing.T) {
	args := []string{"coffer", "bench", "--server-env", "COFFER_DATABASE_DSN=postgres://u:pw@h/db",
		"--server-env=NMP_SECRETS_ENCRYPTION={\"k\":1}", "--ops", "access,get", "--url", "http://127.0.0.1:8080",
		"--compare-vault-token", "s.root", "--compare-vault-token=s.other"}
	got := shellJoin(redactServerEnv(args))
	want := `coffer bench --server-env 'COFFER_DATABASE_DSN=<redacted>' '--server-env=NMP_SECRETS_ENCRYPTION=<redacted>' --ops access,get --url http://127.0.0.1:8080 --compare-vault-token '<redacted>' '--compare-vault-token=<redacted>'`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if shellJoin([]string{"it's", ""}) != `'it'\''s' ''` {
		t.Fatalf("quoting: %s", shellJoin([]string{"it's", ""}))
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--concurrency", "0"},
		{"bench", "--quick", "--ops", "access,delete"},
		{"bench", "--pid", "1"},
		{"bench", "--server-env", "NOEQUALS"},
		{"bench", "extra-arg"},
		{"bench", "--generator", "ab"},
		{"bench", "--rounds", "0"},
		{"bench", "--generator", "wrk", "--wrk"},
		{"bench", "--generator", "wrk", "--wrk-threads", "5", "--concurrency", "4"},
		{"bench", "--compare-vault-pid", "1"},
		{"bench", "--compare-vault-addr", "127.0.0.1:8200", "--compare-vault-token", "t"},
	} {
		if code := run(args); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
