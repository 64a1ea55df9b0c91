package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// plug blocks the committer inside a transaction, so that the writes
// submitted until unplug is called all queue and then go into one batch.
func plug(t *testing.T, st *Store) (unplug func()) {
	t.Helper()
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- st.write(ctx, func(context.Context, *sql.Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	var once sync.Once
	unplug = func() {
		once.Do(func() {
			close(release)
			if err := <-done; err != nil {
				t.Errorf("plug: %v", err)
			}
		})
	}
	t.Cleanup(unplug) // before Close, which waits for the plug, if the test fails first
	return unplug
}

// waitQueued waits until n writes wait in the committer's queue.
func waitQueued(t *testing.T, st *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(st.commit.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", len(st.commit.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// value is a sealed value that tells which write stored it.
func value(tag string) envelope.Sealed {
	return envelope.Sealed{Ciphertext: []byte(tag), WrappedDEK: []byte("dek"), Provider: "k1", Format: 2}
}

func secret(ws, name, tag string) secrets.Record {
	now := secrets.Now()
	return secrets.Record{
		Secret: secrets.Secret{Name: name, Workspace: ws, CreatedAt: now, UpdatedAt: now},
		Sealed: value(tag),
	}
}

// wantValue fails unless ws/name holds the value tag.
func wantValue(t *testing.T, st *Store, ws, name, tag string) secrets.Record {
	t.Helper()
	r, err := st.GetSecret(ctx, ws, name)
	if err != nil {
		t.Fatalf("GetSecret(%s/%s): %v", ws, name, err)
	}
	if !bytes.Equal(r.Sealed.Ciphertext, []byte(tag)) {
		t.Fatalf("%s/%s holds %q, want %q", ws, name, r.Sealed.Ciphertext, tag)
	}
	return r
}

// TestGroupCommitIsolatesFailures runs writes that succeed and writes that
// fail in every way the contract names in ONE transaction: each failing
// write reports its own error and leaves no trace, the others commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")
	if _, err := st.CreateSecret(ctx, secret("ws", "taken", "old")); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateWorkspace(ctx, workspace("team"), "alice"); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	writes := map[string]struct {
		run  func() error
		want error
	}{
		"duplicate create": {func() error {
			_, err := st.CreateSecret(ctx, secret("ws", "taken", "duplicate"))
			return err
		}, secrets.ErrAlreadyExists},
		"create in a missing workspace": {func() error {
			_, err := st.CreateSecret(ctx, secret("nowhere", "s", "lost"))
			return err
		}, secrets.ErrNoWorkspace},
		"update of a missing secret": {func() error {
			_, err := st.UpdateSecret(ctx, "ws", "missing", secrets.SecretUpdate{UpdatedAt: secrets.Now()})
			return err
		}, secrets.ErrNotFound},
		"removing the last admin": {func() error {
			_, err := st.RemoveMember(ctx, "team", "alice")
			return err
		}, secrets.ErrLastAdmin},
		"duplicate workspace": {func() error {
			return st.CreateWorkspace(ctx, workspace("ws"), "")
		}, secrets.ErrAlreadyExists},
		// A write that changed rows before failing: its savepoint undoes them.
		"partial write": {func() error {
			return st.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, name, created_at, updated_at)
					VALUES ('p', 'partial', 0, 0)`); err != nil {
					return err
				}
				return errBoom
			})
		}, errBoom},
		"update": {func() error {
			s := value("updated")
			_, err := st.UpdateSecret(ctx, "ws", "taken", secrets.SecretUpdate{Sealed: &s, UpdatedAt: secrets.Now()})
			return err
		}, nil},
		"grant": {func() error {
			return st.GrantRoles(ctx, "team", "bob", []string{"Viewer"}, nil, secrets.Now())
		}, nil},
	}
	for i := range 20 {
		writes[fmt.Sprint("create ", i)] = struct {
			run  func() error
			want error
		}{func() error {
			_, err := st.CreateSecret(ctx, secret("ws", fmt.Sprint("new", i), fmt.Sprint("value", i)))
			return err
		}, nil}
	}

	commits, ran := st.commit.commits.Load(), st.commit.writes.Load()
	unplug := plug(t, st)
	var wg sync.WaitGroup
	errs := make(map[string]error, len(writes))
	var mu sync.Mutex
	for name, w := range writes {
		wg.Go(func() {
			err := w.run()
			mu.Lock()
			errs[name] = err
			mu.Unlock()
		})
	}
	waitQueued(t, st, len(writes))
	unplug()
	wg.Wait()

	if c, w := st.commit.commits.Load()-commits, st.commit.writes.Load()-ran; c != 2 || w != int64(len(writes))+1 {
		t.Fatalf("%d commits of %d writes, want 2 commits (the plug, then one batch) of %d", c, w, len(writes)+1)
	}
	for name, w := range writes {
		if err := errs[name]; w.want == nil && err != nil || w.want != nil && !errors.Is(err, w.want) {
			t.Errorf("%s: error %v, want %v", name, err, w.want)
		}
	}
	r := wantValue(t, st, "ws", "taken", "updated")
	if r.Revision != 2 {
		t.Errorf("taken: revision %d, want 2", r.Revision)
	}
	for i := range 20 {
		wantValue(t, st, "ws", fmt.Sprint("new", i), fmt.Sprint("value", i))
	}
	if _, err := st.GetWorkspace(ctx, "partial"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("workspace of the failed partial write: %v, want ErrNotFound", err)
	}
	if roles, err := st.RolesOf(ctx, "team", []string{"alice", "bob"}); err != nil || fmt.Sprint(roles) != "map[alice:[Admin] bob:[Viewer]]" {
		t.Errorf("RolesOf = %v, %v", roles, err)
	}
	if n, _, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Limit: 100}); err != nil || len(n) != 21 {
		t.Errorf("ListSecrets: %d secrets, %v; want 21", len(n), err)
	}
}

// TestGroupCommitUnderLoad has 64 goroutines create secrets at once, every
// name attempted by two of them with different values: exactly one of each
// pair wins and its value is stored, and commits carry several writes.
func TestGroupCommitUnderLoad(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")
	const goroutines, names = 64, 20
	type outcome struct {
		tag string
		err error
	}
	results := make([][]outcome, goroutines)
	commits, ran := st.commit.commits.Load(), st.commit.writes.Load()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range names {
				tag := fmt.Sprintf("g%d-%d", g, i)
				_, err := st.CreateSecret(ctx, secret("ws", fmt.Sprintf("s%d-%d", g%(goroutines/2), i), tag))
				results[g] = append(results[g], outcome{tag, err})
			}
		})
	}
	wg.Wait()

	for g := range goroutines / 2 {
		for i := range names {
			a, b := results[g][i], results[g+goroutines/2][i]
			if (a.err == nil) == (b.err == nil) {
				t.Fatalf("s%d-%d: errors %v and %v, want exactly one success", g, i, a.err, b.err)
			}
			winner, loser := a, b
			if a.err != nil {
				winner, loser = b, a
			}
			if !errors.Is(loser.err, secrets.ErrAlreadyExists) {
				t.Errorf("s%d-%d: loser error %v, want ErrAlreadyExists", g, i, loser.err)
			}
			wantValue(t, st, "ws", fmt.Sprintf("s%d-%d", g, i), winner.tag)
		}
	}
	c, w := st.commit.commits.Load()-commits, st.commit.writes.Load()-ran
	t.Logf("%d writes in %d commits (%.1f per commit)", w, c, float64(w)/float64(c))
	if w != goroutines*names || c >= w {
		t.Errorf("%d writes in %d commits, want %d writes in fewer commits", w, c, goroutines*names)
	}
}

// TestGroupCommitFailedCommit makes the COMMIT of a batch fail: every write
// of the batch gets the error and none is stored, and the next write works.
func TestGroupCommitFailedCommit(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")
	unplug := plug(t, st)
	errs := make(chan error, 2)
	go func() {
		_, err := st.CreateSecret(ctx, secret("ws", "innocent", "v"))
		errs <- err
	}()
	go func() {
		// A deferred foreign key violation passes the statement and fails
		// the COMMIT.
		errs <- st.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO role_bindings (workspace, principal, role, granted_at)
				VALUES ('nowhere', 'p', 'r', 0)`)
			return err
		})
	}()
	waitQueued(t, st, 2)
	unplug()
	for range 2 {
		if err := <-errs; err == nil {
			t.Error("a write of a batch whose COMMIT failed succeeded")
		}
	}
	if _, err := st.GetSecret(ctx, "ws", "innocent"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("write of the failed batch: %v, want ErrNotFound", err)
	}
	if _, err := st.CreateSecret(ctx, secret("ws", "after", "v")); err != nil {
		t.Fatalf("write after a failed commit: %v", err)
	}
	wantValue(t, st, "ws", "after", "v")
}

// TestGroupCommitBrokenTransaction has a write end the batch's transaction
// behind the committer's back, as SQLite does on an I/O error: the writes
// that ran before it fail and are not stored, the ones after it run in a
// new transaction.
func TestGroupCommitBrokenTransaction(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")
	unplug := plug(t, st)
	create := func(name string) chan error {
		errs := make(chan error, 1)
		go func() {
			_, err := st.CreateSecret(ctx, secret("ws", name, "v"))
			errs <- err
		}()
		return errs
	}
	before := create("before")
	waitQueued(t, st, 1)
	breaker := make(chan error, 1)
	go func() {
		breaker <- st.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `ROLLBACK`)
			return err
		})
	}()
	waitQueued(t, st, 2)
	after := create("after")
	waitQueued(t, st, 3)
	unplug()
	if err := <-before; err == nil {
		t.Error("a write of the broken transaction succeeded")
	}
	if err := <-breaker; err == nil {
		t.Error("the write that broke the transaction succeeded")
	}
	if err := <-after; err != nil {
		t.Errorf("write after the broken one: %v", err)
	}
	if _, err := st.GetSecret(ctx, "ws", "before"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("write of the broken transaction: %v, want ErrNotFound", err)
	}
	wantValue(t, st, "ws", "after", "v")
}

