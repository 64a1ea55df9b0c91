// Package config loads Coffer's configuration: defaults, the YAML file (a
// NeMo Platform config.yaml works unchanged), environment variables with the
// reference's names, and command-line flags, in rising precedence; then
// validates it, naming the bad key.
package config

import (
	"errors"
	"fmt"
	"github.com/coffer-dev/coffer/internal/config/envvar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/coffer-dev/coffer/internal/auth"
	"github.com/coffer-dev/coffer/internal/keys"
)

// Config is the whole configuration. Sections and keys match the reference.
type Config struct {
	Coffer   Coffer      `yaml:"coffer"`
	Service  Service     `yaml:"service"`
	Platform Platform    `yaml:"platform"`
	Secrets  Secrets     `yaml:"secrets"`
	Auth     auth.Config `yaml:"auth"`

	// File is the configuration file used ("" when none).
	File string `yaml:"-"`
	// Warnings and Notes are logged (WARN, INFO) once logging is set up.
	Warnings []string `yaml:"-"`
	Notes    []string `yaml:"-"`

	// listenSet and logFormatSet record that coffer.listen and
	// coffer.log.format were given (file, variable or flag), even as "":
	// only when they were not do the service.* keys apply.
	listenSet, logFormatSet bool
	// listenKey and logFormatKey name the service.* keys the values came
	// from ("" when Coffer's own key or default set them).
	listenKey, logFormatKey string
}

// Service is the NeMo Platform's `service` section, which every platform
// service reads (the platform's Helm chart renders it into the config of
// each). Coffer honours the keys that decide where and how it talks:
// service.host and service.port give the listen address when coffer.listen
// is not set, service.log_format the log format when coffer.log.format is
// not set (docs/configuration.md, "service"). Other keys are ignored.
type Service struct {
	Host      string `yaml:"host"`
	Port      *Port  `yaml:"port"`
	LogFormat string `yaml:"log_format"`
}

// Port is service.port. Rendered configurations carry it as a number or,
// from a templated value, as a quoted string; both are accepted.
type Port int

// UnmarshalYAML accepts 8080 and "8080" alike; the error never quotes the
// value (it names the key through the caller).
func (p *Port) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("service.port must be a port number")
	}
	v, err := strconv.Atoi(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("service.port must be a port number (line %d)", n.Line)
	}
	*p = Port(v)
	return nil
}

// Coffer holds Coffer's own settings (docs/configuration.md).
type Coffer struct {
	Listen   string   `yaml:"listen"`
	DataDir  string   `yaml:"data_dir"`
	Database Database `yaml:"database"`
	Limits   Limits   `yaml:"limits"`
	Rotation Rotation `yaml:"rotation"`
	TLS      TLS      `yaml:"tls"`
	Log      Log      `yaml:"log"`
	Auth     Auth     `yaml:"auth"`
	HTTP     HTTP     `yaml:"http"`
	Audit    Audit    `yaml:"audit"`
	Metrics  Metrics  `yaml:"metrics"`
	Admin    Admin    `yaml:"admin"`
	Console  Console  `yaml:"console"`
}

// Console configures the web console's sign-in (docs/console.md, "Signing
// in").
type Console struct {
	// ClientID is the IdP client the console signs users in with (a public
	// client with PKCE); "" falls back to auth.oidc.client_id.
	ClientID string `yaml:"client_id"`
}

// ConsoleClientID is the client the console signs in with: "" when auth or
// OIDC is disabled (no sign-in in the console), else coffer.console.client_id
// or, unset, auth.oidc.client_id.
func (c *Config) ConsoleClientID() string {
	if !c.Auth.Enabled || !c.Auth.OIDC.Enabled {
		return ""
	}
	if c.Coffer.Console.ClientID != "" {
		return c.Coffer.Console.ClientID
	}
	return c.Auth.OIDC.ClientID
}

// Metrics configures GET /metrics (docs/operations.md, "Metrics").
type Metrics struct {
	// Enabled collects metrics and serves them; false makes GET /metrics
	// 404 on both listeners.
	Enabled bool `yaml:"enabled"`
}

// Admin configures the optional second listener for operators.
type Admin struct {
	// Listen is host:port of a listener serving /metrics and
	// /debug/pprof/ ("" = none). pprof is never on the main listener.
	Listen string `yaml:"listen"`
}

// Database selects the storage backend.
type Database struct {
	DSN          string `yaml:"dsn"`
	MaxOpenConns int    `yaml:"max_open_conns"`
}

