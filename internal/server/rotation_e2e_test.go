package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// The reference's format-1 test vector (docs/crypto.md §5).
const (
	refKEK  = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	refData = "IiIiIiIiIiIiIiIif5FYLLiu8i+JWoFIJ82Mu+D2SmU0SY5IaJAybcPlbWs="
	refDEK  = "MzMzMzMzMzMzMzMzMzMzM0RERERERERERERERNbp3AiTc6a4K5rcbj+pKKIK66bgucSu3W5Air0j2wKSLrn07NBeYKpOo1F77KZ9iao7FPKe/QO2FvdO5Q=="
	newKEK  = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=" // bytes 0x20..0x3f
)

func rotate(t *testing.T, ts *testServer) response {
	t.Helper()
	return ts.do(t, "POST", "/apis/secrets/v2/rotate-encryption-keys", "")
}

// status reads GET /apis/secrets/v2/encryption-status.
func status(t *testing.T, ts *testServer) response {
	t.Helper()
	return ts.do(t, "GET", "/apis/secrets/v2/encryption-status", "")
}

// statusRow is one records row of the encryption status.
func statusRow(provider string, format, current, kept, bin int, upToDate, configured bool) string {
	return fmt.Sprintf(`{"provider":"%s","format":%d,"current_versions":%d,"kept_versions":%d,"recycle_bin_versions":%d,`+
		`"total_versions":%d,"up_to_date":%t,"provider_configured":%t}`,
		provider, format, current, kept, bin, current+kept+bin, upToDate, configured)
}

func TestRotationAcrossProviders(t *testing.T) {
	dir := t.TempDir()
	ts := start(t, map[string]string{}, dir) // development key
	for i := range 3 {
		ts.do(t, "POST", base+"/default/secrets", fmt.Sprintf(`{"name":"s%d","value":"v%d"}`, i, i))
	}
	ts.stop()

	// A new current provider; the development key file is moved away, so its
	// records cannot be read: each is reported and the run goes on.
	keyFile := filepath.Join(dir, "nmp-encryption-key.txt")
	if err := os.Rename(keyFile, keyFile+".bak"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"NMP_SECRETS_ENCRYPTION": `{"current_provider":"k2","providers":{"secret_key":{"k2":{"value":"` + newKEK + `"},"v1":{"value":"` + refKEK + `"}}}}`,
	}
	ts = start(t, env, dir)
	importFormat1(t, ts)
	expect(t, ts.do(t, "GET", base+"/default/secrets/imported/access", ""), 200,
		`{"name":"imported","workspace":"default","value":"hf_example_token"}`)
	// The status tells what rotation faces before it runs: three records on
	// the missing development key, one format-1 record.
	const providers = `{"current_provider":"k2","providers":["k2","v1"],"records":[`
	expect(t, status(t, ts), 200, providers+statusRow("", 2, 3, 0, 0, false, false)+","+
		statusRow("v1", 1, 1, 0, 0, false, true)+`],"total_versions":4,"versions_to_rotate":4,"unreadable_versions":3}`)
	expect(t, rotate(t, ts), 202, `{"rotated_secrets":1,"success":false,"skipped_secrets":0,"failed_secrets":[`+
		`{"workspace":"default","name":"s0","version":1,"error":"provider '' is not configured"},`+
		`{"workspace":"default","name":"s1","version":1,"error":"provider '' is not configured"},`+
		`{"workspace":"default","name":"s2","version":1,"error":"provider '' is not configured"}],"failed_count":3,`+
		`"rotated_versions":1,"deleted_secrets_rotated":0}`)
	expect(t, ts.do(t, "GET", base+"/default/secrets/s0/access", ""), 500, `{"detail":"Unexpected error retrieving secret"}`)
	expect(t, status(t, ts), 200, providers+statusRow("", 2, 3, 0, 0, false, false)+","+
		statusRow("k2", 2, 1, 0, 0, true, true)+`],"total_versions":4,"versions_to_rotate":3,"unreadable_versions":3}`)
	ts.stop()

	// With the development key back (read-only), everything rotates.
	if err := os.Rename(keyFile+".bak", keyFile); err != nil {
		t.Fatal(err)
	}
	ts = start(t, env, dir)
	expect(t, rotate(t, ts), 202, `{"rotated_secrets":3,"success":true,"skipped_secrets":1,"failed_secrets":[],"failed_count":0,"rotated_versions":3,"deleted_secrets_rotated":0}`)
	expect(t, rotate(t, ts), 202, `{"rotated_secrets":0,"success":true,"skipped_secrets":4,"failed_secrets":[],"failed_count":0,"rotated_versions":0,"deleted_secrets_rotated":0}`)
	expect(t, status(t, ts), 200, `{"current_provider":"k2","providers":["","k2","v1"],"records":[`+
		statusRow("k2", 2, 4, 0, 0, true, true)+`],"total_versions":4,"versions_to_rotate":0,"unreadable_versions":0}`)
	// HEAD answers whether the caller may read the status, without counting.
	if r := ts.do(t, "HEAD", "/apis/secrets/v2/encryption-status", ""); r.Status != 200 || r.Body != "" {
		t.Errorf("HEAD encryption-status: %d %q", r.Status, r.Body)
	}
	ts.stop()

	// Only k2 is needed now: the old keys can go.
	os.Remove(keyFile)
	ts = start(t, map[string]string{
		"NMP_SECRETS_ENCRYPTION": `{"current_provider":"k2","providers":{"secret_key":{"k2":{"value":"` + newKEK + `"}}}}`,
	}, dir)
	for i := range 3 {
		expect(t, ts.do(t, "GET", fmt.Sprintf("%s/default/secrets/s%d/access", base, i), ""), 200,
			fmt.Sprintf(`{"name":"s%d","workspace":"default","value":"v%d"}`, i, i))
	}
	expect(t, ts.do(t, "GET", base+"/default/secrets/imported/access", ""), 200,
		`{"name":"imported","workspace":"default","value":"hf_example_token"}`)
}

// importFormat1 stores the reference vector as an imported format-1 record.
func importFormat1(t *testing.T, ts *testServer) {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(refData)
	if err != nil {
		t.Fatal(err)
	}
	now := secrets.Now()
	_, err = ts.srv.store.CreateSecret(context.Background(), secrets.Record{
		Secret: secrets.Secret{Name: "imported", Workspace: "default", CreatedAt: now, UpdatedAt: now},
		Sealed: envelope.Sealed{Ciphertext: data, WrappedDEK: []byte(refDEK), Provider: "v1", Format: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
}
