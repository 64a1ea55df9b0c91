package keys

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestResolveSecretKey(t *testing.T) {
	key := seqKey(3)
	good := b64(key)
	short := b64(key[:31])
	dir := t.TempDir()
	goodFile := writeFile(t, dir, "good.key", "\n  "+good+"\n", 0o600)
	sharedFile := writeFile(t, dir, "shared.key", good, 0o644)
	badFile := writeFile(t, dir, "bad.key", good[:20]+"\n"+good[20:], 0o600)
	shortFile := writeFile(t, dir, "short.key", short, 0o600)
	emptyFile := writeFile(t, dir, "empty.key", "", 0o600)
	missing := filepath.Join(dir, "missing.key")
	bigFile := writeFile(t, dir, "big.key", strings.Repeat("A", maxKeyFileSize+4), 0o600)

	t.Setenv("COFFER_TEST_GOOD", good)
	t.Setenv("COFFER_TEST_PADDED", "  "+good+"\n")
	t.Setenv("COFFER_TEST_EMPTY", "")
	t.Setenv("COFFER_TEST_BLANK", "  \n")
	t.Setenv("COFFER_TEST_BAD", good[:43]+"*")
	t.Setenv("COFFER_TEST_SHORT", short)
	os.Unsetenv("COFFER_TEST_UNSET")

	const p = "secrets.encryption.providers.secret_key.k"
	tests := []struct {
		name     string
		cfg      SecretKeyConfig
		wantErr  string
		wantWarn string
	}{
		{"value", SecretKeyConfig{Value: good}, "", ""},
		{"value with surrounding whitespace", SecretKeyConfig{Value: " " + good + "\n"}, "", ""},
		{"from_env", SecretKeyConfig{FromEnv: "COFFER_TEST_GOOD"}, "", ""},
		{"from_env padded", SecretKeyConfig{FromEnv: "COFFER_TEST_PADDED"}, "", ""},
		{"from_file", SecretKeyConfig{FromFile: goodFile}, "", ""},
		{"from_file readable by others", SecretKeyConfig{FromFile: sharedFile}, "",
			"key file is readable by group or others; restrict it with chmod 600"},
		{"from_env wins over value", SecretKeyConfig{FromEnv: "COFFER_TEST_GOOD", Value: "junk"}, "",
			"secret_key provider has more than one key source; the first of from_env, from_file, value is used"},
		{"from_file wins over value", SecretKeyConfig{FromFile: goodFile, Value: "junk"}, "",
			"secret_key provider has more than one key source; the first of from_env, from_file, value is used"},
		{"from_env wins over from_file", SecretKeyConfig{FromEnv: "COFFER_TEST_BAD", FromFile: goodFile},
			p + ".from_env: not valid base64",
			"secret_key provider has more than one key source; the first of from_env, from_file, value is used"},

		{"no source", SecretKeyConfig{}, p + ": one of value, from_env or from_file is required", ""},
		{"env unset", SecretKeyConfig{FromEnv: "COFFER_TEST_UNSET"},
			p + ".from_env: environment variable COFFER_TEST_UNSET is not set or empty", ""},
		{"env empty", SecretKeyConfig{FromEnv: "COFFER_TEST_EMPTY"},
			p + ".from_env: environment variable COFFER_TEST_EMPTY is not set or empty", ""},
		{"env blank", SecretKeyConfig{FromEnv: "COFFER_TEST_BLANK"},
			p + ".from_env: environment variable COFFER_TEST_BLANK is not set or empty", ""},
		{"file missing", SecretKeyConfig{FromFile: missing},
			p + ".from_file: cannot read " + missing + ": no such file or directory", ""},
		{"file is a directory", SecretKeyConfig{FromFile: dir},
			p + ".from_file: cannot read " + dir + ": is a directory", ""},
		{"file too large", SecretKeyConfig{FromFile: bigFile},
			p + ".from_file: cannot read " + bigFile + ": larger than 65536 bytes, not a key file", ""},
		{"bad base64 value", SecretKeyConfig{Value: good[:43] + "!"}, p + ".value: not valid base64", ""},
		{"unpadded value", SecretKeyConfig{Value: strings.TrimRight(good, "=")}, p + ".value: not valid base64", ""},
		{"url alphabet value", SecretKeyConfig{Value: strings.NewReplacer("+", "-", "/", "_").Replace(b64(bytes.Repeat([]byte{0xfb}, 33)))},
			p + ".value: not valid base64", ""},
		{"bad base64 env", SecretKeyConfig{FromEnv: "COFFER_TEST_BAD"}, p + ".from_env: not valid base64", ""},
		{"bad base64 file (inner newline)", SecretKeyConfig{FromFile: badFile}, p + ".from_file: not valid base64", ""},
		{"short value", SecretKeyConfig{Value: short}, p + ".value: key is 31 bytes; at least 32 are required", ""},
		{"short env", SecretKeyConfig{FromEnv: "COFFER_TEST_SHORT"}, p + ".from_env: key is 31 bytes; at least 32 are required", ""},
		{"short file", SecretKeyConfig{FromFile: shortFile}, p + ".from_file: key is 31 bytes; at least 32 are required", ""},
		{"empty file", SecretKeyConfig{FromFile: emptyFile}, p + ".from_file: key is 0 bytes; at least 32 are required", ""},
		{"blank value", SecretKeyConfig{Value: " "}, p + ".value: key is 0 bytes; at least 32 are required", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, log := newCapture()
			k, err := ResolveSecretKey("k", tt.cfg, log)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant  %s", err, tt.wantErr)
				}
				if k != nil {
					t.Error("provider returned with an error")
				}
				assertNoKey(t, "error", err.Error(), key)
			} else {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if !bytes.Equal(keyOf(t, k), key) || k.Name() != "k" {
					t.Fatalf("wrong key or name %q", k.Name())
				}
			}
			warns := c.at(slog.LevelWarn)
			if tt.wantWarn == "" && len(warns) != 0 {
				t.Errorf("unexpected warnings %q", warns)
			}
			if tt.wantWarn != "" && (len(warns) != 1 || warns[0] != tt.wantWarn) {
				t.Errorf("warnings %q, want %q", warns, tt.wantWarn)
			}
			assertNoKey(t, "log", c.all(), key)
		})
	}
}

