package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/coffer-dev/coffer/internal/keys"
)

// envVar binds one environment variable to a setting. A variable that is
// set, even to "", overrides the file.
type envVar struct {
	name string
	set  func(c *Config, v string) error
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func integer(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		*p(c) = n
		return nil
	}
}

var envVars = []envVar{
	{"COFFER_LISTEN", str(func(c *Config) *string { return &c.Coffer.Listen })},
	{"COFFER_DATA_DIR", str(func(c *Config) *string { return &c.Coffer.DataDir })},
	{"COFFER_DATABASE_DSN", str(func(c *Config) *string { return &c.Coffer.Database.DSN })},
	{"COFFER_DATABASE_MAX_OPEN_CONNS", integer(func(c *Config) *int { return &c.Coffer.Database.MaxOpenConns })},
	{"COFFER_MAX_VALUE_BYTES", integer(func(c *Config) *int { return &c.Coffer.Limits.MaxValueBytes })},
	{"COFFER_MAX_DESCRIPTION_CHARS", integer(func(c *Config) *int { return &c.Coffer.Limits.MaxDescriptionChars })},
	{"COFFER_MAX_BODY_BYTES", integer(func(c *Config) *int { return &c.Coffer.Limits.MaxBodyBytes })},
	{"COFFER_ROTATION_BATCH_SIZE", integer(func(c *Config) *int { return &c.Coffer.Rotation.BatchSize })},
	{"COFFER_HTTP_READ_HEADER_TIMEOUT_SECONDS", integer(func(c *Config) *int { return &c.Coffer.HTTP.ReadHeaderTimeoutSeconds })},
	{"COFFER_HTTP_READ_TIMEOUT_SECONDS", integer(func(c *Config) *int { return &c.Coffer.HTTP.ReadTimeoutSeconds })},
	{"COFFER_HTTP_MAX_IN_FLIGHT", integer(func(c *Config) *int { return &c.Coffer.HTTP.MaxInFlight })},
	{"COFFER_TLS_CERT_FILE", str(func(c *Config) *string { return &c.Coffer.TLS.CertFile })},
	{"COFFER_TLS_KEY_FILE", str(func(c *Config) *string { return &c.Coffer.TLS.KeyFile })},
	{"COFFER_LOG_LEVEL", str(func(c *Config) *string { return &c.Coffer.Log.Level })},
	{"COFFER_LOG_FORMAT", str(func(c *Config) *string { return &c.Coffer.Log.Format })},
	{"COFFER_TRUSTED_HEADER_NETWORKS", func(c *Config, v string) error {
		c.Coffer.Auth.TrustedHeaderNetworks = splitList(v)
		return nil
	}},
	{"NMP_NGC_API_KEY_SECRET", func(c *Config, v string) error { c.Platform.NGCAPIKeySecret = &v; return nil }},
	{"NMP_NGC_API_KEY_ENV_VAR", str(func(c *Config) *string { return &c.Platform.NGCAPIKeyEnvVar })},
	{"NMP_SECRETS_ENCRYPTION", func(c *Config, v string) error {
		var e keys.EncryptionConfig
		if err := yaml.Unmarshal([]byte(v), &e); err != nil {
			return fmt.Errorf("not a JSON object of the secrets.encryption shape")
		}
		c.Secrets.Encryption = e
		return nil
	}},
	{"NMP_SECRETS_ENCRYPTION_CURRENT_PROVIDER", str(func(c *Config) *string { return &c.Secrets.Encryption.CurrentProvider })},
	{"NMP_SECRETS_ALLOW_KEY_CREATION", func(c *Config, v string) error {
		b, err := ParseBool(v)
		c.Secrets.AllowKeyCreation = &b
		return err
	}},
	{"NMP_SECRETS_LOCAL_KEY_CREATION_PATH", str(func(c *Config) *string { return &c.Secrets.LocalKeyCreationPath })},
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	if err := c.Auth.ApplyEnv(lookup); err != nil {
		return err
	}
	for _, e := range envVars {
		v, ok := lookup(e.name)
		if !ok {
			continue
		}
		if err := e.set(c, v); err != nil {
			return fmt.Errorf("environment variable %s: %v", e.name, err)
		}
	}
	return nil
}

// ParseBool accepts true/false, 1/0, yes/no and on/off in any case.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (true/false, 1/0, yes/no, on/off)")
}

// splitList accepts a JSON array or a comma-separated string.
func splitList(v string) []string {
	v = strings.TrimSpace(v)
	var arr []string
	if strings.HasPrefix(v, "[") && json.Unmarshal([]byte(v), &arr) == nil {
		return arr
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
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
