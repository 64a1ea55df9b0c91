package envelope

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
)

// Keyring holds every configured provider and names the current one, which
// wraps all new DEKs. It is built once at startup and shared by all requests.
type Keyring struct {
	providers map[string]Provider
	current   string
	// local names the providers that implement LocalKEK, whose DEKs deks
	// keeps; deks is nil when there are none.
	local map[string]bool
	deks  *dekCache
}

// NewKeyring returns a keyring whose current provider is current; it must be
// one of ps. Provider names must be unique. The error texts are the startup
// messages of docs/crypto.md §6.
func NewKeyring(current string, ps ...Provider) (*Keyring, error) {
	k := &Keyring{providers: make(map[string]Provider, len(ps)), current: current}
	for _, p := range ps {
		if p == nil {
			return nil, errors.New("secrets.encryption.providers: nil provider")
		}
		n := p.Name()
		if _, dup := k.providers[n]; dup {
			return nil, errors.New("secrets.encryption.providers: Duplicate encryptor name found: " + n)
		}
		k.providers[n] = p
		if _, ok := p.(LocalKEK); ok {
			if k.deks == nil {
				k.local, k.deks = make(map[string]bool), newDEKCache()
			}
			k.local[n] = true
		}
	}
	if _, ok := k.providers[current]; !ok {
		return nil, errors.New("secrets.encryption.current_provider: no provider named '" + current +
			"' (configured: " + JoinNames(k.Names()) + ")")
	}
	return k, nil
}

// JoinNames formats configured provider names for startup messages: sorted,
// joined with ", ", the development key ("") shown quoted and an empty list as
// "none", so that an operator can tell what is configured.
func JoinNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	s := slices.Clone(names)
	slices.Sort(s)
	for i, n := range s {
		if n == "" {
			s[i] = "''"
		}
	}
	return strings.Join(s, ", ")
}

// Current is the name of the provider that wraps new DEKs.
func (k *Keyring) Current() string { return k.current }

// Has reports whether a provider with this name is configured.
func (k *Keyring) Has(name string) bool { _, ok := k.providers[name]; return ok }

// IsCurrent reports whether s needs no rotation.
func (k *Keyring) IsCurrent(s Sealed) bool { return s.Provider == k.current && s.Format == 2 }

// Names returns the configured provider names, sorted; "" is the development
// key.
func (k *Keyring) Names() []string {
	names := make([]string, 0, len(k.providers))
	for n := range k.providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Seal encrypts value as a format-2 record of ws/name under the current
// provider with a fresh DEK. Errors are ErrEncrypt or, when the provider's
// backing service cannot be reached, a *ProviderError with Unavailable set.
func (k *Keyring) Seal(ctx context.Context, ws, name string, value []byte) (Sealed, error) {
	p := k.providers[k.current]
	dek, err := NewDEK()
	if err != nil {
		return Sealed{}, ErrEncrypt
	}
	defer Clear(dek)
	data, err := SealDataV2(dek, value, ws, name)
	if err != nil {
		return Sealed{}, ErrEncrypt
	}
	wrapped, err := p.WrapV2(ctx, dek, ws, name)
	if err != nil {
		return Sealed{}, providerFailure(k.current, err, ErrEncrypt)
	}
	return Sealed{Ciphertext: data, WrappedDEK: wrapped, Provider: k.current, Format: FormatV2}, nil
}

// Open decrypts s, stored as ws/name, with the provider it names. It returns
// the value, or ErrDecrypt for anything that does not authenticate (wrong
// key, record, workspace, format or any altered byte), or a *ProviderError
// when the provider is not configured or cannot be reached. It never returns
// a value that was not sealed for exactly this record.
func (k *Keyring) Open(ctx context.Context, ws, name string, s Sealed) ([]byte, error) {
	// Cheap structural checks first, so a corrupt record costs no Vault call.
	switch s.Format {
	case FormatV2:
		if len(s.Ciphertext) < DataOverheadV2 || s.Ciphertext[0] != FormatV2 {
			return nil, ErrDecrypt
		}
	case FormatV1:
		if len(s.Ciphertext) < NonceSize+TagSize {
			return nil, ErrDecrypt
		}
	default:
		return nil, ErrDecrypt
	}
	p, ok := k.providers[s.Provider]
	if !ok {
		return nil, &ProviderError{Provider: s.Provider}
	}
	if s.Format == FormatV1 {
		dek, err := p.UnwrapV1(ctx, s.WrappedDEK)
		defer Clear(dek)
		if err != nil {
			return nil, providerFailure(s.Provider, err, ErrDecrypt)
		}
		if len(dek) != DEKSize {
			return nil, ErrDecrypt
		}
		return OpenDataV1(dek, s.Ciphertext)
	}
	key, cacheable := keyOf(s.Provider, ws, name, s.WrappedDEK)
	cacheable = cacheable && k.local[s.Provider]
	if cacheable {
		var kept [DEKSize]byte
		if k.deks.get(&key, &kept) {
			defer clear(kept[:])
			return OpenDataV2(kept[:], s.Ciphertext, ws, name)
		}
	}
	dek, err := p.UnwrapV2(ctx, s.WrappedDEK, ws, name)
	defer Clear(dek)
	if err != nil {
		return nil, providerFailure(s.Provider, err, ErrDecrypt)
	}
	if len(dek) != DEKSize {
		return nil, ErrDecrypt
	}
	if cacheable {
		k.deks.put(&key, dek)
	}
	return OpenDataV2(dek, s.Ciphertext, ws, name)
}

// Health returns the first error of a provider implementing HealthChecker,
// in name order, or nil when every provider can work.
func (k *Keyring) Health() error {
	for _, n := range k.Names() {
		if h, ok := k.providers[n].(HealthChecker); ok {
			if err := h.Health(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close releases what providers hold beyond a single call, such as a Vault
// provider's token-renewal goroutine: every provider that is an io.Closer
// is closed, in name order, and Close returns once they all are. The first
// error is returned. The keyring must not be used afterwards; the server
// closes it on shutdown, after in-flight requests have ended.
func (k *Keyring) Close() error {
	var first error
	for _, n := range k.Names() {
		if c, ok := k.providers[n].(io.Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// providerFailure maps a provider's error to the Keyring's fixed set. The
// provider's own error is dropped: it may quote a Vault reply. A context
// deadline or cancellation counts as unavailable, since a provider that did
// not answer in time is exactly that.
func providerFailure(name string, err, otherwise error) error {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) {
		return &ProviderError{Provider: name, Unavailable: true}
	}
	return otherwise
}