// Limits are the request limits.
type Limits struct {
	MaxValueBytes       int `yaml:"max_value_bytes"`
	MaxDescriptionChars int `yaml:"max_description_chars"`
	MaxBodyBytes        int `yaml:"max_body_bytes"`
}

// Rotation tunes key rotation.
type Rotation struct {
	BatchSize int `yaml:"batch_size"`
}

// TLS enables HTTPS when both files are set.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Auth holds Coffer's additions to authentication settings.
type Auth struct {
	TrustedHeaderNetworks envvar.StringList `yaml:"trusted_header_networks"`
}

// Platform holds the reference's platform-wide settings Coffer uses.
type Platform struct {
	NGCAPIKeySecret *string `yaml:"ngc_api_key_secret"`
	NGCAPIKeyEnvVar string  `yaml:"ngc_api_key_env_var"`
}

// Secrets holds the key-provider settings (docs/key-management.md) and
// the history and recycle-bin settings (docs/lifecycle.md).
type Secrets struct {
	Encryption           keys.EncryptionConfig `yaml:"encryption"`
	AllowKeyCreation     *bool                 `yaml:"allow_key_creation"`
	LocalKeyCreationPath string                `yaml:"local_key_creation_path"`
	// MaxVersions is how many versions of a secret keep their value.
	MaxVersions int `yaml:"max_versions"`
	// DeletedRetention is how long deleted secrets stay in the recycle bin,
	// a Go duration ("168h"); "0" erases them at once.
	DeletedRetention string `yaml:"deleted_retention"`
}

// Retention is secrets.deleted_retention parsed (validate has checked it).
func (s Secrets) Retention() time.Duration {
	d, _ := time.ParseDuration(s.DeletedRetention)
	return d
}

// Flags are the command-line overrides ("" = not given).
type Flags struct {
	ConfigFile string
	Listen     string
	DataDir    string
}

// Load builds the configuration. lookup reads environment variables (it is
// os.LookupEnv outside tests).
func Load(flags Flags, lookup func(string) (string, bool)) (*Config, error) {
	c := defaults(lookup)
	path, err := configPath(flags.ConfigFile, lookup)
	if err != nil {
		return nil, err
	}
	if path != "" {
		if err := c.loadFile(path); err != nil {
			return nil, err
		}
	}
	if err := c.applyEnv(lookup); err != nil {
		return nil, err
	}
	if flags.Listen != "" {
		c.Coffer.Listen = flags.Listen
		c.listenSet = true
	}
	if flags.DataDir != "" {
		c.Coffer.DataDir = flags.DataDir
	}
	c.finish()
	return c, c.validate()
}

func defaults(lookup func(string) (string, bool)) *Config {
	ngc := "system/ngc-api-key"
	c := &Config{
		Coffer: Coffer{
			// Listen and Log.Format are "" until finish: the service.*
			// keys fill them when nothing sets them (applyService).
			DataDir:  defaultDataDir(lookup),
			Database: Database{MaxOpenConns: 10},
			Limits:   Limits{MaxValueBytes: 65536, MaxDescriptionChars: 4096, MaxBodyBytes: 1 << 20},
			Rotation: Rotation{BatchSize: 100},
			Log:      Log{Level: "info"},
			Auth:     Auth{TrustedHeaderNetworks: envvar.StringList{"127.0.0.0/8", "::1/128"}},
			Audit:    defaultAudit(),
			Metrics:  Metrics{Enabled: true},
		},
		Platform: Platform{NGCAPIKeySecret: &ngc, NGCAPIKeyEnvVar: "NGC_API_KEY"},
		Secrets:  Secrets{MaxVersions: 10, DeletedRetention: "168h"},
		Auth:     auth.DefaultConfig(),
	}
	setIntDefaults(c, httpKeys)
	return c
}

func defaultDataDir(lookup func(string) (string, bool)) string {
	if v, _ := lookup("NMP_DATA_DIR"); v != "" {
		return v
	}
	if v, _ := lookup("XDG_DATA_HOME"); v != "" {
		return filepath.Join(v, "coffer")
	}
	home, _ := lookup("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "share", "coffer")
}

// configPath picks the file: --config, $NMP_CONFIG_FILE_PATH, then
// /etc/nmp/config.yaml when it exists.
func configPath(flag string, lookup func(string) (string, bool)) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if v, _ := lookup("NMP_CONFIG_FILE_PATH"); v != "" {
		return v, nil
	}
	const system = "/etc/nmp/config.yaml"
	if _, err := os.Stat(system); err == nil {
		return system, nil
	}
	return "", nil
}

