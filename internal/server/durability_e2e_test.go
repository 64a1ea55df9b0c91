package server

import (
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

func TestRestartKeepsEveryValue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, envf func(t *testing.T) map[string]string) {
		env := envf(t)
		dir := t.TempDir()
		ts := start(t, env, dir)
		ts.do(t, "POST", wsBase, `{"name":"ml"}`)
		for i := range 30 {
			r := ts.do(t, "POST", base+"/ml/secrets", fmt.Sprintf(`{"name":"k%d","value":"value-%d"}`, i, i))
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
		}
		ts.do(t, "PATCH", base+"/ml/secrets/k7", `{"value":"patched"}`)
		ts.stop()

		ts = start(t, env, dir)
		for i := range 30 {
			want := fmt.Sprintf("value-%d", i)
			if i == 7 {
				want = "patched"
			}
			expect(t, ts.do(t, "GET", fmt.Sprintf("%s/ml/secrets/k%d/access", base, i), ""), 200,
				fmt.Sprintf(`{"name":"k%d","workspace":"ml","value":"%s"}`, i, want))
		}
	})
}

func TestDevKeyFileCreatedPrivately(t *testing.T) {
	ts := start(t, map[string]string{}, "")
	info, err := os.Stat(filepath.Join(ts.DataDir, "nmp-encryption-key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
	if !strings.Contains(ts.Logs.String(), "DEVELOPMENT KEY IN USE") {
		t.Error("no development key warning in the log")
	}
}

// TestValueNeverLeaks writes a recognisable value through every route and
// error path, then looks for it everywhere except /access answers.
func TestValueNeverLeaks(t *testing.T) {
	const canary = "CANARY-7f3a9b-do-not-leak"
	ts := start(t, map[string]string{"NGC_API_KEY": "nvapi"}, "")
	var responses []response
	send := func(method, path, body string) {
		responses = append(responses, ts.do(t, method, path, body))
	}
	v := `"value":"` + canary + `"`
	send("POST", base+"/default/secrets", `{"name":"leak",`+v+`}`)
	send("POST", base+"/default/secrets", `{"name":"leak",`+v+`}`)
	send("POST", base+"/default/secrets", `{"name":"bad name!",`+v+`}`)
	send("POST", base+"/default/secrets", `{"name":"Bad",`+v+`,"description":5}`)
	send("POST", base+"/default/secrets", `{"name":"big","value":"`+canary+strings.Repeat("x", 70000)+`"}`)
	send("POST", base+"/default/secrets", `{"name":"big","value":"`+canary+strings.Repeat("x", 1<<20)+`"}`)
	send("POST", base+"/default/secrets", `{`+v+`}`)
	send("POST", base+"/default/secrets", `{`+v)
	send("POST", base+"/default/secrets", `{`+v+`,"x":"\ud800"}`)
	send("POST", base+"/default/secrets", "{"+v+`,"x":"`+"\xff"+`"}`)
	send("POST", base+"/default/secrets", `["`+canary+`"]`)
	send("POST", base+"/default/secrets", `"`+canary+`"`)
	send("POST", base+"/nows/secrets", `{"name":"leak",`+v+`}`)
	send("POST", base+"/system/secrets", `{"name":"ngc-api-key",`+v+`}`)
	send("PATCH", base+"/default/secrets/leak", `{`+v+`}`)
	send("PATCH", base+"/default/secrets/missing", `{`+v+`}`)
	send("PATCH", base+"/system/secrets/ngc-api-key", `{`+v+`}`)
	send("PATCH", base+"/default/secrets/leak", `{`+v+`,"description":["x"]}`)
	send("PUT", base+"/default/secrets/leak", `{`+v+`}`)
	send("GET", base+"/default/secrets/leak", "")
	send("GET", base+"/default/secrets", "")
	send("POST", "/apis/secrets/v2/rotate-encryption-keys", "")
	send("POST", wsBase, `{"name":"x",`+v+`}`)
	for i, r := range responses {
		if strings.Contains(r.Body, canary) || strings.Contains(fmt.Sprint(r.Header), canary) {
			t.Errorf("response %d (%d) contains the value: %.200s", i, r.Status, r.Body)
		}
	}
	expect(t, ts.do(t, "GET", base+"/default/secrets/leak/access", ""), 200,
		`{"name":"leak","workspace":"default","value":"`+canary+`"}`)
	ts.stop()
	if strings.Contains(ts.Logs.String(), canary) {
		t.Error("the log contains the value")
	}
	if len(ts.Logs.String()) == 0 {
		t.Error("no log output captured")
	}
	filepath.WalkDir(ts.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), canary) {
			t.Errorf("%s contains the value in plaintext", path)
		}
		return nil
	})
}

