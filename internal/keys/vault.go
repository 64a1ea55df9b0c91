package keys

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// Defaults of a vault provider (docs/crypto.md §6). The key name is the
// reference's, so a NeMo Platform Vault setup works unchanged.
const (
	DefaultVaultKeyName = "nemo-platform-key"
	DefaultVaultMount   = "transit"
	DefaultVaultTimeout = 5 * time.Second
	// DefaultVaultMaxRetries is how often a failed call is retried.
	DefaultVaultMaxRetries = 2
	// maxVaultRetries bounds max_retries: more would hold a request for
	// longer than any client waits.
	maxVaultRetries = 10
)

// Tuning of the shared HTTP client. Every secret write and read costs one
// Transit call, so connections are kept and reused; the idle timeout stays
// under the 60 s that common load balancers use, so Coffer drops an idle
// connection before a balancer does and a request never races a close.
const (
	vaultMaxIdleConns        = 128
	vaultMaxIdleConnsPerHost = 64
	vaultIdleConnTimeout     = 30 * time.Second
	// vaultMaxReply bounds a Transit reply read into memory; real ones are
	// a few hundred bytes.
	vaultMaxReply = 64 << 10
	// vaultMaxWrapped bounds a stored Transit ciphertext accepted for
	// unwrapping; a wrapped 32-byte DEK is about 90 bytes.
	vaultMaxWrapped = 4 << 10
)

// Vault is the vault provider: DEKs are wrapped by a HashiCorp Vault or
// OpenBao Transit key over its HTTP API (docs/key-management.md §3). It is built once
// at startup with one HTTP client whose connections all requests share, and
// is safe for concurrent use. Its errors carry an HTTP status or a network
// error class, never a token, DEK or reply body.
type Vault struct {
	name       string
	prefix     string // configuration key, for startup messages
	addr       string
	encryptURL string
	decryptURL string
	namespace  string
	timeout    time.Duration
	maxRetries int
	client     *http.Client
	log        *slog.Logger
	observe    func(CallEvent)
	login      *vaultLogin // nil: auth_method token
	life       tokenLife
}

// CallEvent describes one Vault call (with its retries) for metrics: Op is
// encrypt, decrypt, login, renew or lookup; Err is nil on success.
type CallEvent struct {
	Provider string
	Op       string
	Attempts int
	Duration time.Duration
	Err      error
}

// Option adjusts a provider built by Build or NewVault.
type Option func(*providerOptions)

type providerOptions struct {
	observe func(CallEvent)
}

// WithCallObserver has every vault provider report each Vault call, so the
// server can count them without this package importing a metrics library.
// The hook runs on the request path and must be quick.
func WithCallObserver(f func(CallEvent)) Option {
	return func(o *providerOptions) { o.observe = f }
}

var _ envelope.Provider = (*Vault)(nil)

// NewVault resolves the settings of vault provider name (defaults from
// VAULT_ADDR, VAULT_TOKEN, ~/.vault-token and VAULT_CACERT, read now and
// never again) and builds its HTTP client. It does not contact Vault; Build
// calls Probe for that. Errors are the startup messages of docs/crypto.md §6.
func NewVault(name string, c VaultConfig, log *slog.Logger, opts ...Option) (*Vault, error) {
	log = orDiscard(log)
	var o providerOptions
	for _, f := range opts {
		f(&o)
	}
	prefix := "secrets.encryption.providers.vault." + name
	addr, err := vaultAddress(prefix, c.Address)
	if err != nil {
		return nil, err
	}
	login, err := newVaultLogin(prefix, addr, c)
	if err != nil {
		return nil, err
	}
	var token, source string
	if login == nil {
		if token, source, err = vaultToken(prefix, c.Token, log); err != nil {
			return nil, err
		}
	}
	tlsConf, err := vaultTLS(prefix, c.CACert)
	if err != nil {
		return nil, err
	}
	if c.TimeoutSeconds < 0 {
		return nil, startupError(prefix + ".timeout_seconds: must be a positive number of seconds")
	}
	retries := DefaultVaultMaxRetries
	if c.MaxRetries != nil {
		retries = *c.MaxRetries
	}
	if retries < 0 || retries > maxVaultRetries {
		return nil, startupError(prefix + ".max_retries: must be between 0 and " + strconv.Itoa(maxVaultRetries))
	}
	mount := cmp.Or(strings.Trim(c.Mount, "/"), DefaultVaultMount)
	keyName := cmp.Or(c.KeyName, DefaultVaultKeyName)
	base := addr + "/v1/" + escapeSegments(mount) + "/"
	v := &Vault{
		name:       name,
		prefix:     prefix,
		addr:       addr,
		encryptURL: base + "encrypt/" + url.PathEscape(keyName),
		decryptURL: base + "decrypt/" + url.PathEscape(keyName),
		namespace:  c.Namespace,
		timeout:    cmp.Or(time.Duration(c.TimeoutSeconds)*time.Second, DefaultVaultTimeout),
		maxRetries: retries,
		client:     newVaultClient(tlsConf),
		log:        log,
		observe:    o.observe,
		login:      login,
		life:       tokenLife{st: tokenState{value: token}, done: make(chan struct{})},
	}
	v.life.ctx, v.life.cancel = context.WithCancel(context.Background())
	method := AuthToken
	if login != nil {
		method, source = login.method, login.url
	}
	log.Info("vault provider configured", "provider", name, "address", addr, "mount", mount,
		"key_name", keyName, "namespace", c.Namespace, "auth_method", method, "token_source", source,
		"timeout", v.timeout.String(), "max_retries", retries)
	return v, nil
}

