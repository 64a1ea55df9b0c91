// Package envelope implements Coffer's envelope encryption: a fresh data key
// (DEK) per write seals the value with AES-256-GCM, and a named key provider
// wraps the DEK. It knows the two record formats of docs/crypto.md (format 2 is
// written, format 1 is read for records imported from NeMo Platform).
package envelope

import (
	"context"
	"errors"
)

// Sealed is an encrypted value as it is stored next to a secret's metadata.
type Sealed struct {
	Ciphertext []byte // data blob (format 2: version byte, nonce, ct, tag)
	WrappedDEK []byte // DEK wrapped by Provider
	Provider   string // configured provider name; "" is the development key
	Format     int    // 1 (reference, read-only) or 2
}

// Provider wraps and unwraps DEKs with one key-encryption key. Implementations
// must be safe for concurrent use; they are built once at startup.
type Provider interface {
	// Name is the configured provider name stored with each record.
	Name() string
	// WrapV2 wraps a raw 32-byte DEK for a format-2 record of ws/name.
	WrapV2(ctx context.Context, dek []byte, ws, name string) ([]byte, error)
	// UnwrapV2 reverses WrapV2; it fails if ws/name differ from the wrap.
	UnwrapV2(ctx context.Context, wrapped []byte, ws, name string) ([]byte, error)
	// UnwrapV1 unwraps a format-1 (reference) DEK and returns the raw 32 bytes.
	UnwrapV1(ctx context.Context, wrapped []byte) ([]byte, error)
}

// Errors returned by the Keyring. They carry no key material, values or
// provider replies, so they are safe to log and their texts are the fixed
// rotation failure strings of docs/crypto.md §7.
var (
	// ErrDecrypt: the record did not authenticate (wrong key, tag, AAD,
	// format or length). No value is returned with it.
	ErrDecrypt = errors.New("decryption failed")
	// ErrEncrypt: sealing or wrapping failed for a reason other than an
	// unreachable provider.
	ErrEncrypt = errors.New("encryption failed")
)

// ProviderError reports that a record's provider cannot be used.
type ProviderError struct {
	Provider    string
	Unavailable bool // true: configured but unreachable; false: not configured
}

// Error returns the fixed rotation failure text of docs/crypto.md §7.
func (e *ProviderError) Error() string {
	if e.Unavailable {
		return "provider '" + e.Provider + "' is unavailable"
	}
	return "provider '" + e.Provider + "' is not configured"
}

// NotReadyError reports a provider that cannot work until an operator acts,
// for example a Vault token past its expiry. /health/ready shows Error().
type NotReadyError struct {
	Provider string
	Reason   string // never a token, key or value
}

// Error names the provider and the reason.
func (e *NotReadyError) Error() string { return "key provider '" + e.Provider + "': " + e.Reason }

// HealthChecker is implemented by providers that know, without a request,
// that they cannot work (a Vault token that expired).
type HealthChecker interface {
	Health() error
}

// ErrUnavailable is wrapped by providers whose backing service could not be
// reached (network error, timeout, non-2xx answer).
var ErrUnavailable = errors.New("provider unavailable")
