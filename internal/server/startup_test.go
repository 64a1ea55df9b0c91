package server

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
)

// TestStartupErrors checks that bad settings stop startup with a message
// naming the problem and no key material.
func TestStartupErrors(t *testing.T) {
	tests := []struct {
		name string
		env  func(t *testing.T) map[string]string
		want string
	}{
		{"development key with PostgreSQL", func(t *testing.T) map[string]string {
			return map[string]string{"COFFER_DATABASE_DSN": pgtest.NewDSN(t)}
		}, "no encryption provider is configured; the development key cannot be used with a shared PostgreSQL database"},
		{"development key forbidden", func(t *testing.T) map[string]string {
			return map[string]string{"NMP_SECRETS_ALLOW_KEY_CREATION": "false"}
		}, "no encryption provider is configured and secrets.allow_key_creation is false; configure secrets.encryption"},
		{"short key", func(t *testing.T) map[string]string {
			return map[string]string{"NMP_SECRETS_ENCRYPTION": `{"current_provider":"k","providers":{"secret_key":{"k":{"value":"c2hvcnRrZXk="}}}}`}
		}, "secrets.encryption.providers.secret_key.k.value: key is 8 bytes; at least 32 are required"},
		{"unknown current provider", func(t *testing.T) map[string]string {
			return map[string]string{"NMP_SECRETS_ENCRYPTION": `{"current_provider":"x","providers":{"secret_key":{"k":{"value":"` + testKEK + `"}}}}`}
		}, "secrets.encryption.current_provider: no provider named 'x' (configured: k)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env(t)
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			cfg, err := config.Load(config.Flags{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}, lookup)
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(context.Background(), cfg, NewLogger(cfg.Coffer.Log, io.Discard), lookup)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), testKEK) {
				t.Error("key material in the error")
			}
		})
	}
}

// TestWarnsAboutUnconfiguredProvider: secrets sealed by a provider that is no
// longer configured are named in a warning. The count runs after the
// listener is up (it reads every secret), so the test waits for the line.
func TestWarnsAboutUnconfiguredProvider(t *testing.T) {
	dir := t.TempDir()
	ts := start(t, map[string]string{}, dir) // development key, provider ''
	for _, n := range []string{"sa", "sb"} {
		if r := ts.do(t, "POST", base+"/default/secrets", `{"name":"`+n+`","value":"v"}`); r.Status != 201 {
			t.Fatalf("create %s: %d %s", n, r.Status, r.Body)
		}
	}
	ts.stop()
	keyFile := filepath.Join(dir, "nmp-encryption-key.txt")
	if err := os.Rename(keyFile, keyFile+".bak"); err != nil {
		t.Fatal(err)
	}
	ts = start(t, map[string]string{
		"NMP_SECRETS_ENCRYPTION": `{"current_provider":"k","providers":{"secret_key":{"k":{"value":"` + testKEK + `"}}}}`,
	}, dir)
	want := "2 secrets use provider '', which is not configured; they cannot be read"
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(ts.Logs.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("no warning %q in the logs:\n%s", want, ts.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOIDCAudienceRequired: OIDC without an audience stops startup with a
// message naming the key and the way out; skip_audience_check starts.
func TestOIDCAudienceRequired(t *testing.T) {
	env := map[string]string{"NMP_AUTH_ENABLED": "true", "NMP_AUTH_OIDC_ENABLED": "true",
		"NMP_AUTH_OIDC_ISSUER": "https://idp.example", "NMP_SECRETS_ENCRYPTION": `{"current_provider":"k","providers":{"secret_key":{"k":{"value":"` + testKEK + `"}}}}`}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	start := func() error {
		cfg, err := config.Load(config.Flags{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}, lookup)
		if err != nil {
			return err
		}
		s, err := New(context.Background(), cfg, NewLogger(cfg.Coffer.Log, io.Discard), lookup)
		if err == nil {
			s.store.Close()
		}
		return err
	}
	err := start()
	if err == nil || !strings.Contains(err.Error(), "auth.oidc.audience must be set when auth.oidc.enabled is true") ||
		!strings.Contains(err.Error(), "auth.oidc.skip_audience_check") {
		t.Errorf("got %v", err)
	}
	env["NMP_AUTH_OIDC_SKIP_AUDIENCE_CHECK"] = "true"
	if err := start(); err != nil {
		t.Errorf("with skip_audience_check: %v", err)
	}
}
