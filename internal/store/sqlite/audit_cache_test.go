package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
)

func accessEvents(n int) []secrets.AuditEvent {
	es := make([]secrets.AuditEvent, n)
	for i := range es {
		at := secrets.Now()
		es[i] = secrets.AuditEvent{ID: secrets.NewAuditID(at), Time: at, Action: secrets.ActionSecretAccess,
			Outcome: secrets.OutcomeSuccess, Status: 200, Workspace: "bench", Secret: "s"}
	}
	return es
}

// TestCacheKeptAcrossAuditCommits: batches of audit events (async read
// events commit every flush interval) leave the read cache's answers in
// place, since they change none of them; any other write still drops them.
func TestCacheKeptAcrossAuditCommits(t *testing.T) {
	st := openTemp(t)
	cacheSecret(t, st)
	key := recordKey{"bench", "s"}
	for i := range 3 {
		if err := st.AppendAudit(ctx, accessEvents(10)); err != nil {
			t.Fatal(err)
		}
		if _, _, hit := lookup(st.cache, &st.cache.records, key); !hit {
			t.Fatalf("after audit batch %d: the cached record was dropped", i)
		}
	}
	if _, err := st.PruneAudit(ctx, secrets.Now().Add(1), 100); err != nil {
		t.Fatal(err)
	}
	if _, _, hit := lookup(st.cache, &st.cache.records, key); !hit {
		t.Fatal("after an audit prune: the cached record was dropped")
	}
	desc := "changed"
	if _, err := st.UpdateSecret(ctx, "bench", "s", secrets.SecretUpdate{Description: &desc, UpdatedAt: secrets.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, _, hit := lookup(st.cache, &st.cache.records, key); hit {
		t.Fatal("after an update: the cached record is still there")
	}
}

// cacheSecret creates secret bench/s and reads it once, so the read cache
// holds it.
func cacheSecret(t *testing.T, st *Store) {
	t.Helper()
	mustCreate(t, st, "bench")
	if _, err := st.CreateSecret(ctx, benchRecord("s", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSecret(ctx, "bench", "s"); err != nil {
		t.Fatal(err)
	}
}

// cachedWithOtherWriter opens a store whose cache holds secret bench/s, and
// a second connection to the same file standing for another process.
func cachedWithOtherWriter(t *testing.T) (*Store, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "coffer.db")
	st := openAt(t, path)
	cacheSecret(t, st)
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return st, other
}

// TestCacheAuditCommitAfterAnotherWriter: a write of another connection
// (another process) lands, then an audit batch commits: the cache must not
// carry its answers over that write.
func TestCacheAuditCommitAfterAnotherWriter(t *testing.T) {
	st, other := cachedWithOtherWriter(t)
	if _, err := other.Exec(`UPDATE secrets SET description = 'by the other process', revision = revision + 1 WHERE name = 's'`); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendAudit(ctx, accessEvents(5)); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetSecret(ctx, "bench", "s")
	if err != nil || got.Description == nil || *got.Description != "by the other process" {
		t.Errorf("description %v, err %v; want the other process's", got.Description, err)
	}
}

// TestCacheKeptAcrossLogRestarts: so many audit batches that SQLite
// checkpoints and restarts its log several times; the cached answer stays
// (a restart is part of the audit transaction that does it).
func TestCacheKeptAcrossLogRestarts(t *testing.T) {
	st := openTemp(t)
	cacheSecret(t, st)
	key := recordKey{"bench", "s"}
	restarts, salt := 0, st.cache.header().header[walSaltWords]
	for i := range 400 {
		if err := st.AppendAudit(ctx, accessEvents(50)); err != nil {
			t.Fatal(err)
		}
		if h := st.cache.header().header; h[walSaltWords] != salt {
			restarts, salt = restarts+1, h[walSaltWords]
		}
		if _, _, hit := lookup(st.cache, &st.cache.records, key); !hit {
			t.Fatalf("after audit batch %d (%d log restarts): the cached record was dropped", i, restarts)
		}
	}
	if restarts == 0 {
		t.Fatal("the log never restarted: this test proves nothing")
	}
	t.Logf("%d log restarts", restarts)
}

// TestCacheKeptWhileAuditCommits: lookups that run while an audit batch
// commits (16 request goroutines do, under a read load) must not empty
// the cache: between the COMMIT moving the wal-index header and the carry
// they miss, and the entries are there again once the commit is done.
func TestCacheKeptWhileAuditCommits(t *testing.T) {
	st := openTemp(t)
	cacheSecret(t, st)
	key := recordKey{"bench", "s"}
	stop := make(chan struct{})
	done := make(chan int)
	go func() { // lookups only: they never put the record back
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
				lookup(st.cache, &st.cache.records, key)
				n++
			}
		}
	}()
	defer func() { close(stop); t.Logf("%d concurrent lookups", <-done) }()
	for i := range 50 { // before the hold, batch 0 already failed
		if err := st.AppendAudit(ctx, accessEvents(5)); err != nil {
			t.Fatal(err)
		}
		if _, _, hit := lookup(st.cache, &st.cache.records, key); !hit {
			t.Fatalf("after audit batch %d: a lookup during the commit dropped the cached record", i)
		}
	}
}

// TestCacheHoldNeverServesAMovedHeader: while an audit transaction holds
// the cache, a commit that is not carried (here another process's, as if
// the audit COMMIT had failed) is never answered from the cache, during
// the hold or after its release.
func TestCacheHoldNeverServesAMovedHeader(t *testing.T) {
	st, other := cachedWithOtherWriter(t)
	st.cache.holdAudit()
	if _, err := other.Exec(`UPDATE secrets SET description = 'by the other process', revision = revision + 1 WHERE name = 's'`); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		got, err := st.GetSecret(ctx, "bench", "s")
		if err != nil || got.Description == nil || *got.Description != "by the other process" {
			t.Errorf("%s: description %v, err %v; want the other process's", when, got.Description, err)
		}
	}
	check("during the hold")
	st.cache.release()
	check("after the release")
}
