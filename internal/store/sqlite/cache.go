package sqlite

import (
	"encoding/binary"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
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
	mu   sync.Mutex
	log  *slog.Logger
	shm  string    // the -shm file's path; "": the cache is off and every lookup misses
	wal  *walIndex // its mapped header; nil while it cannot be mapped: every lookup misses
	seen stamp     // the mapping and header when the current entries were read
	maps uint64    // mappings made so far: stamp.mapping of the current one
	// verified is when wal was last found to be the live -shm file.
	verified time.Time
	// held is the state a transaction of audit events only started from,
	// while it runs (holdAudit); the zero stamp otherwise.
	held    stamp
	records bounded[recordKey, packedRecord]
	pages   bounded[pageKey, cachedPage]
	roles   bounded[rolesKey, map[string][]string]

	// Lookups answered from the cache and lookups that went to the
	// database, while the cache is on (metrics).
	hits, misses atomic.Uint64
}

// Cache sizes: records in bytes (each counts its packed form plus
// recordSlotBytes), list items (a page counts its items plus one) and role
// lookups. Records are bounded by bytes because their size varies with the
// value's and the description's; 4 MiB holds about 11,700 records of
// BenchmarkCacheFootprint's size (docs/performance.md, "Memory at 100,000
// secrets"), where the 8,192 records of the bound by count took 4.8 MiB.
const (
	maxCachedRecordBytes = 4 << 20
	maxCachedItems       = 4096
	maxCachedRoles       = 1024 // (workspace, caller) pairs
)

// recordSlotBytes is what a cached record costs beyond its packed string:
// its map slot (key and value string headers, 48 bytes, in a map between
// 7/16 and 7/8 full) and the rounding of its allocation to a size class.
// BenchmarkCacheFootprint measured 116 bytes.
const recordSlotBytes = 128

// liveCheckInterval is how long a verification that the mapping is the live
// -shm file holds: lookups within it answer without another stat(2). A stat
// costs 2-5 µs on the development VM, more than the rest of a hit (about
// 1 µs); three lookups per authorized request made a GET 30% costlier in
// CPU. Checked at most once a millisecond it costs nothing measurable, and
// the mapping can only stop being the live file if the pinned connection
// is gone (syncLocked).
const liveCheckInterval = time.Millisecond

// walHeaderSize is the first copy of the wal-index header, the one SQLite
// writes last (walindex_unix.go).
const walHeaderSize = 48

// walMark is one reading of that header.
type walMark [walHeaderSize / 4]uint32

// stamp identifies the state of the database an answer was read in: a
// header reading of one mapping. Two mappings are never compared by their
// headers: a new -shm file can start with the header the old one ended with
// while the database changed in between.
type stamp struct {
	mapping uint64 // 0: nothing mapped, the read cannot be cached
	header  walMark
}

type recordKey struct{ ws, name string }

// rolesKey is a RolesOf lookup: the principals as the JSON list the query
// takes.
type rolesKey struct{ ws, principals string }

// pageKey is a ListSecrets page; filter is filterKey of its Filter, "" for
// the unfiltered list.
type pageKey struct {
	ws, exclude, sort, filter string
	limit, offset             int
}

// filterKey encodes f for a pageKey: each set term as a tag letter and
// then its value, texts prefixed by their length, so that two different
// filters never share a key (TestFilterKeyTellsEveryFieldApart). Filter's
// pointers make it unusable as a map key itself.
func filterKey(f secrets.Filter) string {
	if f.IsZero() {
		return ""
	}
	var b []byte
	text := func(tag byte, s *string) {
		if s != nil {
			b = append(b, tag)
			b = strconv.AppendInt(b, int64(len(*s)), 10)
			b = append(b, ':')
			b = append(b, *s...)
		}
	}
	moment := func(tag byte, t *time.Time) {
		if t != nil {
			b = append(b, tag)
			b = strconv.AppendInt(b, t.Unix(), 10)
			b = append(b, '.')
			b = strconv.AppendInt(b, int64(t.Nanosecond()), 10)
		}
	}
	text('n', f.Name)
	text('l', f.NameLike)
	text('d', f.DescriptionLike)
	moment('c', f.CreatedFrom)
	moment('C', f.CreatedTo)
	moment('u', f.UpdatedFrom)
	moment('U', f.UpdatedTo)
	if f.Search != "" {
		text('s', &f.Search)
	}
	return string(b)
}

