package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/keys/transittest"
)

const testValue = "hf_super_secret_value"

func TestVaultRoundTripV2(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	kr := vaultRing(t, "v", vaultConfig(srv))
	s, err := kr.Seal(t.Context(), "default", "hf-token", []byte(testValue))
	if err != nil {
		t.Fatal(err)
	}
	if s.Provider != "v" || s.Format != envelope.FormatV2 || !bytes.HasPrefix(s.WrappedDEK, []byte("vault:v1:")) {
		t.Fatalf("sealed = provider %q format %d wrapped %q", s.Provider, s.Format, s.WrappedDEK)
	}
	// Transit was given base64 of the raw DEK, encoded once (format 2).
	if dek := transitDecrypt(t, srv, string(s.WrappedDEK)); len(dek) != 32 {
		t.Errorf("Transit plaintext is %d bytes, want the raw 32-byte DEK", len(dek))
	}
	v, err := kr.Open(t.Context(), "default", "hf-token", s)
	if err != nil || string(v) != testValue {
		t.Fatalf("Open = %q, %v", v, err)
	}
	// The data AAD still binds the record although Transit gets none.
	if _, err := kr.Open(t.Context(), "default", "other", s); !errors.Is(err, envelope.ErrDecrypt) {
		t.Errorf("Open under another name: %v", err)
	}
}

func TestVaultFormatV1(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	kr := vaultRing(t, "sk", vaultConfig(srv))
	rec := formatV1VaultRecord(t, srv, "v", []byte(testValue))
	v, err := kr.Open(t.Context(), "default", "hf-token", rec)
	if err != nil || string(v) != testValue {
		t.Fatalf("Open format 1 = %q, %v", v, err)
	}
	// A format-1 wrap must hold the DEK text, not the raw DEK.
	raw := rec
	raw.WrappedDEK = []byte(transitEncrypt(t, srv, bytes.Repeat([]byte{1}, 32)))
	if _, err := kr.Open(t.Context(), "default", "hf-token", raw); !errors.Is(err, envelope.ErrDecrypt) {
		t.Errorf("format-1 wrap of a raw DEK: %v", err)
	}
}

func TestVaultTransitKeyRotation(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	kr := vaultRing(t, "v", vaultConfig(srv))
	old, err := kr.Seal(t.Context(), "ws", "a", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	oldV1 := formatV1VaultRecord(t, srv, "v", []byte("legacy"))
	srv.Rotate()
	cur, err := kr.Seal(t.Context(), "ws", "b", []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(old.WrappedDEK, []byte("vault:v1:")) || !bytes.HasPrefix(cur.WrappedDEK, []byte("vault:v2:")) {
		t.Fatalf("key versions: old %.9s, new %.9s", old.WrappedDEK, cur.WrappedDEK)
	}
	for _, c := range []struct {
		name, want string
		s          envelope.Sealed
	}{{"a", "one", old}, {"b", "two", cur}, {"c", "legacy", oldV1}} {
		if v, err := kr.Open(t.Context(), "ws", c.name, c.s); err != nil || string(v) != c.want {
			t.Errorf("Open %s after Transit rotation = %q, %v", c.name, v, err)
		}
	}
	if !kr.IsCurrent(old) {
		t.Error("a Transit key rotation must not make Coffer records stale")
	}
}

// TestVaultProbe checks the startup round trip: every failure stops Build
// with the §2.5 message naming the HTTP status or network error, within the
// provider's timeout, and nothing secret is in the message or the log.
func TestVaultProbe(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*transittest.Server, *VaultConfig)
		class string
	}{
		{"bad token", func(_ *transittest.Server, c *VaultConfig) { c.Token = "hvs.wrong-token" }, "HTTP 403"},
		{"revoked token", func(s *transittest.Server, _ *VaultConfig) { s.SetToken("hvs.other") }, "HTTP 403"},
		{"server error", func(s *transittest.Server, _ *VaultConfig) { s.FailWith(503) }, "HTTP 503"},
		{"sealed vault", func(s *transittest.Server, _ *VaultConfig) { s.FailWith(500) }, "HTTP 500"},
		{"unknown key", func(_ *transittest.Server, c *VaultConfig) { c.KeyName = "nope" }, "HTTP 400"},
		{"unknown mount", func(_ *transittest.Server, c *VaultConfig) { c.Mount = "nope" }, "HTTP 404"},
		{"wrong namespace", func(s *transittest.Server, c *VaultConfig) {
			s.RequireNamespace("team-a")
			c.Namespace = "team-b"
		}, "HTTP 403"},
		{"timeout", func(s *transittest.Server, c *VaultConfig) {
			s.SetDelay(3 * time.Second)
			c.TimeoutSeconds = 1
		}, "timeout"},
		{"connection refused", func(s *transittest.Server, _ *VaultConfig) { s.Stop() }, "connection refused"},
		{"garbage decrypt", func(s *transittest.Server, _ *VaultConfig) { s.CorruptDecrypt(true) }, "unexpected plaintext length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateVaultEnv(t)
			srv := transittest.New(t)
			c := vaultConfig(srv)
			tt.setup(srv, &c)
			capt, log := newCapture()
			start := time.Now()
			kr, err := Build(EncryptionConfig{CurrentProvider: "v", Providers: ProvidersConfig{
				Vault: map[string]VaultConfig{"v": c}}}, DevKeyOptions{}, log)
			want := "secrets.encryption.providers.vault.v: Transit round trip failed: " + tt.class
			if err == nil || err.Error() != want || kr != nil {
				t.Fatalf("Build = %v, %v\nwant %s", kr, err, want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("probe took %v; it must be bounded by timeout_seconds", d)
			}
			for _, s := range []string{err.Error(), capt.all()} {
				assertNoLeak(t, "probe failure", s, c.Token, srv.Token(), "injected", "permission denied")
			}
		})
	}
}