// TestGroupCommitPanic: a write that panics makes its caller panic, as it
// would without the committer; its changes are undone, the other writes of
// its batch commit and the committer goes on.
func TestGroupCommitPanic(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")
	unplug := plug(t, st)
	recovered := make(chan any)
	go func() {
		defer func() { recovered <- recover() }()
		st.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, name, created_at, updated_at)
				VALUES ('p', 'panicked', 0, 0)`); err != nil {
				return err
			}
			panic("kaboom")
		})
	}()
	waitQueued(t, st, 1)
	errs := make(chan error)
	go func() {
		_, err := st.CreateSecret(ctx, secret("ws", "neighbour", "v"))
		errs <- err
	}()
	waitQueued(t, st, 2)
	unplug()
	if p, ok := (<-recovered).(*writePanic); !ok || p.value != "kaboom" || !strings.Contains(p.Error(), "committer_test.go") {
		t.Errorf("caller of a panicking write recovered %v, want a *writePanic of kaboom with its stack", p)
	}
	if err := <-errs; err != nil {
		t.Errorf("write batched with a panicking one: %v", err)
	}
	wantValue(t, st, "ws", "neighbour", "v")
	if _, err := st.GetWorkspace(ctx, "panicked"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("change of the panicking write: %v, want ErrNotFound", err)
	}
	mustCreate(t, st, "later")
}

// TestGroupCommitCancel: a write whose context ends while it is queued
// returns at once and never runs; one whose context ends after it started
// is committed and reports success.
func TestGroupCommitCancel(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")

	unplug := plug(t, st)
	cctx, cancel := context.WithCancel(ctx)
	errs := make(chan error)
	go func() {
		_, err := st.CreateSecret(cctx, secret("ws", "cancelled", "v"))
		errs <- err
	}()
	waitQueued(t, st, 1)
	cancel()
	select { // while the committer is still plugged
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled queued write: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled queued write waits for the committer")
	}
	unplug()
	if _, err := st.CreateSecret(ctx, secret("ws", "later", "v")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSecret(ctx, "ws", "cancelled"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("cancelled write: %v, want ErrNotFound", err)
	}

	cctx, cancel = context.WithCancel(ctx)
	err := st.write(cctx, func(ctx context.Context, tx *sql.Tx) error {
		cancel() // the caller's context ends while the write runs
		_, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, name, created_at, updated_at)
			VALUES ('r', 'ran', 0, 0)`)
		return err
	})
	if err != nil {
		t.Fatalf("write cancelled while running: %v, want its own outcome (nil)", err)
	}
	if _, err := st.GetWorkspace(ctx, "ran"); err != nil {
		t.Errorf("write cancelled while running: %v, want it committed", err)
	}

	if err := st.DeleteSecret(cctx, "ws", "later", secrets.SecretDelete{}); !errors.Is(err, context.Canceled) {
		t.Errorf("write with a done context: %v, want context.Canceled", err)
	}
}

