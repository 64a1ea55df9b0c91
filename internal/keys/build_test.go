package keys

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/coffer-dev/coffer/internal/envelope"
)

func ptr[T any](v T) *T { return &v }

func TestBuildSelectionTable(t *testing.T) {
	isolateVaultEnv(t)
	keyA, keyB := seqKey(10), seqKey(20)
	devKey := seqKey(30)
	skA := SecretKeyConfig{Value: b64(keyA)}
	skB := SecretKeyConfig{Value: b64(keyB)}
	some := map[string]SecretKeyConfig{"b": skB, "a": skA}

	type devFile int
	const (
		noFile devFile = iota
		goodFile
		badFile
	)
	tests := []struct {
		name       string
		cfg        EncryptionConfig
		allow      *bool
		postgres   bool
		file       devFile
		wantErr    string
		wantCur    string
		wantNames  []string
		wantDevKey bool // the development key file exists afterwards
		devWarn    bool
	}{
		// Row 1: development mode.
		{name: "dev mode, allow unset, creates key", wantNames: []string{""}, wantDevKey: true, devWarn: true},
		{name: "dev mode, allow true", allow: ptr(true), wantNames: []string{""}, wantDevKey: true, devWarn: true},
		{name: "dev mode, existing key", file: goodFile, wantNames: []string{""}, wantDevKey: true, devWarn: true},
		{name: "dev mode, malformed key", file: badFile,
			wantErr: "secrets.local_key_creation_path: not valid base64"},
		// Row 2.
		{name: "dev mode forbidden", allow: ptr(false),
			wantErr: "no encryption provider is configured and secrets.allow_key_creation is false; configure secrets.encryption"},
		{name: "dev mode forbidden even with a key file", allow: ptr(false), file: goodFile,
			wantErr: "no encryption provider is configured and secrets.allow_key_creation is false; configure secrets.encryption"},
		{name: "dev mode with PostgreSQL", postgres: true,
			wantErr: "no encryption provider is configured; the development key cannot be used with a shared PostgreSQL database"},
		{name: "dev mode with PostgreSQL, allow true", postgres: true, allow: ptr(true), file: goodFile,
			wantErr: "no encryption provider is configured; the development key cannot be used with a shared PostgreSQL database"},
		// Row 3.
		{name: "providers, dev key current", cfg: EncryptionConfig{Providers: ProvidersConfig{SecretKey: some}},
			allow: ptr(true), file: goodFile, wantNames: []string{"", "a", "b"}, wantDevKey: true, devWarn: true},
		{name: "providers, dev key current, file missing", cfg: EncryptionConfig{Providers: ProvidersConfig{SecretKey: some}},
			allow:   ptr(true),
			wantErr: "secrets.local_key_creation_path: {path} does not exist; the development key is only created when no provider is configured"},
		// Row 4.
		{name: "providers, empty current, allow unset", cfg: EncryptionConfig{Providers: ProvidersConfig{SecretKey: some}},
			file: goodFile, wantErr: "secrets.encryption.current_provider is empty; set it to one of: a, b"},
		{name: "providers, empty current, allow false", cfg: EncryptionConfig{Providers: ProvidersConfig{SecretKey: some}},
			allow: ptr(false), wantErr: "secrets.encryption.current_provider is empty; set it to one of: a, b"},
		// Row 5.
		{name: "current configured, no dev key", cfg: EncryptionConfig{CurrentProvider: "b", Providers: ProvidersConfig{SecretKey: some}},
			wantCur: "b", wantNames: []string{"a", "b"}},
		{name: "current configured, dev key loaded read-only", cfg: EncryptionConfig{CurrentProvider: "a", Providers: ProvidersConfig{SecretKey: some}},
			file: goodFile, wantCur: "a", wantNames: []string{"", "a", "b"}, wantDevKey: true},
		{name: "current configured, allow false, PostgreSQL", cfg: EncryptionConfig{CurrentProvider: "a", Providers: ProvidersConfig{SecretKey: some}},
			allow: ptr(false), postgres: true, file: goodFile, wantCur: "a", wantNames: []string{"", "a", "b"}, wantDevKey: true},
		{name: "current configured, dev key malformed", cfg: EncryptionConfig{CurrentProvider: "a", Providers: ProvidersConfig{SecretKey: some}},
			file: badFile, wantErr: "secrets.local_key_creation_path: not valid base64"},
		// Row 6.
		{name: "unknown current", cfg: EncryptionConfig{CurrentProvider: "c", Providers: ProvidersConfig{SecretKey: some}},
			wantErr: "secrets.encryption.current_provider: no provider named 'c' (configured: a, b)"},
		{name: "unknown current, nothing configured", cfg: EncryptionConfig{CurrentProvider: "c"},
			wantErr: "secrets.encryption.current_provider: no provider named 'c' (configured: none)"},

		// Name rules.
		{name: "empty secret_key name", cfg: EncryptionConfig{CurrentProvider: "a",
			Providers: ProvidersConfig{SecretKey: map[string]SecretKeyConfig{"": skA, "a": skA}}},
			wantErr: `secrets.encryption.providers.secret_key: provider name must not be empty ("" is the development key)`},
		{name: "empty vault name", cfg: EncryptionConfig{CurrentProvider: "a",
			Providers: ProvidersConfig{SecretKey: some, Vault: map[string]VaultConfig{"": {}}}},
			wantErr: `secrets.encryption.providers.vault: provider name must not be empty ("" is the development key)`},
		{name: "duplicate across kinds", cfg: EncryptionConfig{CurrentProvider: "a",
			Providers: ProvidersConfig{SecretKey: some, Vault: map[string]VaultConfig{"b": {}}}},
			wantErr: "secrets.encryption.providers: Duplicate encryptor name found: b"},
		{name: "vault problem stops startup", cfg: EncryptionConfig{CurrentProvider: "a",
			Providers: ProvidersConfig{SecretKey: some, Vault: map[string]VaultConfig{"v": {Token: "t"}}}},
			wantErr: "secrets.encryption.providers.vault.v.address: not set and VAULT_ADDR is empty"},
		{name: "secret_key problem stops startup", cfg: EncryptionConfig{CurrentProvider: "a",
			Providers: ProvidersConfig{SecretKey: map[string]SecretKeyConfig{"a": skA, "z": {}}}},
			wantErr: "secrets.encryption.providers.secret_key.z: one of value, from_env or from_file is required"},
		{name: "unknown current is reported before key problems", cfg: EncryptionConfig{CurrentProvider: "q",
			Providers: ProvidersConfig{SecretKey: map[string]SecretKeyConfig{"z": {}}}},
			wantErr: "secrets.encryption.current_provider: no provider named 'q' (configured: z)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "nmp-encryption-key.txt")
			switch tt.file {
			case goodFile:
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Dir(path), filepath.Base(path), b64(devKey), 0o600)
			case badFile:
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Dir(path), filepath.Base(path), "%%%", 0o600)
			}
			c, log := newCapture()
			kr, err := Build(tt.cfg, DevKeyOptions{Path: path, AllowKeyCreation: tt.allow, PostgreSQL: tt.postgres}, log)
			_, statErr := os.Stat(path)
			exists := statErr == nil
			if tt.wantErr != "" {
				want := tt.wantErr
				if want == "secrets.local_key_creation_path: {path} does not exist; the development key is only created when no provider is configured" {
					want = "secrets.local_key_creation_path: " + path + " does not exist; the development key is only created when no provider is configured"
				}
				if err == nil || err.Error() != want {
					t.Fatalf("err = %v\nwant  %s", err, want)
				}
				if kr != nil {
					t.Error("keyring returned with an error")
				}
				if tt.file == noFile && exists {
					t.Error("development key created although startup failed")
				}
			} else {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if kr.Current() != tt.wantCur {
					t.Errorf("Current = %q, want %q", kr.Current(), tt.wantCur)
				}
				if got := kr.Names(); !slices.Equal(got, tt.wantNames) {
					t.Errorf("Names = %q, want %q", got, tt.wantNames)
				}
				if exists != tt.wantDevKey {
					t.Errorf("development key file exists = %v, want %v", exists, tt.wantDevKey)
				}
				// The keyring works end to end with whatever is current.
				s, err := kr.Seal(t.Context(), "default", "n", []byte("v"))
				if err != nil {
					t.Fatal(err)
				}
				if v, err := kr.Open(t.Context(), "default", "n", s); err != nil || string(v) != "v" {
					t.Fatalf("Open = %q, %v", v, err)
				}
			}
			warned := slices.Contains(c.at(slog.LevelWarn), DevKeyWarning(path))
			if warned != tt.devWarn {
				t.Errorf("development key warning logged = %v, want %v; log:\n%s", warned, tt.devWarn, c.all())
			}
			for _, k := range [][]byte{keyA, keyB, devKey} {
				assertNoKey(t, "log", c.all(), k)
				if err != nil {
					assertNoKey(t, "error", err.Error(), k)
				}
			}
		})
	}
}

