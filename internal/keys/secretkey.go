// Package keys builds Coffer's key-encryption-key providers from
// configuration and validates them once, at startup (docs/crypto.md §6): the
// secret_key provider, the development key file and the provider selection
// table. Its errors are the startup messages of docs/crypto.md §6; none of them,
// and no log line, carries key material or tokens.
package keys

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// Redacted replaces key material wherever a value holding it is printed,
// logged or marshalled.
const Redacted = "[redacted]"

// MinKeySize is the shortest secret_key KEK accepted, in bytes. Longer keys
// are used whole as HKDF input, as the reference does.
const MinKeySize = 32

// SecretKey is the secret_key provider: a local symmetric KEK from which a
// wrapping key is derived per record with HKDF-SHA256 and a random salt. It
// is immutable and safe for concurrent use.
type SecretKey struct {
	name string
	key  []byte
}

var (
	_ envelope.Provider = (*SecretKey)(nil)
	_ envelope.LocalKEK = (*SecretKey)(nil)
)

// NewSecretKey returns a secret_key provider named name ("" is the
// development key) for the raw KEK bytes, which it copies.
func NewSecretKey(name string, key []byte) (*SecretKey, error) {
	if len(key) < MinKeySize {
		return nil, errKeyTooShort("secret_key provider '"+name+"'", len(key))
	}
	return &SecretKey{name: name, key: append([]byte(nil), key...)}, nil
}

func errKeyTooShort(prefix string, n int) error {
	return startupError(prefix + ": key is " + strconv.Itoa(n) + " bytes; at least 32 are required")
}

// Name is the configured provider name stored with each record.
func (k *SecretKey) Name() string { return k.name }

// WrapV2 wraps dek as a 77-byte format-2 secret_key wrap bound to ws/name.
func (k *SecretKey) WrapV2(_ context.Context, dek []byte, ws, name string) ([]byte, error) {
	return envelope.WrapDEKV2(k.key, dek, ws, name)
}

// UnwrapV2 reverses WrapV2; any mismatch is envelope.ErrDecrypt.
func (k *SecretKey) UnwrapV2(_ context.Context, wrapped []byte, ws, name string) ([]byte, error) {
	return envelope.UnwrapDEKV2(k.key, wrapped, ws, name)
}

// UnwrapV1 unwraps a reference `_encrypted_dek` (its ASCII text).
func (k *SecretKey) UnwrapV1(_ context.Context, wrapped []byte) ([]byte, error) {
	return envelope.UnwrapDEKV1(k.key, wrapped)
}

// LocalKEK marks the KEK as held in this process's memory: the Keyring
// may keep the DEKs it unwraps (docs/crypto.md, "DEK cache").
func (k *SecretKey) LocalKEK() {}

// String hides the key so that no format verb can print it.
func (k *SecretKey) String() string { return Redacted }

// GoString hides the key from %#v.
func (k *SecretKey) GoString() string { return Redacted }

// LogValue hides the key from log/slog.
func (k *SecretKey) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON hides the key from encoding/json.
func (k *SecretKey) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// startupError is a configuration problem found while building providers.
// Its text is one of the messages of docs/crypto.md §6.
type startupError string

func (e startupError) Error() string { return string(e) }
