package sqlite

import (
	"sync"
	"sync/atomic"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// readCache keeps the answers of the hot reader queries, sealed records
// (ciphertext and metadata, never a value), list pages and the role lookups
// of authorization, for as long as no transaction has committed to the
// database since they were read.
//
// A point read through SQLite costs two fcntl lock calls on the wal-index,
// a VDBE run and database/sql's bookkeeping: about half of an /access
// request's CPU (docs/performance.md). Validity is the wal-index header
// (walIndex): every commit, by this process's writer or by another process
// such as `coffer import` or the sqlite3 shell, changes it, and the first
// lookup after that drops every entry. So a hit is exactly what the query
// would return at that moment, and no write path needs an invalidation hook
// to keep right. Under a steady write load the cache mostly misses; a miss
// costs one header read and a map lookup.
type readCache struct {
	mu      sync.Mutex
	wal     *walIndex // nil: the cache is off and every lookup misses
	mark    walMark   // the header when the current entries were read
	records bounded[recordKey, secrets.Record]
	pages   bounded[pageKey, cachedPage]
	roles   bounded[rolesKey, map[string][]string]

	// Lookups answered from the cache and lookups that went to the
	// database, while the cache is on (metrics).
	hits, misses atomic.Uint64
}

// Cache sizes: records, list items (a page counts its items plus one) and
// role lookups. A record takes about 500 bytes with its map slot, so a full
// cache is about 5 MiB, within the memory target of docs/performance.md at
// 100,000 secrets.
const (
	maxCachedRecords = 8192
	maxCachedItems   = 4096
	maxCachedRoles   = 1024 // (workspace, caller) pairs
)

// walHeaderSize is the first copy of the wal-index header, the one SQLite
// writes last (walindex_unix.go).
const walHeaderSize = 48

// walMark is one reading of that header.
type walMark [walHeaderSize / 4]uint32

type recordKey struct{ ws, name string }

// rolesKey is a RolesOf lookup: the principals as the JSON list the query
// takes.
type rolesKey struct{ ws, principals string }

// pageKey is an unfiltered ListSecrets page (filtered pages are not
// cached: their shapes are many and each is read rarely).
type pageKey struct {
	ws, exclude, sort string
	limit, offset     int
}

// cachedPage is one ListSecrets answer. items has its capacity clipped, so
// a caller's append copies rather than writing into the shared array.
type cachedPage struct {
	items []secrets.Secret
	total int
}

func newReadCache(wal *walIndex) *readCache {
	c := &readCache{wal: wal}
	c.records.init(maxCachedRecords, func(secrets.Record) int { return 1 })
	c.pages.init(maxCachedItems, func(p cachedPage) int { return len(p.items) + 1 })
	c.roles.init(maxCachedRoles, func(map[string][]string) int { return 1 })
	if wal != nil {
		c.mark = wal.mark()
	}
	return c
}

// cached answers k from b when it holds an answer read since the last
// commit, and otherwise runs query and keeps its answer. The header is read
// before query runs (by lookup), so a commit that lands while the query
// runs keeps the answer out of the cache. Callers only read an answer: it
// is shared with every later hit.
func cached[K comparable, V any](c *readCache, b *bounded[K, V], k K, query func() (V, error)) (V, error) {
	v, read, ok := lookup(c, b, k)
	if ok {
		return v, nil
	}
	v, err := query()
	if err == nil {
		fill(c, b, k, v, read)
	}
	return v, err
}

// lookup returns b's answer for k, if any, and the header it read.
func lookup[K comparable, V any](c *readCache, b *bounded[K, V], k K) (V, walMark, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wal == nil {
		var zero V
		return zero, walMark{}, false
	}
	mark := c.syncLocked()
	v, ok := b.m[k]
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, mark, ok
}

// fill caches v unless a transaction committed since the header was read.
func fill[K comparable, V any](c *readCache, b *bounded[K, V], k K, v V, read walMark) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wal != nil && c.syncLocked() == read {
		b.put(k, v)
	}
}

// close turns the cache off and unmaps the header; it runs before the
// store's connections close (see walIndex).
func (c *readCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wal == nil {
		return nil
	}
	err := c.wal.close()
	c.wal = nil
	return err
}

// syncLocked reads the header and drops every entry if it moved.
func (c *readCache) syncLocked() walMark {
	if m := c.wal.mark(); m != c.mark {
		c.mark = m
		c.records.reset()
		c.pages.reset()
		c.roles.reset()
	}
	return c.mark
}

// header reads the wal-index header now (the zero mark without one).
func (c *readCache) header() walMark {
	if c == nil || c.wal == nil {
		return walMark{}
	}
	return c.wal.mark()
}

// walChangeWord is the word of the header (WalIndexHdr) that SQLite
// increments with every transaction it commits (iChange); a commit that
// restarted the log first still moves it by one.
const walChangeWord = 2

// walSaltWords is the first of the header's two salts, which change when
// a transaction restarts the log (tests use it to see restarts).
const walSaltWords = 8

// carry keeps the entries across a transaction that changed none of the
// cached answers (it wrote audit events only, audit.go): before is the
// header read after that transaction took the write lock, so until its
// COMMIT nothing else moves the header. When the entries were valid at
// before and the header moved by exactly one commit, that one, they are
// valid under the new header too. If another process committed right
// after it (two commits), nothing is carried and the next lookup drops the
// entries as usual. Without it every batch of async audit events, one per
// flush interval under a read load, would empty the cache.
func (c *readCache) carry(before walMark) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wal == nil || c.mark != before {
		return
	}
	if now := c.wal.mark(); now[walChangeWord] == before[walChangeWord]+1 {
		c.mark = now
	}
}

// bounded is a map whose entries' total cost stays within limit; when full,
// an arbitrary entry makes room. That needs no bookkeeping on a hit: reads
// spread evenly over more keys than fit gain nothing from any policy, and a
// hot key evicted by chance is back after its next read.
type bounded[K comparable, V any] struct {
	m     map[K]V
	cost  func(V) int
	used  int
	limit int
}

func (b *bounded[K, V]) init(limit int, cost func(V) int) {
	b.limit, b.cost = limit, cost
	b.reset()
}

func (b *bounded[K, V]) put(k K, v V) {
	c := b.cost(v)
	if c > b.limit {
		return
	}
	if old, ok := b.m[k]; ok {
		b.used -= b.cost(old)
		delete(b.m, k)
	}
	for b.used+c > b.limit {
		for ek, ev := range b.m {
			b.used -= b.cost(ev)
			delete(b.m, ek)
			break
		}
	}
	b.m[k] = v
	b.used += c
}

// reset empties the map. A new map rather than clear(): clearing costs the
// old map's full capacity, and this runs once per commit under a write load.
func (b *bounded[K, V]) reset() {
	b.m = make(map[K]V)
	b.used = 0
}
