package envelope

import "context"

// Keyring holds every configured provider and names the current one, which
// wraps all new DEKs. It is built once at startup and shared by all requests.
type Keyring struct {
	providers map[string]Provider
	current   string
}

// NewKeyring returns a keyring whose current provider is current; it must be
// one of ps. Provider names must be unique.
func NewKeyring(current string, ps ...Provider) (*Keyring, error) {
	panic("TODO(envelope helper)")
}

// Current is the name of the provider that wraps new DEKs.
func (k *Keyring) Current() string { return k.current }

// Has reports whether a provider with this name is configured.
func (k *Keyring) Has(name string) bool { _, ok := k.providers[name]; return ok }

// IsCurrent reports whether s needs no rotation.
func (k *Keyring) IsCurrent(s Sealed) bool { return s.Provider == k.current && s.Format == 2 }

// Seal encrypts value as a format-2 record of ws/name under the current provider.
func (k *Keyring) Seal(ctx context.Context, ws, name string, value []byte) (Sealed, error) {
	panic("TODO(envelope helper)")
}

// Open decrypts s, stored as ws/name, with the provider it names.
func (k *Keyring) Open(ctx context.Context, ws, name string, s Sealed) ([]byte, error) {
	panic("TODO(envelope helper)")
}