func TestVaultProbeSucceeds(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	capt, log := newCapture()
	v, err := NewVault("v", vaultConfig(srv), log)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Probe(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests(); got != 2 {
		t.Errorf("probe made %d requests, want encrypt + decrypt", got)
	}
	if !strings.Contains(capt.all(), "token_source=config") {
		t.Errorf("startup log does not say where the token came from:\n%s", capt.all())
	}
	assertNoLeak(t, "log", capt.all(), srv.Token())
}

// TestVaultUnavailableAndRecovery drives each outage through the Keyring:
// reads and writes fail as an unavailable provider, and the same provider
// object works again once Vault is back, with no restart of Coffer.
func TestVaultUnavailableAndRecovery(t *testing.T) {
	outages := []struct {
		name         string
		break_, heal func(*transittest.Server)
	}{
		{"5xx", func(s *transittest.Server) { s.FailWith(503) }, func(s *transittest.Server) { s.FailWith(0) }},
		{"403", func(s *transittest.Server) { s.SetToken("hvs.rotated") }, nil},
		{"timeout", func(s *transittest.Server) { s.SetDelay(3 * time.Second) }, func(s *transittest.Server) { s.SetDelay(0) }},
		{"connection refused", (*transittest.Server).Stop, (*transittest.Server).Restart},
	}
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			isolateVaultEnv(t)
			srv := transittest.New(t)
			token := srv.Token()
			c := vaultConfig(srv)
			c.TimeoutSeconds = 1
			kr := vaultRing(t, "v", c)
			rec, err := kr.Seal(t.Context(), "ws", "n", []byte(testValue))
			if err != nil {
				t.Fatal(err)
			}
			o.break_(srv)
			_, openErr := kr.Open(t.Context(), "ws", "n", rec)
			_, sealErr := kr.Seal(t.Context(), "ws", "n", []byte(testValue))
			for _, err := range []error{openErr, sealErr} {
				var pe *envelope.ProviderError
				if !errors.As(err, &pe) || !pe.Unavailable || pe.Provider != "v" {
					t.Fatalf("during outage: %v, want provider 'v' is unavailable", err)
				}
				assertNoLeak(t, "error", err.Error(), token, testValue)
			}
			if o.heal == nil {
				srv.SetToken(token)
			} else {
				o.heal(srv)
			}
			if v, err := kr.Open(t.Context(), "ws", "n", rec); err != nil || string(v) != testValue {
				t.Fatalf("after recovery: %q, %v", v, err)
			}
		})
	}
}

