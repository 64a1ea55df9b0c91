package config

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/auth"
)

// validate checks every setting and names the first bad key.
func (c *Config) validate() error {
	co := c.Coffer
	positive := []struct {
		key string
		v   int
	}{
		{"coffer.database.max_open_conns", co.Database.MaxOpenConns},
		{"coffer.limits.max_value_bytes", co.Limits.MaxValueBytes},
		{"coffer.limits.max_description_chars", co.Limits.MaxDescriptionChars},
		{"coffer.limits.max_body_bytes", co.Limits.MaxBodyBytes},
		{"coffer.rotation.batch_size", co.Rotation.BatchSize},
		{"secrets.max_versions", c.Secrets.MaxVersions},
	}
	for _, p := range positive {
		if p.v < 1 {
			return fmt.Errorf("%s must be at least 1, got %d", p.key, p.v)
		}
	}
	if err := validateInts(c, httpKeys); err != nil {
		return err
	}
	if err := c.validateService(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(co.Listen); err != nil {
		return fmt.Errorf("coffer.listen must be host:port, got %q", co.Listen)
	}
	if co.Admin.Listen != "" {
		_, port, err := net.SplitHostPort(co.Admin.Listen)
		if err != nil {
			return fmt.Errorf("coffer.admin.listen must be host:port or empty, got %q", co.Admin.Listen)
		}
		if co.Admin.Listen == co.Listen && port != "0" { // port 0: each gets a free port
			return fmt.Errorf("coffer.admin.listen must differ from coffer.listen (pprof is never served on the main listener)")
		}
	}
	if d, err := time.ParseDuration(c.Secrets.DeletedRetention); err != nil || d < 0 {
		return fmt.Errorf("secrets.deleted_retention must be a duration such as 168h or 0, got %q", c.Secrets.DeletedRetention)
	}
	if err := co.Audit.validate(); err != nil {
		return err
	}
	if co.DataDir == "" {
		return fmt.Errorf("coffer.data_dir must not be empty")
	}
	if err := c.validateDSN(); err != nil {
		return err
	}
	if (co.TLS.CertFile == "") != (co.TLS.KeyFile == "") {
		return fmt.Errorf("coffer.tls.cert_file and coffer.tls.key_file must be set together")
	}
	switch co.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("coffer.log.level must be debug, info, warn or error, got %q", co.Log.Level)
	}
	if co.Log.Format != "text" && co.Log.Format != "json" {
		return fmt.Errorf("coffer.log.format must be text or json, got %q", co.Log.Format)
	}
	if _, err := auth.ParseNetworks(co.Auth.TrustedHeaderNetworks); err != nil {
		return err
	}
	if err := c.Auth.Validate(); err != nil {
		return err
	}
	return c.validateNGC()
}

func (c *Config) validateDSN() error {
	dsn := c.Coffer.Database.DSN
	switch {
	case dsn == "", c.IsPostgres():
		return nil
	case strings.HasPrefix(dsn, "sqlite:"):
		if c.SQLitePath() == "" {
			return fmt.Errorf("coffer.database.dsn: sqlite: needs a file path")
		}
		return nil
	}
	return fmt.Errorf("coffer.database.dsn must be empty, sqlite:<path>, postgres://… or postgresql://…")
}

func (c *Config) validateNGC() error {
	v := *c.Platform.NGCAPIKeySecret
	if v == "" {
		return nil
	}
	parts := strings.Split(v, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf(`platform.ngc_api_key_secret must be "" or "<workspace>/<name>", got %q`, v)
	}
	if c.Platform.NGCAPIKeyEnvVar == "" {
		return fmt.Errorf("platform.ngc_api_key_env_var must not be empty when platform.ngc_api_key_secret is set")
	}
	return nil
}

// NGC returns the reserved workspace and name ("" when the feature is off).
func (c *Config) NGC() (ws, name string) {
	ws, name, _ = strings.Cut(*c.Platform.NGCAPIKeySecret, "/")
	return ws, name
}

// TrustedNetworks returns the parsed coffer.auth.trusted_header_networks.
func (c *Config) TrustedNetworks() auth.Networks {
	n, _ := auth.ParseNetworks(c.Coffer.Auth.TrustedHeaderNetworks)
	return n
}
