package sqlite

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCommitHook checks that WithCommitHook sees each group commit with the
// number of writes it acknowledged: writes queued behind a plugged
// committer go into one transaction, and the hook says so.
func TestCommitHook(t *testing.T) {
	var (
		mu      sync.Mutex
		batches []int
	)
	st, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), nil, WithCommitHook(func(batch int, d time.Duration) {
		if d <= 0 {
			t.Errorf("commit took %v", d)
		}
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, batch)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mustCreate(t, st, "ws")
	unplug := plug(t, st)
	const n = 5
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := st.CreateSecret(ctx, secret("ws", fmt.Sprintf("s%d", i), "v")); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, st, n)
	unplug()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	// The workspace, the plug alone, then the five queued creates together.
	if want := []int{1, 1, n}; fmt.Sprint(batches) != fmt.Sprint(want) {
		t.Errorf("commit batches %v, want %v", batches, want)
	}
}

// TestCacheStats checks the hit and miss counts: the first read of a
// record misses, the next one hits, and a commit makes the next read miss.
func TestCacheStats(t *testing.T) {
	st := openTemp(t)
	if st.cache.wal == nil {
		t.Fatal("the read cache is off on this system")
	}
	mustCreate(t, st, "ws")
	if _, err := st.CreateSecret(ctx, secret("ws", "s", "v")); err != nil {
		t.Fatal(err)
	}
	h0, m0 := st.CacheStats()
	wantValue(t, st, "ws", "s", "v")
	wantValue(t, st, "ws", "s", "v")
	if _, err := st.CreateSecret(ctx, secret("ws", "t", "v")); err != nil {
		t.Fatal(err)
	}
	wantValue(t, st, "ws", "s", "v")
	h, m := st.CacheStats()
	if h-h0 != 1 || m-m0 != 2 {
		t.Errorf("hits +%d, misses +%d; want +1, +2", h-h0, m-m0)
	}
}
