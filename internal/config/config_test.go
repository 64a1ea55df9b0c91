package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Load(Flags{}, env(map[string]string{"HOME": "/home/u"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Coffer.Listen != "127.0.0.1:8080" || c.Coffer.DataDir != "/home/u/.local/share/coffer" {
		t.Errorf("listen %q data dir %q", c.Coffer.Listen, c.Coffer.DataDir)
	}
	if c.SQLitePath() != "/home/u/.local/share/coffer/coffer.db" || c.IsPostgres() {
		t.Errorf("storage %q postgres=%v", c.SQLitePath(), c.IsPostgres())
	}
	if c.Secrets.LocalKeyCreationPath != "/home/u/.local/share/coffer/nmp-encryption-key.txt" {
		t.Errorf("dev key path %q", c.Secrets.LocalKeyCreationPath)
	}
	if ws, name := c.NGC(); ws != "system" || name != "ngc-api-key" {
		t.Errorf("ngc %q/%q", ws, name)
	}
	if !c.Coffer.Metrics.Enabled || c.Coffer.Admin.Listen != "" {
		t.Errorf("metrics enabled %v, admin listener %q; want on, none", c.Coffer.Metrics.Enabled, c.Coffer.Admin.Listen)
	}
	c, _ = Load(Flags{}, env(map[string]string{"NMP_DATA_DIR": "/d", "XDG_DATA_HOME": "/x"}))
	if c.Coffer.DataDir != "/d" {
		t.Errorf("NMP_DATA_DIR ignored: %q", c.Coffer.DataDir)
	}
	c, _ = Load(Flags{}, env(map[string]string{"XDG_DATA_HOME": "/x"}))
	if c.Coffer.DataDir != "/x/coffer" {
		t.Errorf("XDG_DATA_HOME ignored: %q", c.Coffer.DataDir)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
coffer:
  listen: 0.0.0.0:9000
  data_dir: /from-file
  limits: {max_value_bytes: 100}
  colour: blue
platform:
  ngc_api_key_secret: ""
entities:
  anything: ignored
secrets:
  encryption:
    current_provider: a
    providers:
      secret_key:
        a: {value: AAAA}
`)
	c, err := Load(Flags{ConfigFile: file, DataDir: "/from-flag"}, env(map[string]string{
		"COFFER_LISTEN": "127.0.0.1:9001", "COFFER_MAX_DESCRIPTION_CHARS": "10",
		"NMP_SECRETS_ENCRYPTION_CURRENT_PROVIDER": "b", "NMP_SECRETS_ALLOW_KEY_CREATION": "No",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.File != file || c.Coffer.Listen != "127.0.0.1:9001" || c.Coffer.DataDir != "/from-flag" {
		t.Errorf("file %q listen %q data dir %q", c.File, c.Coffer.Listen, c.Coffer.DataDir)
	}
	if c.Coffer.Limits.MaxValueBytes != 100 || c.Coffer.Limits.MaxDescriptionChars != 10 || c.Coffer.Limits.MaxBodyBytes != 1<<20 {
		t.Errorf("limits %+v", c.Coffer.Limits)
	}
	if ws, _ := c.NGC(); ws != "" {
		t.Errorf("ngc feature should be off, got %q", ws)
	}
	if c.Secrets.Encryption.CurrentProvider != "b" || c.Secrets.Encryption.Providers.SecretKey["a"].Value != "AAAA" {
		t.Errorf("encryption %+v", c.Secrets.Encryption)
	}
	if c.Secrets.AllowKeyCreation == nil || *c.Secrets.AllowKeyCreation {
		t.Errorf("allow_key_creation = %v", c.Secrets.AllowKeyCreation)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "coffer.colour") {
		t.Errorf("warnings %q", c.Warnings)
	}
}

func TestEnvironmentJSONSection(t *testing.T) {
	c, err := Load(Flags{}, env(map[string]string{
		"HOME":                           "/h",
		"NMP_SECRETS_ENCRYPTION":         `{"current_provider":"k","providers":{"secret_key":{"k":{"from_env":"KEK"}}}}`,
		"COFFER_TRUSTED_HEADER_NETWORKS": `["10.0.0.0/8","192.168.0.0/16"]`,
		"COFFER_DATABASE_DSN":            "postgres://u@h/db",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Secrets.Encryption.Providers.SecretKey["k"].FromEnv != "KEK" || !c.IsPostgres() {
		t.Errorf("encryption %+v postgres %v", c.Secrets.Encryption, c.IsPostgres())
	}
	if got := c.TrustedNetworks().String(); got != "10.0.0.0/8, 192.168.0.0/16" {
		t.Errorf("networks %q", got)
	}
}

func TestLifecycleSettings(t *testing.T) {
	tests := []struct {
		env       map[string]string
		file      string
		versions  int
		retention time.Duration
	}{
		{versions: 10, retention: 168 * time.Hour},
		{env: map[string]string{"COFFER_MAX_VERSIONS": "1", "COFFER_DELETED_RETENTION": "0"}, versions: 1, retention: 0},
		{file: "secrets:\n  max_versions: 25\n  deleted_retention: 30m\n", versions: 25, retention: 30 * time.Minute},
		{file: "secrets:\n  max_versions: 25\n", env: map[string]string{"COFFER_MAX_VERSIONS": "3"}, versions: 3, retention: 168 * time.Hour},
	}
	for _, tt := range tests {
		flags := Flags{}
		if tt.file != "" {
			flags.ConfigFile = writeFile(t, tt.file)
		}
		c, err := Load(flags, env(mergeHome(tt.env)))
		if err != nil {
			t.Fatal(err)
		}
		if c.Secrets.MaxVersions != tt.versions || c.Secrets.Retention() != tt.retention {
			t.Errorf("%v %q: max_versions %d retention %v, want %d %v", tt.env, tt.file,
				c.Secrets.MaxVersions, c.Secrets.Retention(), tt.versions, tt.retention)
		}
	}
}

func TestValidationNamesTheKey(t *testing.T) {
	tests := []struct {
		env  map[string]string
		file string
		want string
	}{
		{env: map[string]string{"COFFER_MAX_BODY_BYTES": "0"}, want: "coffer.limits.max_body_bytes must be at least 1, got 0"},
		{env: map[string]string{"COFFER_ROTATION_BATCH_SIZE": "ten"}, want: "environment variable COFFER_ROTATION_BATCH_SIZE: not an integer"},
		{env: map[string]string{"COFFER_LISTEN": "8080"}, want: `coffer.listen must be host:port, got "8080"`},
		{env: map[string]string{"COFFER_DATABASE_DSN": "mysql://x"}, want: "coffer.database.dsn must be empty, sqlite:<path>, postgres://… or postgresql://…"},
		{env: map[string]string{"COFFER_LOG_LEVEL": "loud"}, want: `coffer.log.level must be debug, info, warn or error, got "loud"`},
		{env: map[string]string{"COFFER_TLS_CERT_FILE": "/c"}, want: "coffer.tls.cert_file and coffer.tls.key_file must be set together"},
		{env: map[string]string{"COFFER_TRUSTED_HEADER_NETWORKS": "10.0.0.0/33"}, want: `coffer.auth.trusted_header_networks: invalid CIDR "10.0.0.0/33"`},
		{env: map[string]string{"NMP_NGC_API_KEY_SECRET": "a/b/c"}, want: `platform.ngc_api_key_secret must be "" or "<workspace>/<name>", got "a/b/c"`},
		{env: map[string]string{"NMP_SECRETS_ALLOW_KEY_CREATION": "maybe"}, want: "environment variable NMP_SECRETS_ALLOW_KEY_CREATION: not a boolean (true/false, 1/0, yes/no, on/off)"},
		{file: "coffer:\n  limits:\n    max_value_bytes: lots\n", want: "coffer.limits.max_value_bytes (line 3): cannot unmarshal !!str into int"},
		{file: "coffer:\n  database:\n    max_open_conns:\n      many: 1\n", want: "coffer.database.max_open_conns (line 4): cannot unmarshal !!map into int"},
		{file: "coffer:\n  auth:\n    trusted_header_networks: [10.0.0.0/8, [x]]\n", want: "coffer.auth.trusted_header_networks[1] (line 3): cannot unmarshal !!seq into string"},
		{env: map[string]string{"COFFER_MAX_VERSIONS": "0"}, want: "secrets.max_versions must be at least 1, got 0"},
		{env: map[string]string{"COFFER_DELETED_RETENTION": "7d"}, want: `secrets.deleted_retention must be a duration such as 168h or 0, got "7d"`},
		{env: map[string]string{"COFFER_DELETED_RETENTION": "-1h"}, want: `secrets.deleted_retention must be a duration such as 168h or 0, got "-1h"`},
		{file: "secrets:\n  deleted_retention: soon\n", want: `secrets.deleted_retention must be a duration such as 168h or 0, got "soon"`},
		{env: map[string]string{"COFFER_ADMIN_LISTEN": "9090"}, want: `coffer.admin.listen must be host:port or empty, got "9090"`},
		{env: map[string]string{"COFFER_ADMIN_LISTEN": "127.0.0.1:8080"}, want: "coffer.admin.listen must differ from coffer.listen"},
		{env: map[string]string{"COFFER_METRICS_ENABLED": "sometimes"}, want: "environment variable COFFER_METRICS_ENABLED: not a boolean"},
	}
	for _, tt := range tests {
		flags := Flags{}
		if tt.file != "" {
			flags.ConfigFile = writeFile(t, tt.file)
		}
		tt.env = mergeHome(tt.env)
		_, err := Load(flags, env(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v: error %v, want %q", tt.env, err, tt.want)
		}
	}
}

func mergeHome(m map[string]string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m["HOME"] = "/h"
	return m
}

// TestMetricsSettings: coffer.metrics.enabled and coffer.admin.listen from
// the file, and the environment over the file.
func TestMetricsSettings(t *testing.T) {
	file := writeFile(t, "coffer:\n  metrics:\n    enabled: false\n  admin:\n    listen: 127.0.0.1:9090\n")
	c, err := Load(Flags{ConfigFile: file}, env(mergeHome(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Coffer.Metrics.Enabled || c.Coffer.Admin.Listen != "127.0.0.1:9090" || len(c.Warnings) != 0 {
		t.Errorf("from the file: enabled %v, admin %q, warnings %q", c.Coffer.Metrics.Enabled, c.Coffer.Admin.Listen, c.Warnings)
	}
	c, err = Load(Flags{ConfigFile: file}, env(mergeHome(map[string]string{
		"COFFER_METRICS_ENABLED": "true", "COFFER_ADMIN_LISTEN": "[::1]:9191"})))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Coffer.Metrics.Enabled || c.Coffer.Admin.Listen != "[::1]:9191" {
		t.Errorf("from the environment: enabled %v, admin %q", c.Coffer.Metrics.Enabled, c.Coffer.Admin.Listen)
	}
}
