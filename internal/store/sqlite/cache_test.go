package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/listsql"
)

const cacheChildEnv = "COFFER_TEST_CACHE_CHILD"

// TestCacheSeesWritesOfAnotherProcess: while the server has answers cached,
// another process (here a child opening the store as `coffer import` does)
// updates, creates and deletes secrets and grants a role. The server's next reads must return
// the new state, not the cached one.
func TestCacheSeesWritesOfAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	st := openAt(t, path)
	mustCreate(t, st, "bench")
	for _, name := range []string{"updated", "deleted"} {
		if _, err := st.CreateSecret(ctx, benchRecord(name, 1)); err != nil {
			t.Fatal(err)
		}
	}
	page := secrets.SecretQuery{Limit: 10}
	for _, name := range []string{"updated", "deleted"} {
		if _, err := st.GetSecret(ctx, "bench", name); err != nil {
			t.Fatal(err)
		}
		if _, _, hit := lookup(st.cache, &st.cache.records, recordKey{"bench", name}); !hit {
			t.Fatalf("%s is not cached after a read: the read cache is off, so this test proves nothing", name)
		}
	}
	if _, _, err := st.ListSecrets(ctx, "bench", page); err != nil {
		t.Fatal(err)
	}
	if roles, err := st.RolesOf(ctx, "bench", []string{"alice"}); err != nil || len(roles) != 0 {
		t.Fatalf("RolesOf before the grant: %v, %v", roles, err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCacheChild$")
	cmd.Env = append(os.Environ(), cacheChildEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}

	got, err := st.GetSecret(ctx, "bench", "updated")
	if err != nil || got.Description == nil || *got.Description != "by the other process" {
		t.Errorf("updated secret: description %v, err %v; want the other process's", got.Description, err)
	}
	if _, err := st.GetSecret(ctx, "bench", "deleted"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("deleted secret: err %v, want ErrNotFound", err)
	}
	if roles, err := st.RolesOf(ctx, "bench", []string{"alice"}); err != nil || !slices.Equal(roles["alice"], []string{"Editor"}) {
		t.Errorf("RolesOf after the other process's grant: %v, %v; want alice: [Editor]", roles, err)
	}
	items, total, err := st.ListSecrets(ctx, "bench", page)
	var names []string
	for _, it := range items {
		names = append(names, it.Name)
	}
	slices.Sort(names)
	if err != nil || total != 2 || !slices.Equal(names, []string{"created", "updated"}) {
		t.Errorf("list: %v, total %d, err %v; want [created updated], total 2", names, total, err)
	}
}

// TestCacheChild is the other process of TestCacheSeesWritesOfAnotherProcess;
// it does nothing in a normal test run.
func TestCacheChild(t *testing.T) {
	path := os.Getenv(cacheChildEnv)
	if path == "" {
		t.Skip("runs only as the child of TestCacheSeesWritesOfAnotherProcess")
	}
	st, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	desc := "by the other process"
	if _, err := st.UpdateSecret(ctx, "bench", "updated", secrets.SecretUpdate{Description: &desc, UpdatedAt: secrets.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSecret(ctx, "bench", "deleted", secrets.SecretDelete{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateSecret(ctx, benchRecord("created", 2)); err != nil {
		t.Fatal(err)
	}
	if err := st.GrantRoles(ctx, "bench", "alice", []string{"Editor"}, nil, secrets.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestCacheDropsAnswersReadBeforeACommit: a read that was answered before a
// commit but finishes after it must not put the old answer in the cache,
// or later reads would return the state before the commit.
func TestCacheDropsAnswersReadBeforeACommit(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "bench")
	if _, err := st.CreateSecret(ctx, benchRecord("s", 1)); err != nil {
		t.Fatal(err)
	}
	key, pkey := recordKey{"bench", "s"}, pageKey{ws: "bench", sort: listsql.DefaultSecretSort, limit: 10}
	_, read, _ := lookup(st.cache, &st.cache.records, key)
	staleRecord, err := st.getSecret(ctx, "bench", "s")
	if err != nil {
		t.Fatal(err)
	}
	staleItems, staleTotal, err := st.listSecrets(ctx, pkey)
	if err != nil {
		t.Fatal(err)
	}

	desc := "new"
	if _, err := st.UpdateSecret(ctx, "bench", "s", secrets.SecretUpdate{Description: &desc, UpdatedAt: secrets.Now()}); err != nil {
		t.Fatal(err)
	}
	key, packed := packRecord(staleRecord)
	fill(st.cache, &st.cache.records, key, packed, read)
	fill(st.cache, &st.cache.pages, pkey, cachedPage{items: staleItems, total: staleTotal}, read)

	if got, err := st.GetSecret(ctx, "bench", "s"); err != nil || got.Description == nil || *got.Description != desc {
		t.Errorf("GetSecret: description %v, err %v; want %q", got.Description, err, desc)
	}
	items, _, err := st.ListSecrets(ctx, "bench", secrets.SecretQuery{Limit: 10})
	if err != nil || len(items) != 1 || items[0].Description == nil || *items[0].Description != desc {
		t.Errorf("ListSecrets: %+v, err %v; want the new description", items, err)
	}
}

// TestCacheIsBounded: however many answers are read, the cache keeps at most
// its limit, so memory stays bounded with any number of secrets.
func TestCacheIsBounded(t *testing.T) {
	type put struct{ key, cost int }
	tests := []struct {
		name  string
		puts  []put
		limit int
	}{
		{"one per entry", []put{{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}}, 3},
		{"pages of several", []put{{0, 4}, {1, 4}, {2, 2}, {3, 4}, {4, 1}}, 8},
		{"larger than the limit", []put{{0, 2}, {1, 9}, {2, 2}}, 8},
		{"same key again", []put{{0, 3}, {1, 3}, {0, 5}, {0, 1}, {2, 4}}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bounded[int, int]
			b.init(tt.limit, func(cost int) int { return cost })
			for i, p := range tt.puts {
				b.put(p.key, p.cost)
				total := 0
				for _, v := range b.m {
					total += v
				}
				if total > tt.limit || total != b.used {
					t.Fatalf("after %d puts: entries cost %d, accounted %d, limit %d", i+1, total, b.used, tt.limit)
				}
				if got, ok := b.m[p.key]; ok != (p.cost <= tt.limit) || ok && got != p.cost {
					t.Errorf("put %v (limit %d): cached %v with cost %d", p, tt.limit, ok, got)
				}
			}
		})
	}
}

// TestCacheSurvivesClosingEveryPooledConnection is the regression of the
// stale read of issue 14: once every pooled connection of the server had
// closed, SQLite deleted the -shm file and the next connection of any
// process created a new one, so the mapped header never moved again and
// GetSecret kept returning the revision before another process's update.
func TestCacheSurvivesClosingEveryPooledConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	st := openAt(t, path)
	mustCreate(t, st, "bench")
	for _, name := range []string{"updated", "deleted"} { // what the child changes
		if _, err := st.CreateSecret(ctx, benchRecord(name, 1)); err != nil {
			t.Fatal(err)
		}
	}
	readCached(t, st, "updated")
	closePooledConnections(t, st)

	runCacheChild(t, path)

	got, err := st.GetSecret(ctx, "bench", "updated")
	if err != nil || got.Description == nil || *got.Description != "by the other process" {
		t.Errorf("GetSecret after the other process's update: description %v, err %v; want the other process's", got.Description, err)
	}
}

// TestCacheRemapsAReplacedWALIndex: should the -shm file be replaced
// anyway (here the pinned connection is closed, as if it were missing, so
// the other process deletes the file when it closes), the cache must notice
// that the mapped file is no longer the live one and read the database
// rather than trust the old header.
func TestCacheRemapsAReplacedWALIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	st := openAt(t, path)
	mustCreate(t, st, "bench")
	for _, name := range []string{"updated", "deleted"} {
		if _, err := st.CreateSecret(ctx, benchRecord(name, 1)); err != nil {
			t.Fatal(err)
		}
	}
	readCached(t, st, "updated")
	if err := st.pin.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.pinDB.Close(); err != nil {
		t.Fatal(err)
	}
	st.pin, st.pinDB = nil, nil
	closePooledConnections(t, st)

	runCacheChild(t, path)
	if _, err := os.Stat(path + "-shm"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the -shm file after the other process closed: %v; want it deleted, else this test proves nothing", err)
	}
	// A read past the cache opens a connection, which creates a new -shm
	// file: the cache then finds a file with another inode at its path.
	if _, err := st.getSecret(ctx, "bench", "deleted"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("uncached read of the deleted secret: %v; want ErrNotFound", err)
	}

	for i := range 2 { // the first read maps the new file, the second may hit
		got, err := st.GetSecret(ctx, "bench", "updated")
		if err != nil || got.Description == nil || *got.Description != "by the other process" {
			t.Fatalf("read %d after the other process's update: description %v, err %v; want the other process's", i+1, got.Description, err)
		}
	}
	readCached(t, st, "updated") // and the cache works on the new file
}

// TestWALIndexFaultIsAMiss: a read of a mapped header whose file was
// truncated under the mapping faults; it must report no header rather than
// crash the server.
func TestWALIndexFaultIsAMiss(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no wal-index mapping on this system")
	}
	path := filepath.Join(t.TempDir(), "coffer.db-shm")
	if err := os.WriteFile(path, make([]byte, 32768), 0o600); err != nil {
		t.Fatal(err)
	}
	wal, err := openWALIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	defer wal.close()
	if _, ok := wal.mark(); !ok || !wal.live() {
		t.Fatalf("fresh mapping: mark ok %v, live %v; want both", ok, wal.live())
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := wal.mark(); ok {
		t.Error("mark of a truncated file: ok; want a fault reported as not ok")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if wal.live() {
		t.Error("live after the file was removed; want false")
	}
}

// readCached reads name and fails unless the answer is now cached: a test
// of staleness proves nothing with the cache off.
func readCached(t *testing.T, st *Store, name string) {
	t.Helper()
	if _, err := st.GetSecret(ctx, "bench", name); err != nil {
		t.Fatal(err)
	}
	if _, _, hit := lookup(st.cache, &st.cache.records, recordKey{"bench", name}); !hit {
		t.Fatalf("%s is not cached after a read: the read cache is off, so this test proves nothing", name)
	}
}

// closePooledConnections closes every connection of the writer and reader
// pools, as database/sql does with connections that fail, and lets the pools
// open new ones on demand.
func closePooledConnections(t *testing.T, st *Store) {
	t.Helper()
	for _, db := range []*sql.DB{st.reader, st.writer} {
		n := db.Stats().MaxOpenConnections
		db.SetMaxIdleConns(0)
		if open := db.Stats().OpenConnections; open != 0 {
			t.Fatalf("%d pooled connections still open", open)
		}
		db.SetMaxIdleConns(n)
	}
}

// runCacheChild runs TestCacheChild on the database at path.
func runCacheChild(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCacheChild$")
	cmd.Env = append(os.Environ(), cacheChildEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestCacheFilteredPage: a filtered page is answered from the cache the
// second time, a page of another filter is not mistaken for it, and a
// commit that adds a match shows in the next read.
func TestCacheFilteredPage(t *testing.T) {
	st := openTemp(t)
	if st.cache.wal == nil {
		t.Fatal("the read cache is off on this system")
	}
	mustCreate(t, st, "ws")
	for _, name := range []string{"api-1", "api-2", "db"} {
		if _, err := st.CreateSecret(ctx, secret("ws", name, "v")); err != nil {
			t.Fatal(err)
		}
	}
	api, db := "API%", "db%"
	list := func(pattern *string) []string {
		t.Helper()
		items, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Limit: 10, Sort: "name",
			Filter: secrets.Filter{NameLike: pattern}})
		if err != nil || total != len(items) {
			t.Fatalf("ListSecrets(%s): %d items, total %d, err %v", *pattern, len(items), total, err)
		}
		var names []string
		for _, it := range items {
			names = append(names, it.Name)
		}
		return names
	}
	list(&api)
	h0, _ := st.CacheStats()
	if got := list(&api); !slices.Equal(got, []string{"api-1", "api-2"}) {
		t.Errorf("api%% again: %v", got)
	}
	if h, _ := st.CacheStats(); h != h0+1 {
		t.Errorf("the repeated filtered page was not a cache hit (hits %d -> %d)", h0, h)
	}
	if got := list(&db); !slices.Equal(got, []string{"db"}) {
		t.Errorf("db%% after api%% was cached: %v", got)
	}
	if _, err := st.CreateSecret(ctx, secret("ws", "api-3", "v")); err != nil {
		t.Fatal(err)
	}
	if got := list(&api); !slices.Equal(got, []string{"api-1", "api-2", "api-3"}) {
		t.Errorf("api%% after a create: %v", got)
	}
}

// TestFilterKeyTellsEveryFieldApart sets each field of secrets.Filter in
// turn, by reflection so that a field added later is covered too, and
// requires a key of its own for each: two filters sharing a key would
// answer one's page for the other.
func TestFilterKeyTellsEveryFieldApart(t *testing.T) {
	text, moment := "a", time.Unix(1700000000, 5)
	keys := map[string]string{"": "zero filter"}
	add := func(what string, f secrets.Filter) {
		t.Helper()
		k := filterKey(f)
		if prev, dup := keys[k]; dup {
			t.Errorf("%s and %s share the key %q", what, prev, k)
		}
		keys[k] = what
	}
	ft := reflect.TypeFor[secrets.Filter]()
	for i := range ft.NumField() {
		var f secrets.Filter
		v := reflect.ValueOf(&f).Elem().Field(i)
		switch v.Interface().(type) {
		case string:
			v.SetString(text)
		case *string:
			v.Set(reflect.ValueOf(&text))
		case *time.Time:
			v.Set(reflect.ValueOf(&moment))
		default:
			t.Fatalf("filterKey and this test do not know field %s of type %s", ft.Field(i).Name, v.Type())
		}
		add(ft.Field(i).Name, f)
	}
	// Values that a naive concatenation would confuse.
	ab, b, a1 := "ab", "b", "1:a"
	add("name ab", secrets.Filter{Name: &ab})
	add("name a and like b", secrets.Filter{Name: &text, NameLike: &b})
	add("name 1:a", secrets.Filter{Name: &a1})
	later := moment.Add(time.Nanosecond)
	add("created from a nanosecond later", secrets.Filter{CreatedFrom: &later})
}
