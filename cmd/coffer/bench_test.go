package main

import "testing"

func TestBenchCommandLineEcho(t *testing.T) {
	args := []string{"coffer", "bench", "--server-env", "COFFER_DATABASE_DSN=postgres://u:pw@h/db",
		"--server-env=NMP_SECRETS_ENCRYPTION={\"k\":1}", "--ops", "access,get", "--url", "http://127.0.0.1:8080"}
	got := shellJoin(redactServerEnv(args))
	want := `coffer bench --server-env 'COFFER_DATABASE_DSN=<redacted>' '--server-env=NMP_SECRETS_ENCRYPTION=<redacted>' --ops access,get --url http://127.0.0.1:8080`
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
	} {
		if code := run(args); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