// buildVault is how Build makes a vault provider: resolved, its token
// looked up (or logged in), then probed. Build has no context, so each
// call is bounded by the provider's own per-request timeout and retries.
func buildVault(name string, c VaultConfig, log *slog.Logger, opts ...Option) (envelope.Provider, error) {
	v, err := NewVault(name, c, log, opts...)
	if err != nil {
		return nil, err
	}
	if err := v.startLife(context.Background()); err != nil {
		v.Close()
		return nil, err
	}
	if err := v.Probe(context.Background()); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// vaultAddress applies the address default and checks it is a URL Coffer can
// call. The address is not echoed: it may carry credentials in its userinfo.
func vaultAddress(prefix, configured string) (string, error) {
	addr := configured
	if addr == "" {
		addr = os.Getenv("VAULT_ADDR")
	}
	addr = strings.TrimRight(strings.TrimSpace(addr), "/")
	if addr == "" {
		return "", startupError(prefix + ".address: not set and VAULT_ADDR is empty")
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", startupError(prefix + ".address: must be an http:// or https:// URL with a host and no credentials, query or fragment")
	}
	return addr, nil
}

// vaultToken applies the token defaults in the Vault CLI's order: the
// configured token, VAULT_TOKEN, then the file ~/.vault-token (trimmed).
// source says which one was used, for the startup log. When none yields a
// token the message starts with the §2.5 text and says what happened to the
// file, since an operator relying on it needs to know why it was not used.
func vaultToken(prefix, configured string, log *slog.Logger) (token, source string, err error) {
	key := prefix + ".token"
	token, source = strings.TrimSpace(configured), "config"
	if token == "" {
		token, source = strings.TrimSpace(os.Getenv("VAULT_TOKEN")), "VAULT_TOKEN"
	}
	if token == "" {
		token, source, err = vaultTokenFile(key, log)
		if err != nil {
			return "", "", err
		}
	}
	// Anything outside printable ASCII would be refused as a header value
	// on every request; fail once, at startup, without echoing it.
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] >= 0x7f {
			return "", "", startupError(key + ": contains whitespace, control or non-ASCII characters")
		}
	}
	return token, source, nil
}

// vaultTokenFile reads ~/.vault-token, where `vault login` stores a token.
func vaultTokenFile(key string, log *slog.Logger) (token, source string, err error) {
	const none = ": not set and VAULT_TOKEN is empty, and "
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", "", startupError(key + none + "there is no home directory to find ~/.vault-token in")
	}
	path := filepath.Join(home, ".vault-token")
	text, err := readKeyFile(path, key, log)
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", startupError(key + none + path + " does not exist")
	}
	if err != nil {
		var re *readError
		if errors.As(err, &re) {
			return "", "", startupError(key + none + "cannot read " + path + ": " + re.err.Error())
		}
		return "", "", err
	}
	defer clear(text)
	token = string(bytes.TrimSpace(text))
	if token == "" {
		return "", "", startupError(key + none + path + " is empty")
	}
	return token, path, nil
}