func (c *Config) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: cannot read %s: %w", path, errors.Unwrap(err))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return fmt.Errorf("config file %s: not valid YAML: %s", path, yamlMessage(err, nil))
	}
	if err := root.Decode(c); err != nil {
		return fmt.Errorf("config file %s: %s", path, yamlMessage(err, &root))
	}
	c.File = path
	if n := section(&root, "coffer"); n != nil {
		c.listenSet = c.listenSet || hasKey(n, "listen")
		c.logFormatSet = c.logFormatSet || hasKey(child(n, "log"), "format")
	}
	for _, k := range unknownCofferKeys(&root) {
		c.Warnings = append(c.Warnings, "unknown configuration key "+k+" is ignored")
	}
	for _, k := range sectionKeys(&root, "auth") {
		if auth.IsIgnoredKey(k) {
			c.Notes = append(c.Notes, "auth."+k+" belongs to the reference's external policy engine and is ignored")
		}
	}
	return nil
}

// yamlMessage shortens a YAML error; YAML type errors quote scalars, which
// could be key material, so those quotes are cut. A type error names only a
// line, so the key found on that line in root (when given) is put in front,
// as every other configuration error names its key.
func yamlMessage(err error, root *yaml.Node) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			if j := strings.Index(e, " `"); j >= 0 {
				if k := strings.LastIndex(e, "` "); k > j {
					e = e[:j] + e[k+1:]
				}
			}
			msgs[i] = withKey(e, root)
		}
		return strings.Join(msgs, "; ")
	}
	return err.Error()
}

// withKey turns "line 7: cannot unmarshal …" into
// "coffer.limits.max_value_bytes (line 7): cannot unmarshal …" when a value
// on line 7 of root has a key; otherwise msg is returned as it is.
func withKey(msg string, root *yaml.Node) string {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok || root == nil {
		return msg
	}
	num, detail, ok := strings.Cut(rest, ": ")
	line, err := strconv.Atoi(num)
	if !ok || err != nil {
		return msg
	}
	tag := ""
	if t, ok := strings.CutPrefix(detail, "cannot unmarshal "); ok {
		tag, _, _ = strings.Cut(t, " ")
	}
	key := keyOnLine(root, line, tag, "")
	if key == "" {
		return msg
	}
	return fmt.Sprintf("%s (line %d): %s", key, line, detail)
}

// keyOnLine returns the dotted path (with [i] for list items) of the first
// value under n that is on line and has the YAML tag (e.g. "!!str"), or "".
// Children come first: in a flow collection ("[a, [b]]") the innermost value
// on the line is the one that failed.
func keyOnLine(n *yaml.Node, line int, tag, path string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if k := keyOnLine(c, line, tag, path); k != "" {
				return k
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			if k := keyOnLine(n.Content[i+1], line, tag, p); k != "" {
				return k
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if k := keyOnLine(c, line, tag, fmt.Sprintf("%s[%d]", path, i)); k != "" {
				return k
			}
		}
	}
	if path != "" && n.Line == line && n.ShortTag() == tag {
		return path
	}
	return ""
}

// finish derives settings that depend on others.
func (c *Config) finish() {
	c.applyService()
	c.Warnings = append(c.Warnings, c.Coffer.HTTP.warnings()...)
	if c.Platform.NGCAPIKeySecret == nil { // YAML null: the feature is off
		off := ""
		c.Platform.NGCAPIKeySecret = &off
	}
	if c.Secrets.LocalKeyCreationPath == "" {
		c.Secrets.LocalKeyCreationPath = filepath.Join(c.Coffer.DataDir, "nmp-encryption-key.txt")
	}
}

// NGCValue reads the variable the virtual NGC secret serves (once, at startup).
func (c *Config) NGCValue(lookup func(string) (string, bool)) string {
	v, _ := lookup(c.Platform.NGCAPIKeyEnvVar)
	return v
}

// SQLitePath returns the SQLite file, or "" when PostgreSQL is configured.
func (c *Config) SQLitePath() string {
	dsn := c.Coffer.Database.DSN
	switch {
	case dsn == "":
		return filepath.Join(c.Coffer.DataDir, "coffer.db")
	case strings.HasPrefix(dsn, "sqlite:"):
		return strings.TrimPrefix(dsn, "sqlite:")
	}
	return ""
}

// IsPostgres reports whether the DSN selects PostgreSQL.
func (c *Config) IsPostgres() bool {
	dsn := c.Coffer.Database.DSN
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