func TestVaultGarbageIsDecryptionFailure(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	kr := vaultRing(t, "v", vaultConfig(srv))
	rec, err := kr.Seal(t.Context(), "ws", "n", []byte(testValue))
	if err != nil {
		t.Fatal(err)
	}
	srv.CorruptDecrypt(true)
	if _, err := kr.Open(t.Context(), "ws", "n", rec); !errors.Is(err, envelope.ErrDecrypt) {
		t.Errorf("2xx with a wrong-length plaintext: %v, want decryption failed", err)
	}
	srv.CorruptDecrypt(false)

	// A stored wrap that is not a Transit ciphertext is a corrupt record;
	// it fails without a Vault call.
	before := srv.Requests()
	for _, w := range []string{"", "vault:", "vault:v1:", "vault:vX:AAAA", "vault:v1:AA\"}", "\x02" + strings.Repeat("a", 76)} {
		bad := rec
		bad.WrappedDEK = []byte(w)
		if _, err := kr.Open(t.Context(), "ws", "n", bad); !errors.Is(err, envelope.ErrDecrypt) {
			t.Errorf("wrapped %q: %v", w, err)
		}
	}
	if srv.Requests() != before {
		t.Errorf("corrupt wraps made %d Vault calls", srv.Requests()-before)
	}
}