// vaultTLS trusts only the CA bundle of ca_cert (or VAULT_CACERT) when one
// is given, as the Vault CLI does, and the system roots otherwise.
func vaultTLS(prefix, configured string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	path := cmp.Or(configured, os.Getenv("VAULT_CACERT"))
	if path == "" {
		return conf, nil
	}
	key := prefix + ".ca_cert"
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, cannotRead(key, path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, startupError(key + ": " + path + " holds no PEM certificate")
	}
	conf.RootCAs = pool
	return conf, nil
}

// newVaultClient builds the one client a provider uses for its lifetime.
// Redirects are refused: Vault sends them from standby nodes, and following
// one would hand the token to whatever host the Location names. Point the
// address at the active node or a load balancer instead.
func newVaultClient(conf *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = vaultMaxIdleConns
	t.MaxIdleConnsPerHost = vaultMaxIdleConnsPerHost
	t.IdleConnTimeout = vaultIdleConnTimeout
	t.TLSClientConfig = conf
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// escapeSegments escapes each segment of a mount path (which may be nested,
// e.g. "team/transit") while keeping its slashes.
func escapeSegments(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Name is the configured provider name stored with each record.
func (v *Vault) Name() string { return v.name }

// WrapV2 has Transit encrypt base64(dek) and returns the ASCII ciphertext
// (vault:vN:…). No associated data is sent, so every Vault and OpenBao
// version and key type works; the record's data AAD binds ws/name.
func (v *Vault) WrapV2(ctx context.Context, dek []byte, _, _ string) ([]byte, error) {
	if len(dek) != envelope.DEKSize {
		return nil, envelope.ErrEncrypt
	}
	return v.encrypt(ctx, dek)
}

// UnwrapV2 has Transit decrypt a format-2 wrap; the result must be exactly
// a 32-byte DEK.
func (v *Vault) UnwrapV2(ctx context.Context, wrapped []byte, _, _ string) ([]byte, error) {
	dek, err := v.decrypt(ctx, wrapped)
	if err != nil {
		return nil, err
	}
	if len(dek) != envelope.DEKSize {
		clear(dek)
		return nil, v.fail("decrypt", "unexpected plaintext length", envelope.ErrDecrypt)
	}
	return dek, nil
}

// UnwrapV1 has Transit decrypt a reference wrap, whose plaintext is the
// 44-character base64 text of the DEK (base64-encoded once more on the
// wire), and decodes that text to the raw DEK.
func (v *Vault) UnwrapV1(ctx context.Context, wrapped []byte) ([]byte, error) {
	text, err := v.decrypt(ctx, wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(text)
	dek, err := envelope.DecodeDEKText(text)
	if err != nil {
		return nil, v.fail("decrypt", "unexpected plaintext", envelope.ErrDecrypt)
	}
	return dek, nil
}

// Probe encrypts then decrypts 32 random bytes and compares them
// (docs/crypto.md §6), so a wrong address, token, policy, key name or CA is
// found at startup rather than on the first write. Its error is the startup
// message, ending in the HTTP status or network error class.
func (v *Vault) Probe(ctx context.Context) error {
	want := make([]byte, envelope.DEKSize)
	_, _ = rand.Read(want) // crypto/rand.Read never fails (Go 1.24+)
	wrapped, err := v.WrapV2(ctx, want, "", "")
	var got []byte
	if err == nil {
		got, err = v.UnwrapV2(ctx, wrapped, "", "")
	}
	if err == nil && !bytes.Equal(got, want) {
		err = &transitError{class: "decrypted value differs", kind: envelope.ErrDecrypt}
	}
	clear(got)
	if err != nil {
		return startupError(v.prefix + ": Transit round trip failed: " + errorClass(err))
	}
	return nil
}

// String hides the token so that no format verb can print it.
func (v *Vault) String() string { return Redacted }

// GoString hides the token from %#v.
func (v *Vault) GoString() string { return Redacted }

// LogValue hides the token from log/slog.
func (v *Vault) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON hides the token from encoding/json.
func (v *Vault) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }
