package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// EncryptionConfig is the `secrets.encryption` section. The JSON tags let
// NMP_SECRETS_ENCRYPTION (a JSON object of the same shape) decode into it.
type EncryptionConfig struct {
	// CurrentProvider wraps every new DEK; "" is the development key.
	CurrentProvider string          `yaml:"current_provider" json:"current_provider"`
	Providers       ProvidersConfig `yaml:"providers" json:"providers"`
}

// ProvidersConfig is `secrets.encryption.providers`: providers by kind, then
// by name. Names are unique across kinds.
type ProvidersConfig struct {
	SecretKey map[string]SecretKeyConfig `yaml:"secret_key" json:"secret_key"`
	Vault     map[string]VaultConfig     `yaml:"vault" json:"vault"`
}

// SecretKeyConfig is `secrets.encryption.providers.secret_key.<name>`. The
// first source set, in the order FromEnv, FromFile, Value, supplies the
// base64 key.
type SecretKeyConfig struct {
	Value    string `yaml:"value" json:"value"`
	FromEnv  string `yaml:"from_env" json:"from_env"`
	FromFile string `yaml:"from_file" json:"from_file"`
}

// VaultConfig is `secrets.encryption.providers.vault.<name>` (docs/key-management.md §3). Empty fields take the defaults of docs/crypto.md §6 when the provider
// is built.
type VaultConfig struct {
	KeyName        string `yaml:"key_name" json:"key_name"`
	Mount          string `yaml:"mount" json:"mount"`
	Address        string `yaml:"address" json:"address"`
	Token          string `yaml:"token" json:"token"`
	Namespace      string `yaml:"namespace" json:"namespace"`
	CACert         string `yaml:"ca_cert" json:"ca_cert"`
	TimeoutSeconds int    `yaml:"timeout_seconds" json:"timeout_seconds"`
	// MaxRetries is how often a Transit call is retried after a 5xx, a 429
	// or a connection error; nil means DefaultVaultMaxRetries.
	MaxRetries *int `yaml:"max_retries" json:"max_retries"`
	// AuthMethod is how Coffer gets its Vault token: "token" (the default:
	// Token, VAULT_TOKEN or ~/.vault-token), "approle" or "kubernetes".
	AuthMethod string               `yaml:"auth_method" json:"auth_method"`
	AppRole    AppRoleConfig        `yaml:"approle" json:"approle"`
	Kubernetes KubernetesAuthConfig `yaml:"kubernetes" json:"kubernetes"`
}

// AppRoleConfig is the `approle` block of a vault provider: a login with a
// role id and a secret id, each given inline or read from a file (read at
// every login, so a rotated secret id file is picked up).
type AppRoleConfig struct {
	Mount        string `yaml:"mount" json:"mount"`
	RoleID       string `yaml:"role_id" json:"role_id"`
	RoleIDFile   string `yaml:"role_id_file" json:"role_id_file"`
	SecretID     string `yaml:"secret_id" json:"secret_id"`
	SecretIDFile string `yaml:"secret_id_file" json:"secret_id_file"`
}

// KubernetesAuthConfig is the `kubernetes` block of a vault provider: a
// login with the pod's service-account token (re-read at every login, since
// the kubelet rotates it).
type KubernetesAuthConfig struct {
	Mount     string `yaml:"mount" json:"mount"`
	Role      string `yaml:"role" json:"role"`
	TokenFile string `yaml:"token_file" json:"token_file"`
}

// String hides the secret id.
func (c AppRoleConfig) String() string {
	return fmt.Sprintf("{mount:%s role_id:%s role_id_file:%s secret_id:%s secret_id_file:%s}",
		c.Mount, c.RoleID, c.RoleIDFile, redact(c.SecretID), c.SecretIDFile)
}

// GoString is String for %#v.
func (c AppRoleConfig) GoString() string { return "keys.AppRoleConfig" + c.String() }

// LogValue logs the settings with the secret id replaced by Redacted.
func (c AppRoleConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mount", c.Mount), slog.String("role_id", c.RoleID),
		slog.String("role_id_file", c.RoleIDFile), slog.String("secret_id", redact(c.SecretID)),
		slog.String("secret_id_file", c.SecretIDFile))
}

// redact shows whether a secret field is set without showing it.
func redact(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String prints the sources with the inline key replaced by Redacted.
func (c SecretKeyConfig) String() string {
	return fmt.Sprintf("{value:%s from_env:%s from_file:%s}", redact(c.Value), c.FromEnv, c.FromFile)
}

// GoString is String for %#v.
func (c SecretKeyConfig) GoString() string {
	return fmt.Sprintf("keys.SecretKeyConfig{Value:%q, FromEnv:%q, FromFile:%q}", redact(c.Value), c.FromEnv, c.FromFile)
}

// LogValue logs the sources with the inline key replaced by Redacted.
func (c SecretKeyConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("value", redact(c.Value)),
		slog.String("from_env", c.FromEnv), slog.String("from_file", c.FromFile))
}

// String prints the settings with the token replaced by Redacted.
func (c VaultConfig) String() string {
	return fmt.Sprintf("{key_name:%s mount:%s address:%s token:%s namespace:%s ca_cert:%s timeout_seconds:%d max_retries:%s auth_method:%s approle:%s kubernetes:%+v}",
		c.KeyName, c.Mount, c.Address, redact(c.Token), c.Namespace, c.CACert, c.TimeoutSeconds, intOrUnset(c.MaxRetries),
		c.AuthMethod, c.AppRole, c.Kubernetes)
}

