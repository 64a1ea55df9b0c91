package envelope

import "sync"

// LocalKEK is implemented by providers whose key-encryption key is held in
// this process's memory (secret_key, the development key). The Keyring
// keeps the DEKs it unwraps with such a provider (dekCache): anyone who
// can read them from memory could read the KEK there as well and derive
// every DEK, so keeping them exposes nothing more, and a cached open skips
// the HKDF derivation and the wrap's AES-GCM (docs/crypto.md, "DEK cache").
// Providers whose KEK lives elsewhere (Vault Transit) never implement it:
// for them a kept DEK would be key material that exists nowhere else, and
// revoking Coffer's access to the KEK would not stop reads.
type LocalKEK interface {
	LocalKEK()
}

// maxCachedDEKs bounds the DEKs kept, like the SQLite read cache's 8,192
// records: about 200 bytes each with the key, under 2 MiB when full.
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

// dekCache holds unwrapped DEKs; safe for concurrent use. When full, an
// arbitrary entry makes room and its DEK is cleared.
type dekCache struct {
	mu sync.Mutex
	m  map[dekKey]*[DEKSize]byte
}

func newDEKCache() *dekCache {
	return &dekCache{m: make(map[dekKey]*[DEKSize]byte)}
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

// get copies the DEK kept for k into dek.
func (c *dekCache) get(k *dekKey, dek *[DEKSize]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[*k]
	if ok {
		*dek = *p
	}
	return ok
}

// put keeps a copy of dek for k.
func (c *dekCache) put(k *dekKey, dek []byte) {
	if len(dek) != DEKSize {
		return
	}
	p := new([DEKSize]byte)
	copy(p[:], dek)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[*k]; ok {
		clear(old[:])
	}
	for len(c.m) >= maxCachedDEKs {
		for ek, ev := range c.m {
			clear(ev[:])
			delete(c.m, ek)
			break
		}
	}
	c.m[*k] = p
}

// len is the number of DEKs kept (tests).
func (c *dekCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
