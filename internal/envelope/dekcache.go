package envelope

import (
	"crypto/cipher"
	"sync"
)

// LocalKEK is implemented by providers whose key-encryption key is held in
// this process's memory (secret_key, the development key). The Keyring
// keeps the DEKs it unwraps with such a provider (dekCache): anyone who
// can read them from memory could read the KEK there as well and derive
// every DEK, so keeping them exposes nothing more, and a cached open skips
// the HKDF derivation, the wrap's AES-GCM and the data's AES-GCM setup
// (docs/crypto.md, "DEK cache").
// Providers whose KEK lives elsewhere (Vault Transit) never implement it:
// for them a kept DEK would be key material that exists nowhere else, and
// revoking Coffer's access to the KEK would not stop reads.
type LocalKEK interface {
	LocalKEK()
}

// maxCachedDEKs bounds the DEKs kept, like the SQLite read cache's 8,192
// records: about 1 KiB each with the key and the AES-GCM state (both key
// schedules and the GHASH table), 8 MiB when full.
const maxCachedDEKs = 8192

// dekKey names one format-2 unwrap exactly: the provider, the record it is
// bound to (the wrap's associated data) and the whole wrapped DEK (salt,
// nonce, ciphertext and tag). An unwrap is a function of these and the
// provider's KEK, which never changes while the process runs, so a kept
// answer is the one the provider would give again: a wrap copied to
// another record (another ws or name) misses and fails to unwrap as
// before.
type dekKey struct {
	provider, ws, name string
	wrapped            [WrappedDEKSizeV2]byte
}

// dekCache holds the data AEADs of unwrapped DEKs (the AES-256-GCM built
// from the DEK): setting one up computes the AES key schedule and the GHASH
// tables, which was most of a cached open's cost (docs/performance.md,
// "Reads, round three"). The AEAD cipher.NewGCM returns holds only that
// state, which Open and Seal read and never change, so one AEAD serves
// concurrent opens. Safe for concurrent use; when full, an arbitrary entry
// makes room.
type dekCache struct {
	mu sync.RWMutex
	m  map[dekKey]cipher.AEAD
}

func newDEKCache() *dekCache {
	return &dekCache{m: make(map[dekKey]cipher.AEAD)}
}

// keyOf returns the cache key of a format-2 record's wrap; ok is false when
// the wrap is not of the size a LocalKEK provider writes (it cannot unwrap).
func keyOf(provider, ws, name string, wrapped []byte) (k dekKey, ok bool) {
	if len(wrapped) != WrappedDEKSizeV2 {
		return k, false
	}
	k.provider, k.ws, k.name = provider, ws, name
	copy(k.wrapped[:], wrapped)
	return k, true
}

// get returns the AEAD kept for k, or nil.
func (c *dekCache) get(k *dekKey) cipher.AEAD {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[*k]
}

// put keeps g, the data AEAD of the DEK k unwraps to.
func (c *dekCache) put(k *dekKey, g cipher.AEAD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.m) >= maxCachedDEKs {
		for ek := range c.m {
			delete(c.m, ek)
			break
		}
	}
	c.m[*k] = g
}

// len is the number of DEKs kept (tests).
func (c *dekCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