// GoString is String for %#v.
func (c VaultConfig) GoString() string {
	return fmt.Sprintf("keys.VaultConfig{KeyName:%q, Mount:%q, Address:%q, Token:%q, Namespace:%q, CACert:%q, TimeoutSeconds:%d, MaxRetries:%s, AuthMethod:%q, AppRole:%#v, Kubernetes:%#v}",
		c.KeyName, c.Mount, c.Address, redact(c.Token), c.Namespace, c.CACert, c.TimeoutSeconds, intOrUnset(c.MaxRetries),
		c.AuthMethod, c.AppRole, c.Kubernetes)
}

// LogValue logs the settings with the token replaced by Redacted.
func (c VaultConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key_name", c.KeyName), slog.String("mount", c.Mount),
		slog.String("address", c.Address), slog.String("token", redact(c.Token)),
		slog.String("namespace", c.Namespace), slog.String("ca_cert", c.CACert),
		slog.Int("timeout_seconds", c.TimeoutSeconds), slog.String("max_retries", intOrUnset(c.MaxRetries)),
		slog.String("auth_method", c.AuthMethod), slog.Any("approle", c.AppRole),
		slog.String("kubernetes_mount", c.Kubernetes.Mount), slog.String("kubernetes_role", c.Kubernetes.Role),
		slog.String("kubernetes_token_file", c.Kubernetes.TokenFile))
}

func intOrUnset(p *int) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(*p)
}

// maxKeyFileSize bounds what is read from a key file, so that a path
// pointing at a device or a large file fails instead of hanging or filling
// memory. A 32-byte key is 44 characters.
const maxKeyFileSize = 64 << 10

// ResolveSecretKey reads the key of secret_key provider name from its
// configured source and returns the provider. Sources are tried in the order
// from_env, from_file, value; the first one set wins and a warning is logged
// when more than one is set. Errors are the messages of docs/crypto.md §6.
func ResolveSecretKey(name string, c SecretKeyConfig, log *slog.Logger) (*SecretKey, error) {
	log = orDiscard(log)
	prefix := "secrets.encryption.providers.secret_key." + name
	var set []string
	for _, s := range []struct{ src, v string }{{"from_env", c.FromEnv}, {"from_file", c.FromFile}, {"value", c.Value}} {
		if s.v != "" {
			set = append(set, s.src)
		}
	}
	if len(set) == 0 {
		return nil, startupError(prefix + ": one of value, from_env or from_file is required")
	}
	if len(set) > 1 {
		log.Warn("secret_key provider has more than one key source; the first of from_env, from_file, value is used",
			"provider", name, "sources", set, "using", set[0])
	}
	src := set[0]
	prefix += "." + src
	var text []byte
	switch src {
	case "from_env":
		text = bytes.TrimSpace([]byte(os.Getenv(c.FromEnv)))
		if len(text) == 0 {
			return nil, startupError(prefix + ": environment variable " + c.FromEnv + " is not set or empty")
		}
	case "from_file":
		var err error
		text, err = readKeyFile(c.FromFile, prefix, log)
		if err != nil {
			return nil, err
		}
	default:
		text = []byte(c.Value)
	}
	defer clear(text)
	key, err := decodeKey(prefix, text)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return NewSecretKey(name, key)
}

// decodeKey applies the decoding rules of docs/key-management.md §2: surrounding
// whitespace trimmed, then strict standard base64 of at least 32 bytes.
// Stray characters are refused rather than skipped (as the reference did), so
// a key never silently decodes to something other than what the operator
// generated.
func decodeKey(prefix string, text []byte) ([]byte, error) {
	key, err := envelope.DecodeBase64(string(bytes.TrimSpace(text)))
	if err != nil {
		return nil, startupError(prefix + ": not valid base64")
	}
	if len(key) < MinKeySize {
		clear(key)
		return nil, errKeyTooShort(prefix, len(key))
	}
	return key, nil
}

// readKeyFile reads a key file, warning when group or others may read it.
// Errors are "<prefix>: cannot read <path>: <OS error>".
func readKeyFile(path, prefix string, log *slog.Logger) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cannotRead(prefix, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, cannotRead(prefix, path, err)
	}
	warnIfShared(log, prefix, path, fi)
	text, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		clear(text)
		return nil, cannotRead(prefix, path, err)
	}
	if len(text) > maxKeyFileSize {
		clear(text)
		return nil, startupError(prefix + ": cannot read " + path + ": larger than " +
			strconv.Itoa(maxKeyFileSize) + " bytes, not a key file")
	}
	return text, nil
}

// cannotRead drops the path from *fs.PathError (the message names it once)
// and keeps only the OS reason, e.g. "permission denied".
func cannotRead(prefix, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &readError{msg: prefix + ": cannot read " + path + ": " + err.Error(), err: err}
}

// readError keeps the OS reason reachable with errors.Is (for example
// fs.ErrNotExist) while its text is the startup message.
type readError struct {
	msg string
	err error
}

func (e *readError) Error() string { return e.msg }
func (e *readError) Unwrap() error { return e.err }

// warnIfShared logs a warning when a key file is readable by group or
// others: anyone who can read it can decrypt every secret it protects.
func warnIfShared(log *slog.Logger, key, path string, fi fs.FileInfo) {
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o044 != 0 {
		log.Warn("key file is readable by group or others; restrict it with chmod 600",
			"key", key, "path", path, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
	}
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
