package config

import (
	"fmt"
	"github.com/coffer-dev/coffer/internal/config/envvar"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/coffer-dev/coffer/internal/keys"
)

var envVars = []envvar.Var[Config]{
	{Name: "COFFER_LISTEN", Set: func(c *Config, v string) error { c.Coffer.Listen, c.listenSet = v, true; return nil }},
	{Name: "COFFER_DATA_DIR", Set: envvar.String(func(c *Config) *string { return &c.Coffer.DataDir })},
	{Name: "COFFER_DATABASE_DSN", Set: envvar.String(func(c *Config) *string { return &c.Coffer.Database.DSN })},
	{Name: "COFFER_DATABASE_MAX_OPEN_CONNS", Set: envvar.Int(func(c *Config) *int { return &c.Coffer.Database.MaxOpenConns })},
	{Name: "COFFER_MAX_VALUE_BYTES", Set: envvar.Int(func(c *Config) *int { return &c.Coffer.Limits.MaxValueBytes })},
	{Name: "COFFER_MAX_DESCRIPTION_CHARS", Set: envvar.Int(func(c *Config) *int { return &c.Coffer.Limits.MaxDescriptionChars })},
	{Name: "COFFER_MAX_BODY_BYTES", Set: envvar.Int(func(c *Config) *int { return &c.Coffer.Limits.MaxBodyBytes })},
	{Name: "COFFER_ROTATION_BATCH_SIZE", Set: envvar.Int(func(c *Config) *int { return &c.Coffer.Rotation.BatchSize })},
	{Name: "COFFER_TLS_CERT_FILE", Set: envvar.String(func(c *Config) *string { return &c.Coffer.TLS.CertFile })},
	{Name: "COFFER_TLS_KEY_FILE", Set: envvar.String(func(c *Config) *string { return &c.Coffer.TLS.KeyFile })},
	{Name: "COFFER_LOG_LEVEL", Set: envvar.String(func(c *Config) *string { return &c.Coffer.Log.Level })},
	{Name: "COFFER_LOG_FORMAT", Set: func(c *Config, v string) error { c.Coffer.Log.Format, c.logFormatSet = v, true; return nil }},
	{Name: "COFFER_METRICS_ENABLED", Set: envvar.Bool(func(c *Config) *bool { return &c.Coffer.Metrics.Enabled })},
	{Name: "COFFER_ADMIN_LISTEN", Set: envvar.String(func(c *Config) *string { return &c.Coffer.Admin.Listen })},
	{Name: "COFFER_CONSOLE_CLIENT_ID", Set: envvar.String(func(c *Config) *string { return &c.Coffer.Console.ClientID })},
	{Name: "COFFER_TRUSTED_HEADER_NETWORKS", Set: envvar.List(func(c *Config) *envvar.StringList { return &c.Coffer.Auth.TrustedHeaderNetworks })},
	{Name: "NMP_NGC_API_KEY_SECRET", Set: func(c *Config, v string) error { c.Platform.NGCAPIKeySecret = &v; return nil }},
	{Name: "NMP_NGC_API_KEY_ENV_VAR", Set: envvar.String(func(c *Config) *string { return &c.Platform.NGCAPIKeyEnvVar })},
	{Name: "NMP_SECRETS_ENCRYPTION", Set: func(c *Config, v string) error {
		var e keys.EncryptionConfig
		if err := yaml.Unmarshal([]byte(v), &e); err != nil {
			return fmt.Errorf("not a JSON object of the secrets.encryption shape")
		}
		c.Secrets.Encryption = e
		return nil
	}},
	{Name: "NMP_SECRETS_ENCRYPTION_CURRENT_PROVIDER", Set: envvar.String(func(c *Config) *string { return &c.Secrets.Encryption.CurrentProvider })},
	{Name: "NMP_SECRETS_ALLOW_KEY_CREATION", Set: func(c *Config, v string) error {
		b, err := envvar.ParseBool(v)
		c.Secrets.AllowKeyCreation = &b
		return err
	}},
	{Name: "COFFER_MAX_VERSIONS", Set: envvar.Int(func(c *Config) *int { return &c.Secrets.MaxVersions })},
	{Name: "COFFER_DELETED_RETENTION", Set: envvar.String(func(c *Config) *string { return &c.Secrets.DeletedRetention })},
	{Name: "NMP_SECRETS_LOCAL_KEY_CREATION_PATH", Set: envvar.String(func(c *Config) *string { return &c.Secrets.LocalKeyCreationPath })},
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	if err := c.Auth.ApplyEnv(lookup); err != nil {
		return err
	}
	if err := envvar.Apply(c, envVars, lookup); err != nil {
		return err
	}
	if err := envvar.Apply(c, intEnvVars(httpKeys), lookup); err != nil {
		return err
	}
	return envvar.Apply(c, auditEnvVars, lookup)
}

// unknownCofferKeys lists keys under coffer: that no setting reads, so a typo
// does not silently fall back to a default. Other sections belong to the
// wider platform configuration and are ignored.
func unknownCofferKeys(root *yaml.Node) []string {
	if n := section(root, "coffer"); n != nil {
		return unknownKeys(n, reflect.TypeOf(Coffer{}), "coffer")
	}
	return nil
}

// section returns the mapping under a top-level key, or nil.
func section(root *yaml.Node, key string) *yaml.Node {
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	doc := root.Content[0]
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == key {
			return doc.Content[i+1]
		}
	}
	return nil
}

// sectionKeys lists the keys directly under a top-level section.
func sectionKeys(root *yaml.Node, key string) []string {
	n := section(root, key)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

func unknownKeys(n *yaml.Node, t reflect.Type, prefix string) []string {
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fields[strings.Split(f.Tag.Get("yaml"), ",")[0]] = f.Type
	}
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		ft, ok := fields[key]
		if !ok {
			out = append(out, prefix+"."+key)
			continue
		}
		out = append(out, unknownKeys(n.Content[i+1], ft, prefix+"."+key)...)
	}
	return out
}