// cachedPage is one ListSecrets answer. items has its capacity clipped, so
// a caller's append copies rather than writing into the shared array.
type cachedPage struct {
	items []secrets.Secret
	total int
}

// newReadCache starts a cache on the wal-index mapped as wal; with a nil
// wal the cache is off.
func newReadCache(wal *walIndex, log *slog.Logger) *readCache {
	c := &readCache{log: log}
	c.records.init(maxCachedRecordBytes, func(p packedRecord) int { return len(p) + recordSlotBytes })
	c.pages.init(maxCachedItems, func(p cachedPage) int { return len(p.items) + 1 })
	c.roles.init(maxCachedRoles, func(map[string][]string) int { return 1 })
	if wal != nil {
		c.shm, c.wal, c.maps, c.verified = wal.path, wal, 1, time.Now()
		c.seen, _ = c.readLocked()
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

// record answers GetSecret(ws, name) from the cache, or runs query and
// keeps its answer packed. A hit returns a record of its own, apart from the
// string fields, which share the packed string.
func (c *readCache) record(ws, name string, query func() (secrets.Record, error)) (secrets.Record, error) {
	p, read, ok := lookup(c, &c.records, recordKey{ws, name})
	if ok {
		return p.record(), nil
	}
	r, err := query()
	if err == nil && read.mapping != 0 {
		k, p := packRecord(r)
		fill(c, &c.records, k, p, read)
	}
	return r, err
}

// lookup returns b's answer for k, if any, and the state it checked.
func lookup[K comparable, V any](c *readCache, b *bounded[K, V], k K) (V, stamp, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now, ok := c.syncLocked()
	if !ok {
		if c.shm != "" {
			c.misses.Add(1)
		}
		var zero V
		return zero, now, false
	}
	v, ok := b.m[k]
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, now, ok
}

// fill caches v unless a transaction committed since read was taken, or the
// mapping changed.
func fill[K comparable, V any](c *readCache, b *bounded[K, V], k K, v V, read stamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now, ok := c.syncLocked(); ok && now == read {
		b.put(k, v)
	}
}

// close turns the cache off and unmaps the header; it runs before the
// store's connections close (see walIndex).
func (c *readCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shm = ""
	return c.unmapLocked()
}

// syncLocked returns the current state, after dropping every entry if a
// transaction committed since they were read. ok is false when there is no
// trustworthy header to read (the cache is off, or the -shm file is not the
// one mapped and cannot be mapped again): no answer may be taken from or
// put in the cache then.
//
// It also checks that the mapped file is still the live -shm file
// (walIndex.live), at most once per liveCheckInterval. The pinned
// connection keeps it so: SQLite only deletes the file when the last
// connection of all processes closes, and while the pin is open every
// connection of this process shares SQLite's one mapping of the file this
// cache maps too, so a hit is as fresh as a query. Should the file be
// replaced anyway (deleted by hand, or the pin lost to a future change),
// the old mapping shows a database that stopped changing and trusting it
// would return old revisions forever: the entries are dropped and the new
// file is mapped.
func (c *readCache) syncLocked() (stamp, bool) {
	if c.shm == "" {
		return stamp{}, false
	}
	if c.wal != nil {
		// time.Since reads only the monotonic clock: half of time.Now.
		if time.Since(c.verified) >= liveCheckInterval {
			if c.wal.live() {
				c.verified = time.Now()
			} else {
				c.log.Warn("SQLite read cache: the wal-index file was replaced; cache dropped, remapping", "path", c.shm)
				c.unmapLocked()
			}
		}
	}
	if c.wal == nil {
		wal, err := openWALIndex(c.shm)
		if err != nil {
			return stamp{}, false // the entries went with the old mapping
		}
		c.wal, c.verified = wal, time.Now()
		c.maps++
	}
	now, ok := c.readLocked()
	if !ok {
		c.log.Warn("SQLite read cache: reading the wal-index header faulted; cache dropped, remapping", "path", c.shm)
		c.unmapLocked()
		return stamp{}, false
	}
	if now != c.seen {
		if c.held.mapping != 0 && c.held == c.seen {
			// Most likely the audit transaction's own COMMIT, not carried
			// yet: miss, but keep the entries for carry to judge.
			return now, false
		}
		c.seen = now
		c.dropLocked()
	}
	return now, true
}

// readLocked reads the header of the current mapping.
func (c *readCache) readLocked() (stamp, bool) {
	h, ok := c.wal.mark()
	return stamp{mapping: c.maps, header: h}, ok
}

// unmapLocked drops the mapping and every entry read through it.
func (c *readCache) unmapLocked() error {
	c.dropLocked()
	if c.wal == nil {
		return nil
	}
	err := c.wal.close()
	c.wal = nil
	return err
}

// dropLocked empties the cache.
func (c *readCache) dropLocked() {
	c.records.reset()
	c.pages.reset()
	c.roles.reset()
}

// header reads the current state (the zero stamp without a mapping).
func (c *readCache) header() stamp {
	if c == nil {
		return stamp{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wal == nil {
		return stamp{}
	}
	now, _ := c.readLocked()
	return now
}

// walChangeWord is the word of the header (WalIndexHdr) that SQLite
// increments with every transaction it commits (iChange); a commit that
// restarted the log first still moves it by one.
const walChangeWord = 2

// walSaltWords is the first of the header's two salts, which change when
// a transaction restarts the log (tests use it to see restarts).
const walSaltWords = 8

// holdAudit is called by a transaction of audit events only once it holds
// the write lock: it returns the state before it (for carry) and, until
// carry or release, a lookup that finds the header moved misses without
// dropping the entries. Without the hold, any lookup between the COMMIT
// moving the header and carry (16 request goroutines under a read load
// find that window often; every batch of async events opens one) emptied
// the cache: access then ran at a 4 % hit rate (docs/performance.md,
// "Reads, round two"). The hold never serves an entry from a moved
// header: it only defers the decision to carry, which keeps them only
// when the header moved by exactly this commit.
func (c *readCache) holdAudit() stamp {
	if c == nil {
		return stamp{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now, ok := c.syncLocked()
	if !ok {
		return stamp{}
	}
	c.held = now
	return now
}

// release ends a hold; the next lookup drops the entries unless carry
// judged them still valid.
func (c *readCache) release() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.held = stamp{}
	c.mu.Unlock()
}

// carry keeps the entries across a transaction that changed none of the
// cached answers (it wrote audit events only, audit.go): before is the
// header read after that transaction took the write lock (holdAudit), so
// until its COMMIT nothing else moves the header. When the entries were valid at
// before and the header moved by exactly one commit, that one, they are
// valid under the new header too. If another process committed right
// after it (two commits), nothing is carried and the next lookup drops the
// entries as usual. Without it every batch of async audit events, one per
// flush interval under a read load, would empty the cache.
func (c *readCache) carry(before stamp) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = stamp{}
	if c.wal == nil || before.mapping == 0 || c.seen != before {
		return
	}
	now, ok := c.readLocked() // the same mapping: c.seen is of it
	if ok && now.header[walChangeWord] == before.header[walChangeWord]+1 {
		c.seen = now
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

// packedRecord is a GetSecret answer as the cache keeps it: its numbers as
// varints, then the lengths of its strings and byte slices, then their bytes,
// all in one string. One allocation without pointers instead of a 216-byte
// map value and up to five more allocations: 334 instead of 609 bytes a
// record with its map slot (BenchmarkCacheFootprint), and nothing in it for
// the collector to scan. The workspace and the name come first, so the map
// key shares their bytes instead of keeping the request's. The price is one
// allocation per hit (the byte slices' copy) and one per optional string.
type packedRecord string

// packedField is one variable-length field; null tells nil from empty.
type packedField struct {
	s    string
	null bool
}

// packedInts and packedFields are the numbers of each kind of field.
const packedInts, packedFields = 6, 9

// packRecord returns r's packed form and the cache key that shares its
// bytes. A length is stored plus one, 0 standing for nil.
func packRecord(r secrets.Record) (recordKey, packedRecord) {
	fields := [packedFields]packedField{
		{s: r.Workspace}, {s: r.Name}, optional(r.Description), optional(r.CreatedBy),
		optional(r.UpdatedBy), {s: r.Sealed.Provider}, {s: r.ETag},
		{s: string(r.Sealed.Ciphertext), null: r.Sealed.Ciphertext == nil},
		{s: string(r.Sealed.WrappedDEK), null: r.Sealed.WrappedDEK == nil},
	}
	size := packedInts*binary.MaxVarintLen64 + packedFields*binary.MaxVarintLen64
	for _, f := range fields {
		size += len(f.s)
	}
	b := make([]byte, 0, size)
	ints := [packedInts]int64{r.ID, r.Revision, r.Version, micros(r.CreatedAt), micros(r.UpdatedAt), int64(r.Sealed.Format)}
	for _, v := range ints {
		b = binary.AppendVarint(b, v)
	}
	for _, f := range fields {
		n := uint64(len(f.s)) + 1
		if f.null {
			n = 0
		}
		b = binary.AppendUvarint(b, n)
	}
	head := len(b)
	for _, f := range fields {
		b = append(b, f.s...)
	}
	p := string(b)
	ws, name := head+len(r.Workspace), head+len(r.Workspace)+len(r.Name)
	return recordKey{ws: p[head:ws], name: p[ws:name]}, packedRecord(p)
}

func optional(s *string) packedField {
	if s == nil {
		return packedField{null: true}
	}
	return packedField{s: *s}
}

// record unpacks p. The strings share p's bytes; the two byte slices get a
// copy of their own (one allocation), since a caller may hold them while
// the entry is dropped and its bytes are immutable only as a string.
func (p packedRecord) record() secrets.Record {
	s := string(p)
	var ints [packedInts]int64
	i := 0
	for k := range ints {
		var u uint64
		u, i = uvarint(s, i)
		ints[k] = int64(u>>1) ^ -int64(u&1) // zig-zag, as binary.AppendVarint
	}
	var lens [packedFields]uint64
	for k := range lens {
		lens[k], i = uvarint(s, i)
	}
	var f [packedFields]packedField
	for k, n := range lens {
		if n == 0 {
			f[k].null = true
			continue
		}
		f[k].s = s[i : i+int(n-1)]
		i += int(n - 1)
	}
	r := secrets.Record{
		ID: ints[0],
		Secret: secrets.Secret{
			Workspace: f[0].s, Name: f[1].s, Description: f[2].ptr(), CreatedBy: f[3].ptr(), UpdatedBy: f[4].ptr(),
			CreatedAt: fromMicros(ints[3]), UpdatedAt: fromMicros(ints[4]), Version: ints[2], ETag: f[6].s,
		},
		Sealed:   envelope.Sealed{Provider: f[5].s, Format: int(ints[5])},
		Revision: ints[1],
	}
	r.Sealed.Ciphertext, r.Sealed.WrappedDEK = f[7].bytes2(f[8])
	return r
}

// ptr returns the field as an optional string.
func (f packedField) ptr() *string {
	if f.null {
		return nil
	}
	s := f.s
	return &s
}

// bytes2 copies f and g into one new array and returns them as two slices
// whose capacity ends at their length, so an append cannot reach the other.
func (f packedField) bytes2(g packedField) ([]byte, []byte) {
	b := make([]byte, 0, len(f.s)+len(g.s))
	b = append(b, f.s...)
	b = append(b, g.s...)
	x, y := b[:len(f.s):len(f.s)], b[len(f.s):]
	if f.null {
		x = nil
	}
	if g.null {
		y = nil
	}
	return x, y
}

// uvarint reads the unsigned varint at s[i:] (binary.Uvarint without a
// conversion to []byte); p was written by packRecord, so it is well formed.
func uvarint(s string, i int) (uint64, int) {
	var v uint64
	for shift := 0; ; shift += 7 {
		c := s[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i
		}
	}
}