// TestTamperedRecordsNeverDecrypt edits the SQLite file directly: a flipped
// byte, or blobs moved between secrets or workspaces, must give the fixed 500
// text, never another secret's value.
func TestTamperedRecordsNeverDecrypt(t *testing.T) {
	ts := start(t, map[string]string{}, "")
	ts.do(t, "POST", wsBase, `{"name":"other"}`)
	for _, ws := range []string{"default", "other"} {
		for _, n := range []string{"a1", "b1", "c1", "d1"} {
			ts.do(t, "POST", base+"/"+ws+"/secrets", fmt.Sprintf(`{"name":"%s","value":"value of %s/%s"}`, n, ws, n))
		}
	}
	ts.stop()
	db, err := sql.Open("sqlite", filepath.Join(ts.DataDir, "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The value columns live in secret_versions (docs/storage.md); of names
	// the live secret's current version.
	of := func(ws, name string) string {
		return `secret_id = (SELECT id FROM secrets WHERE workspace='` + ws + `' AND name='` + name +
			`' AND deleted_id IS NULL) AND version = (SELECT current_version FROM secrets WHERE workspace='` +
			ws + `' AND name='` + name + `' AND deleted_id IS NULL)`
	}
	// Flip the last byte of a ciphertext and of a wrapped DEK.
	exec(`UPDATE secret_versions SET ciphertext = substr(ciphertext,1,length(ciphertext)-1) || x'00' WHERE ` + of("default", "a1") + ` AND substr(ciphertext,-1) <> x'00'`)
	exec(`UPDATE secret_versions SET ciphertext = substr(ciphertext,1,length(ciphertext)-1) || x'01' WHERE ` + of("default", "a1") + ` AND substr(ciphertext,-1) = x'00'`)
	exec(`UPDATE secret_versions SET wrapped_dek = substr(wrapped_dek,1,40) || x'ff' || substr(wrapped_dek,42) WHERE ` + of("default", "b1") + ` AND substr(wrapped_dek,41,1) <> x'ff'`)
	exec(`UPDATE secret_versions SET wrapped_dek = substr(wrapped_dek,1,40) || x'00' || substr(wrapped_dek,42) WHERE ` + of("default", "b1") + ` AND substr(wrapped_dek,41,1) = x'ff'`)
	// Copy default/d1's blobs onto default/c1 and onto other/d1.
	exec(`UPDATE secret_versions SET (ciphertext, wrapped_dek) = (SELECT ciphertext, wrapped_dek FROM secret_versions WHERE ` +
		of("default", "d1") + `) WHERE (` + of("default", "c1") + `) OR (` + of("other", "d1") + `)`)
	db.Close()

	ts = start(t, map[string]string{}, ts.DataDir)
	for _, p := range []string{"default/secrets/a1", "default/secrets/b1", "default/secrets/c1", "other/secrets/d1"} {
		expect(t, ts.do(t, "GET", base+"/"+p+"/access", ""), 500, `{"detail":"Unexpected error retrieving secret"}`)
	}
	expect(t, ts.do(t, "GET", base+"/default/secrets/d1/access", ""), 200, `{"name":"d1","workspace":"default","value":"value of default/d1"}`)
	if !strings.Contains(ts.Logs.String(), "decryption failed") {
		t.Error("crypto failure not logged")
	}
}