// TestVaultOneClient shows the provider is built once: every request of a
// long sequence reuses the probe's connection, and concurrent requests share
// a small pool.
func TestVaultOneClient(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	kr := vaultRing(t, "v", vaultConfig(srv))
	for i := range 50 {
		s, err := kr.Seal(t.Context(), "ws", "n", []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kr.Open(t.Context(), "ws", "n", s); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Connections(); got != 1 {
		t.Fatalf("102 sequential requests opened %d connections, want 1", got)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := kr.Seal(t.Context(), "ws", "n", []byte("x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// The transport may dial for a request that another connection then
	// serves, so allow some slack; per-request clients would open 160.
	if got := srv.Connections(); got > 17 {
		t.Errorf("8 concurrent workers × 20 requests opened %d connections in total, want at most 17", got)
	}
}

func TestVaultNamespaceHeader(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	srv.RequireNamespace("team-a/prod")
	c := vaultConfig(srv)
	c.Namespace = "team-a/prod"
	kr := vaultRing(t, "v", c)
	s, err := kr.Seal(t.Context(), "ws", "n", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Open(t.Context(), "ws", "n", s); err != nil {
		t.Fatal(err)
	}
	ns := srv.Namespaces()
	// lookup-self, the probe's encrypt and decrypt, Seal, Open
	if len(ns) != 5 || slices.ContainsFunc(ns, func(n string) bool { return n != "team-a/prod" }) {
		t.Errorf("namespaces sent: %q", ns)
	}

	plain := transittest.New(t)
	vaultRing(t, "v", vaultConfig(plain))
	if ns := plain.Namespaces(); len(ns) != 3 || slices.ContainsFunc(ns, func(n string) bool { return n != "" }) {
		t.Errorf("namespace sent although none is configured: %q", ns)
	}
}

func TestVaultCACert(t *testing.T) {
	home := isolateVaultEnv(t)
	srv := transittest.NewTLS(t)
	caFile := writeFile(t, home, "ca.pem", string(srv.CACertPEM()), 0o644)
	notPEM := writeFile(t, home, "not.pem", "hello", 0o644)
	missing := filepath.Join(home, "missing.pem")
	prefix := "secrets.encryption.providers.vault.v"

	c := vaultConfig(srv)
	if _, err := NewVault("v", c, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := buildVault("v", c, nil); err == nil || err.Error() != prefix+": Transit round trip failed: TLS certificate not trusted" {
		t.Errorf("without ca_cert: %v", err)
	}
	c.CACert = caFile
	kr := vaultRing(t, "v", c)
	if s, err := kr.Seal(t.Context(), "ws", "n", []byte("x")); err != nil {
		t.Fatal(err)
	} else if v, err := kr.Open(t.Context(), "ws", "n", s); err != nil || string(v) != "x" {
		t.Fatalf("Open over TLS = %q, %v", v, err)
	}

	t.Setenv("VAULT_CACERT", caFile)
	if _, err := buildVault("v", vaultConfig(srv), nil); err != nil {
		t.Errorf("VAULT_CACERT default: %v", err)
	}
	for path, want := range map[string]string{
		notPEM:  prefix + ".ca_cert: " + notPEM + " holds no PEM certificate",
		missing: prefix + ".ca_cert: cannot read " + missing + ": no such file or directory",
	} {
		c.CACert = path
		if _, err := NewVault("v", c, nil); err == nil || err.Error() != want {
			t.Errorf("ca_cert %s: %v\nwant %s", path, err, want)
		}
	}
}

func TestVaultEnvironmentDefaults(t *testing.T) {
	home := isolateVaultEnv(t)
	srv := transittest.New(t)
	tokenFile := filepath.Join(home, ".vault-token")
	prefix := "secrets.encryption.providers.vault.v"
	build := func(c VaultConfig) error { _, err := buildVault("v", c, nil); return err }

	if err := build(VaultConfig{Token: srv.Token()}); err == nil || err.Error() != prefix+".address: not set and VAULT_ADDR is empty" {
		t.Errorf("no address: %v", err)
	}
	t.Setenv("VAULT_ADDR", srv.URL+"/")
	if err := build(VaultConfig{}); err == nil || err.Error() != prefix+".token: not set and VAULT_TOKEN is empty, and "+tokenFile+" does not exist" {
		t.Errorf("no token: %v", err)
	}
	writeFile(t, home, ".vault-token", " \n", 0o600)
	if err := build(VaultConfig{}); err == nil || err.Error() != prefix+".token: not set and VAULT_TOKEN is empty, and "+tokenFile+" is empty" {
		t.Errorf("empty token file: %v", err)
	}
	writeFile(t, home, ".vault-token", "  "+srv.Token()+"\n", 0o600)
	if err := build(VaultConfig{}); err != nil {
		t.Errorf("token from ~/.vault-token: %v", err)
	}
	t.Setenv("VAULT_TOKEN", srv.Token())
	writeFile(t, home, ".vault-token", "hvs.stale", 0o600)
	if err := build(VaultConfig{}); err != nil {
		t.Errorf("VAULT_TOKEN must win over ~/.vault-token: %v", err)
	}
	t.Setenv("VAULT_TOKEN", "hvs.stale")
	if err := build(VaultConfig{Token: srv.Token()}); err != nil {
		t.Errorf("configured token must win over VAULT_TOKEN: %v", err)
	}
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	if err := build(VaultConfig{Address: srv.URL, Token: srv.Token()}); err != nil {
		t.Errorf("configured address must win over VAULT_ADDR: %v", err)
	}
}

func TestVaultConfigErrors(t *testing.T) {
	home := isolateVaultEnv(t)
	prefix := "secrets.encryption.providers.vault.v"
	badAddr := prefix + ".address: must be an http:// or https:// URL with a host and no credentials, query or fragment"
	tests := []struct {
		name string
		c    VaultConfig
		want string
	}{
		{"ftp address", VaultConfig{Address: "ftp://vault:8200", Token: "t"}, badAddr},
		{"no host", VaultConfig{Address: "https://", Token: "t"}, badAddr},
		{"credentials in address", VaultConfig{Address: "https://u:hunter2@vault:8200", Token: "t"}, badAddr},
		{"no scheme", VaultConfig{Address: "vault:8200", Token: "t"}, badAddr},
		{"token with a space", VaultConfig{Address: "http://vault", Token: "hvs.a b"},
			prefix + ".token: contains whitespace, control or non-ASCII characters"},
		{"negative timeout", VaultConfig{Address: "http://vault", Token: "t", TimeoutSeconds: -1},
			prefix + ".timeout_seconds: must be a positive number of seconds"},
	}
	for _, tt := range tests {
		_, err := NewVault("v", tt.c, nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: %v\nwant %s", tt.name, err, tt.want)
		} else {
			assertNoLeak(t, tt.name, err.Error(), "hunter2", "hvs.a b")
		}
	}
	if err := os.Mkdir(filepath.Join(home, ".vault-token"), 0o700); err != nil {
		t.Fatal(err)
	}
	want := prefix + ".token: not set and VAULT_TOKEN is empty, and cannot read " +
		filepath.Join(home, ".vault-token") + ": is a directory"
	if _, err := NewVault("v", VaultConfig{Address: "http://vault"}, nil); err == nil || err.Error() != want {
		t.Errorf("unreadable token file: %v\nwant %s", err, want)
	}
}

// TestVaultMixedKeyring follows the operator's rotation both ways:
// secret_key → vault → secret_key, with every value intact.
func TestVaultMixedKeyring(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	c := vaultConfig(srv)
	ctx := t.Context()
	rec, err := vaultRing(t, "sk", c).Seal(ctx, "ws", "n", []byte(testValue))
	if err != nil || rec.Provider != "sk" {
		t.Fatalf("Seal under sk: %+v, %v", rec, err)
	}
	for _, next := range []string{"v", "sk", "v"} {
		kr := vaultRing(t, next, c)
		if kr.IsCurrent(rec) {
			t.Fatalf("record on %q reported current for %q", rec.Provider, next)
		}
		v, err := kr.Open(ctx, "ws", "n", rec)
		if err != nil || string(v) != testValue {
			t.Fatalf("Open %q record with current %q: %q, %v", rec.Provider, next, v, err)
		}
		if rec, err = kr.Seal(ctx, "ws", "n", v); err != nil || rec.Provider != next || !kr.IsCurrent(rec) {
			t.Fatalf("rotate to %q: %+v, %v", next, rec, err)
		}
	}
}

// TestVaultNoLeak sends every failure through the provider itself (not
// only the Keyring, which drops provider errors) while the double echoes
// request bodies in its error replies.
func TestVaultNoLeak(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	capt, log := newCapture()
	c := vaultConfig(srv)
	c.TimeoutSeconds = 1
	v, err := NewVault("v", c, log)
	if err != nil {
		t.Fatal(err)
	}
	dek := bytes.Repeat([]byte{0x5a}, 32)
	wrapped, err := v.WrapV2(t.Context(), dek, "ws", "n")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{srv.Token(), base64.StdEncoding.EncodeToString(dek), string(dek), string(wrapped), "injected"}
	var errs []string
	check := func() {
		_, err := v.WrapV2(t.Context(), dek, "ws", "n")
		errs = append(errs, fmt.Sprint(err))
		_, err = v.UnwrapV2(t.Context(), wrapped, "ws", "n")
		errs = append(errs, fmt.Sprint(err))
		_, err = v.UnwrapV1(t.Context(), wrapped)
		errs = append(errs, fmt.Sprint(err))
	}
	srv.FailWith(400)
	check()
	srv.FailWith(503)
	check()
	srv.FailWith(0)
	srv.CorruptDecrypt(true)
	check()
	srv.CorruptDecrypt(false)
	srv.SetToken("hvs.other")
	check()
	for _, e := range errs {
		assertNoLeak(t, "error", e, secrets...)
	}
	assertNoLeak(t, "log", capt.all(), secrets...)
	if !strings.Contains(capt.all(), "error=HTTP 503") {
		t.Errorf("failures are not logged with their class:\n%s", capt.all())
	}
}

func TestVaultRedaction(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	v, err := NewVault("v", vaultConfig(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "provider", v, "config", vaultConfig(srv))
	js, _ := json.Marshal(struct{ P *Vault }{v})
	out := fmt.Sprintf("%v %+v %#v %s", v, v, v, v) + logged.String() + string(js) +
		fmt.Sprintf("%v %+v %#v", vaultConfig(srv), vaultConfig(srv), vaultConfig(srv))
	assertNoLeak(t, "formatted provider", out, srv.Token())
	if !strings.Contains(out, Redacted) {
		t.Errorf("no redaction marker in %s", out)
	}
}

func TestValidTransitCiphertext(t *testing.T) {
	for s, want := range map[string]bool{
		"vault:v1:QUJD": true, "vault:v12:QUJD+/==": true,
		"": false, "vault:v1:": false, "vault:v:QUJD": false, "vault:v1QUJD": false,
		"vault:v1:QU JD": false, "vault:v1:QUJD\n": false, "VAULT:v1:QUJD": false,
		"vault:v1:" + strings.Repeat("A", vaultMaxWrapped): false,
	} {
		if got := validTransitCiphertext([]byte(s)); got != want {
			t.Errorf("validTransitCiphertext(%.20q) = %v", s, got)
		}
	}
}

func TestNetworkClass(t *testing.T) {
	if got := networkClass(context.Canceled); got != "canceled" {
		t.Errorf("canceled: %q", got)
	}
	// A caller's own cancellation also counts as unavailable in the Keyring.
	isolateVaultEnv(t)
	srv := transittest.New(t)
	v, err := NewVault("v", vaultConfig(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := v.WrapV2(ctx, make([]byte, 32), "", ""); !errors.Is(err, envelope.ErrUnavailable) ||
		!strings.HasSuffix(err.Error(), ": canceled") {
		t.Errorf("canceled request: %v", err)
	}
}

// TestVaultRefusesRedirects: following a redirect would send the token to
// whatever host the Location names.
func TestVaultRefusesRedirects(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c := vaultConfig(srv)
	c.Address = redirector.URL
	_, err := buildVault("v", c, nil)
	if err == nil || !strings.HasSuffix(err.Error(), ": Transit round trip failed: HTTP 307") {
		t.Errorf("redirect: %v", err)
	}
	if srv.Requests() != 0 {
		t.Errorf("the redirect target received %d requests with the token", srv.Requests())
	}
}