func TestResolveSecretKeyRelativePath(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rel.key", b64(seqKey(1)), 0o600)
	t.Chdir(dir)
	if _, err := ResolveSecretKey("r", SecretKeyConfig{FromFile: "rel.key"}, nil); err != nil {
		t.Fatalf("relative path: %v", err)
	}
}

// TestResolveSecretKeyUnreadableFile: a key file that cannot be read stops
// startup with the key's setting, the path and the OS reason.
func TestResolveSecretKeyUnreadableFile(t *testing.T) {
	p := writeFile(t, t.TempDir(), "locked.key", b64(seqKey(1)), 0o000)
	var err error
	unprivileged(t, func() { _, err = ResolveSecretKey("k", SecretKeyConfig{FromFile: p}, nil) })
	want := "secrets.encryption.providers.secret_key.k.from_file: cannot read " + p + ": permission denied"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
current_provider: prod
providers:
  secret_key:
    prod:
      from_env: PROD_KEY
    old:
      value: c2VjcmV0
      from_file: /etc/coffer/old.key
  vault:
    v:
      key_name: k
      mount: transit2
      address: https://vault:8200
      token: tok
      namespace: ns
      ca_cert: /ca.pem
      timeout_seconds: 5
`
	var cfg EncryptionConfig
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	want := EncryptionConfig{
		CurrentProvider: "prod",
		Providers: ProvidersConfig{
			SecretKey: map[string]SecretKeyConfig{
				"prod": {FromEnv: "PROD_KEY"},
				"old":  {Value: "c2VjcmV0", FromFile: "/etc/coffer/old.key"},
			},
			Vault: map[string]VaultConfig{"v": {KeyName: "k", Mount: "transit2", Address: "https://vault:8200",
				Token: "tok", Namespace: "ns", CACert: "/ca.pem", TimeoutSeconds: 5}},
		},
	}
	if cfg.CurrentProvider != want.CurrentProvider ||
		cfg.Providers.SecretKey["prod"] != want.Providers.SecretKey["prod"] ||
		cfg.Providers.SecretKey["old"] != want.Providers.SecretKey["old"] ||
		cfg.Providers.Vault["v"] != want.Providers.Vault["v"] {
		t.Fatalf("decoded %#v", cfg)
	}
}