func TestDevKeyWarningText(t *testing.T) {
	const want = "DEVELOPMENT KEY IN USE: secret values are encrypted with a key stored at /data/nmp-encryption-key.txt, next to the data. Anyone who can read that file can decrypt every secret. Configure secrets.encryption.providers and current_provider for production."
	if got := DevKeyWarning("/data/nmp-encryption-key.txt"); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestBuildRotationAwayFromDevKey follows the operator procedure: records
// written in development mode stay readable after a real provider becomes
// current, and are reported as needing rotation.
func TestBuildRotationAwayFromDevKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nmp-encryption-key.txt")
	dev, err := Build(EncryptionConfig{}, DevKeyOptions{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := dev.Seal(t.Context(), "default", "n", []byte("dev-value"))
	if err != nil {
		t.Fatal(err)
	}
	if old.Provider != "" {
		t.Fatalf("provider %q", old.Provider)
	}
	prod, err := Build(EncryptionConfig{CurrentProvider: "prod", Providers: ProvidersConfig{
		SecretKey: map[string]SecretKeyConfig{"prod": {Value: b64(seqKey(7))}},
	}}, DevKeyOptions{Path: path, AllowKeyCreation: ptr(false), PostgreSQL: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if prod.IsCurrent(old) {
		t.Error("dev-key record reported current")
	}
	v, err := prod.Open(t.Context(), "default", "n", old)
	if err != nil || string(v) != "dev-value" {
		t.Fatalf("Open = %q, %v", v, err)
	}
	rotated, err := prod.Seal(t.Context(), "default", "n", v)
	if err != nil || !prod.IsCurrent(rotated) || rotated.Provider != "prod" {
		t.Fatalf("rotation: %+v, %v", rotated, err)
	}

	// Once the file is gone, old records report the missing provider.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	prod2, err := Build(EncryptionConfig{CurrentProvider: "prod", Providers: ProvidersConfig{
		SecretKey: map[string]SecretKeyConfig{"prod": {Value: b64(seqKey(7))}},
	}}, DevKeyOptions{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pe *envelope.ProviderError
	if _, err := prod2.Open(t.Context(), "default", "n", old); !errors.As(err, &pe) || pe.Provider != "" || pe.Unavailable {
		t.Fatalf("Open without the dev key: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("development key recreated while another provider is current")
	}
}
