package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/keys/transittest"
)

// isolateVaultEnv clears the Vault environment and points HOME at an empty
// directory, so the machine's own Vault settings never reach a test. It
// returns that directory.
func isolateVaultEnv(tb testing.TB) string {
	tb.Helper()
	home := tb.TempDir()
	tb.Setenv("HOME", home)
	for _, k := range []string{"VAULT_ADDR", "VAULT_TOKEN", "VAULT_CACERT"} {
		tb.Setenv(k, "")
	}
	return home
}

// vaultConfig points a provider at srv with its token.
func vaultConfig(srv *transittest.Server) VaultConfig {
	return VaultConfig{Address: srv.URL, Token: srv.Token()}
}

// vaultRing builds, through Build, a keyring whose current provider is the
// vault provider "v" on c, plus the secret_key provider "sk".
func vaultRing(tb testing.TB, current string, c VaultConfig) *envelope.Keyring {
	tb.Helper()
	kr, err := Build(EncryptionConfig{CurrentProvider: current, Providers: ProvidersConfig{
		SecretKey: map[string]SecretKeyConfig{"sk": {Value: b64(seqKey(40))}},
		Vault:     map[string]VaultConfig{"v": c},
	}}, DevKeyOptions{}, nil)
	if err != nil {
		tb.Fatalf("Build: %v", err)
	}
	return kr
}

// transitCall is a Transit request made by hand, independent of the
// provider, so tests can build and inspect wraps the way the reference did.
func transitCall(t *testing.T, srv *transittest.Server, op, field, value string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{field: value})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		srv.URL+"/v1/transit/"+op+"/nemo-platform-key", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", srv.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ Data map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
		t.Fatalf("transit %s: %d %v", op, resp.StatusCode, err)
	}
	out, _ := r.Data[map[string]string{"encrypt": "ciphertext", "decrypt": "plaintext"}[op]].(string)
	return out
}

// transitEncrypt has Transit encrypt pt (sent base64-encoded, as Transit
// requires) and returns the ciphertext.
func transitEncrypt(t *testing.T, srv *transittest.Server, pt []byte) string {
	return transitCall(t, srv, "encrypt", "plaintext", base64.StdEncoding.EncodeToString(pt))
}

// transitDecrypt returns the plaintext of ct, base64-decoded once.
func transitDecrypt(t *testing.T, srv *transittest.Server, ct string) []byte {
	t.Helper()
	pt, err := base64.StdEncoding.DecodeString(transitCall(t, srv, "decrypt", "ciphertext", ct))
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

// formatV1VaultRecord builds a reference (format 1) vault record of value by
// hand: the DEK's base64 text is what Transit encrypts, so on the wire the
// DEK is base64-encoded twice (docs/crypto.md §3).
func formatV1VaultRecord(t *testing.T, srv *transittest.Server, provider string, value []byte) envelope.Sealed {
	t.Helper()
	dek := make([]byte, 32)
	nonce := make([]byte, 12)
	rand.Read(dek)
	rand.Read(nonce)
	dekText := base64.StdEncoding.EncodeToString(dek)
	wrapped := transitEncrypt(t, srv, []byte(dekText))
	b, _ := aes.NewCipher(dek)
	g, _ := cipher.NewGCM(b)
	return envelope.Sealed{
		Ciphertext: g.Seal(bytes.Clone(nonce), nonce, value, nil),
		WrappedDEK: []byte(wrapped),
		Provider:   provider,
		Format:     envelope.FormatV1,
	}
}

// assertNoLeak fails when s contains any of the secrets.
func assertNoLeak(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, x := range secrets {
		if x != "" && strings.Contains(s, x) {
			t.Errorf("%s leaks %q: %s", what, x, s)
		}
	}
}