// TestCloseDrainsQueuedWrites closes the store while writes are queued:
// they all commit, and a write after Close fails.
func TestCloseDrainsQueuedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	st, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, "ws")
	unplug := plug(t, st)
	const n = 10
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := st.CreateSecret(ctx, secret("ws", fmt.Sprint("s", i), "v"))
			errs <- err
		}()
	}
	waitQueued(t, st, n)
	closed := make(chan error)
	go func() { closed <- st.Close() }()
	for { // until Close has stopped accepting writes
		st.commit.mu.RLock()
		c := st.commit.closed
		st.commit.mu.RUnlock()
		if c {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := st.CreateSecret(ctx, secret("ws", "too-late", "v")); !errors.Is(err, errClosed) {
		t.Errorf("write after Close: %v, want errClosed", err)
	}
	unplug()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("queued write: %v", err)
		}
	}
	st = openAt(t, path)
	if list, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Limit: 100}); err != nil || total != n {
		t.Fatalf("after reopen: %d secrets (%v), want %d", len(list), err, n)
	}
}

// TestGroupCommitAuditEvents queues writes carrying audit events into one
// batch: the events of the writes that succeed are stored with them (and
// their drafts get the stored ids), those of the writes that fail are not;
// and an event the table refuses fails every write of its batch, none of
// which is then stored, as a failed COMMIT would.
func TestGroupCommitAuditEvents(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")
	if _, err := st.CreateSecret(ctx, secret("ws", "taken", "old")); err != nil {
		t.Fatal(err)
	}
	event := func(action, name string) *secrets.AuditDraft {
		return &secrets.AuditDraft{Event: secrets.AuditEvent{Time: secrets.Now(), Action: action,
			Outcome: "success", Status: 201, Workspace: "ws", Secret: name, Principal: "p"}}
	}
	tests := []struct {
		name      string
		badAction bool // one write's event has an empty action (CHECK)
	}{{"events commit with their writes", false}, {"a refused event fails the batch", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			type w struct {
				name string
				d    *secrets.AuditDraft
				ok   bool // the write itself succeeds
			}
			var ws []w
			for i := range 7 {
				n := fmt.Sprintf("%s-%d", strings.Fields(tc.name)[1], i)
				ws = append(ws, w{n, event("secret.create", n), true})
			}
			ws = append(ws, w{"taken", event("secret.create", "taken"), false}, w{"plain-" + tc.name[:4], nil, true})
			if tc.badAction {
				ws[3].d.Event.Action = ""
			}
			commits := st.commit.commits.Load()
			unplug := plug(t, st)
			errs := make([]error, len(ws))
			var wg sync.WaitGroup
			for i, x := range ws {
				wg.Go(func() {
					c := ctx
					if x.d != nil {
						c = secrets.WithAuditDraft(ctx, x.d)
					}
					_, errs[i] = st.CreateSecret(c, secret("ws", x.name, x.name))
				})
			}
			waitQueued(t, st, len(ws))
			unplug()
			wg.Wait()
			if c := st.commit.commits.Load() - commits; tc.badAction && c != 1 || !tc.badAction && c != 2 {
				t.Errorf("%d commits, want %d", c, map[bool]int{true: 1, false: 2}[tc.badAction])
			}
			stored, _, err := st.ListAudit(ctx, secrets.AuditQuery{Workspace: "ws", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string]string{}
			for _, e := range stored {
				ids[e.ID] = e.Secret
			}
			for i, x := range ws {
				wantOK := x.ok && !tc.badAction
				if gotOK := errs[i] == nil; gotOK != wantOK {
					t.Errorf("%s: error %v, want success %v", x.name, errs[i], wantOK)
				}
				if _, err := st.GetSecret(ctx, "ws", x.name); wantOK != (err == nil) && x.name != "taken" {
					t.Errorf("%s: GetSecret %v, want stored %v", x.name, err, wantOK)
				}
				if x.d == nil {
					continue
				}
				if x.d.Committed() != wantOK {
					t.Errorf("%s: draft committed %v, want %v", x.name, x.d.Committed(), wantOK)
				}
				if got, ok := ids[x.d.Event.ID]; wantOK && (!ok || got != x.name) {
					t.Errorf("%s: event %q not stored (stored: %v)", x.name, x.d.Event.ID, ids)
				} else if !wantOK && ok {
					t.Errorf("%s: event of a failed write stored", x.name)
				}
			}
		})
	}
}
