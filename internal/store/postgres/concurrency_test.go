package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
)

// Races between replicas (several Stores on one schema) that the shared
// suite, which runs one Store, does not reach: lock order and snapshot
// questions of PostgreSQL's READ COMMITTED.

// replicas opens n stores on one new schema.
func replicas(t *testing.T, n int) []*Store {
	t.Helper()
	dsn := pgtest.NewDSN(t)
	sts := make([]*Store, n)
	for i := range sts {
		sts[i] = openDSN(t, dsn)
	}
	return sts
}

// runAll runs ops at once and fails t with the errors they return.
func runAll(t *testing.T, ops ...func() error) {
	t.Helper()
	errs := make([]error, len(ops))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() {
			<-start
			errs[i] = op()
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// value is a sealed value whose ciphertext starts with kind.
func value(kind string, args ...any) envelope.Sealed {
	return envelope.Sealed{Ciphertext: []byte(kind + fmt.Sprint(args...)), WrappedDEK: []byte{0, 1}, Provider: kind, Format: 2}
}

// storedVersions counts the versions of ws/name that hold a value.
func storedVersions(t *testing.T, st *Store, ws, name string) int {
	t.Helper()
	var n int
	err := st.pool.QueryRow(ctx, `SELECT count(*) FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id
		WHERE `+liveByName+` AND v.ciphertext IS NOT NULL`, ws, name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConcurrentUpdatesPrune gives one secret new values from two replicas
// at once, keeping one version: every update waits for the previous one's
// row lock, and must then erase the version that update added, which its
// statement's snapshot (taken before the wait) cannot see. Exactly the
// current version keeps its value.
func TestConcurrentUpdatesPrune(t *testing.T) {
	sts := replicas(t, 2)
	mustCreate(t, sts[0], "ws")
	if _, err := sts[0].CreateSecret(ctx, secrets.Record{Secret: secrets.Secret{Workspace: "ws", Name: "s",
		CreatedAt: secrets.Now(), UpdatedAt: secrets.Now()}, Sealed: value("v", 1)}); err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 8, 5
	for round := range rounds {
		ops := make([]func() error, writers)
		for i := range ops {
			ops[i] = func() error {
				v := value("v", round, i)
				_, err := sts[i%2].UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{Sealed: &v, UpdatedAt: secrets.Now(), Keep: 1})
				return err
			}
		}
		runAll(t, ops...)
		if n := storedVersions(t, sts[0], "ws", "s"); n != 1 {
			t.Fatalf("round %d: %d versions hold a value after updates keeping 1", round, n)
		}
	}
	if got, err := sts[1].GetSecret(ctx, "ws", "s"); err != nil || got.Version != 1+writers*rounds {
		t.Fatalf("GetSecret: version %d, %v; want %d", got.Version, err, 1+writers*rounds)
	}
}

// TestReplicasPurgeWhileRotating runs the background purge on three
// replicas while a rotation re-seals every version, the expired entries'
// included, in key order. The purges lock versions in key order too, so no
// call fails with a deadlock; each entry is erased exactly once.
func TestReplicasPurgeWhileRotating(t *testing.T) {
	sts := replicas(t, 4)
	mustCreate(t, sts[0], "ws")
	const entries, liveSecrets = 120, 30
	now := secrets.Now()
	for i := range entries + liveSecrets {
		name := fmt.Sprint("s", i)
		mustSecret(t, sts[0], "ws", name, value("v1 ", name))
		v := value("v2 ", name)
		if _, err := sts[0].UpdateSecret(ctx, "ws", name, secrets.SecretUpdate{Sealed: &v, UpdatedAt: now, Keep: 10}); err != nil {
			t.Fatal(err)
		}
		if i < entries {
			d := secrets.SecretDelete{BinID: fmt.Sprint("bin-", i), DeletedAt: now, PurgeAt: now.Add(-time.Duration(i) * time.Second)}
			if err := sts[0].DeleteSecret(ctx, "ws", name, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := sts[0].ScanVersions(ctx, secrets.VersionKey{}, 1<<20)
	if err != nil || len(all) != 2*(entries+liveSecrets) {
		t.Fatalf("ScanVersions: %d versions, %v", len(all), err)
	}
	var purged atomic.Int64
	purge := func(st *Store) func() error {
		return func() error {
			for {
				n, err := st.PurgeExpired(ctx, now, 7)
				if err != nil || n == 0 {
					return err
				}
				purged.Add(int64(n))
			}
		}
	}
	resealErrs := make([]error, len(all))
	rotate := func() error {
		for from := 0; from < len(all); from += 20 {
			batch := all[from:min(from+20, len(all))]
			rs := make([]secrets.Reseal, len(batch))
			for i, v := range batch {
				rs[i] = secrets.Reseal{VersionKey: v.VersionKey, Old: v.Sealed.Ciphertext, Sealed: value("rotated ", v.VersionKey)}
			}
			errs, err := sts[3].ResealVersions(ctx, rs)
			if err != nil {
				return err
			}
			copy(resealErrs[from:], errs)
		}
		return nil
	}
	runAll(t, purge(sts[0]), purge(sts[1]), purge(sts[2]), rotate)

	if purged.Load() != entries {
		t.Fatalf("the replicas purged %d entries, want %d", purged.Load(), entries)
	}
	left, err := sts[0].ScanVersions(ctx, secrets.VersionKey{}, 1<<20)
	if err != nil || len(left) != 2*liveSecrets {
		t.Fatalf("after the purge: %d versions stored, %v; want the %d of the live secrets", len(left), err, 2*liveSecrets)
	}
	for i, v := range all {
		if !v.Deleted && resealErrs[i] != nil || resealErrs[i] != nil && !errors.Is(resealErrs[i], secrets.ErrNotFound) {
			t.Errorf("re-seal of %+v (deleted %v): %v", v.VersionKey, v.Deleted, resealErrs[i])
		}
	}
	for _, v := range left {
		if !bytes.HasPrefix(v.Sealed.Ciphertext, []byte("rotated ")) {
			t.Errorf("%+v was not re-sealed", v.VersionKey)
		}
	}
}

// TestRotationRacesDeleteAndRestore rotates every version while other
// replicas move the same secrets to the bin and back, under their old name
// (ciphertexts kept) or a new one (re-sealed), and give them new values.
// Rotation retries a version that changed, as the Service does; in the end
// no version holds an original value and no call failed.
func TestRotationRacesDeleteAndRestore(t *testing.T) {
	sts := replicas(t, 3)
	mustCreate(t, sts[0], "ws")
	const n = 40
	for i := range n {
		name := fmt.Sprint("s", i)
		mustSecret(t, sts[0], "ws", name, value("original ", name, 1))
		v := value("original ", name, 2)
		if _, err := sts[0].UpdateSecret(ctx, "ws", name, secrets.SecretUpdate{Sealed: &v, UpdatedAt: secrets.Now(), Keep: 10}); err != nil {
			t.Fatal(err)
		}
	}
	current := func(v secrets.StoredVersion) bool { return !bytes.HasPrefix(v.Sealed.Ciphertext, []byte("original ")) }
	rotate := func() error {
		var after secrets.VersionKey
		for {
			page, err := sts[0].ScanVersions(ctx, after, 7)
			if err != nil || len(page) == 0 {
				return err
			}
			if err := resealUntilCurrent(sts[0], page, current); err != nil {
				return err
			}
			after = page[len(page)-1].VersionKey
		}
	}
	churn := func(st *Store, from int) func() error {
		return func() error {
			for i := from; i < n; i += 2 {
				if err := binAndBack(st, i); err != nil {
					return err
				}
			}
			return nil
		}
	}
	runAll(t, rotate, churn(sts[1], 0), churn(sts[2], 1))

	all, err := sts[0].ScanVersions(ctx, secrets.VersionKey{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range all {
		if !current(v) || v.Deleted {
			t.Errorf("%s %+v (deleted %v) holds %q", v.Name, v.VersionKey, v.Deleted, v.Sealed.Ciphertext)
		}
	}
	if len(all) < 2*n {
		t.Errorf("%d versions stored, want at least %d", len(all), 2*n)
	}
}

// mustSecret creates ws/name with value v.
func mustSecret(t *testing.T, st *Store, ws, name string, v envelope.Sealed) {
	t.Helper()
	r := secrets.Record{Secret: secrets.Secret{Workspace: ws, Name: name, CreatedAt: secrets.Now(), UpdatedAt: secrets.Now()}, Sealed: v}
	if _, err := st.CreateSecret(ctx, r); err != nil {
		t.Fatal(err)
	}
}

// resealUntilCurrent re-seals page as rotation does: a version that
// changed meanwhile is read again and re-sealed unless it is current
// already or gone.
func resealUntilCurrent(st *Store, page []secrets.StoredVersion, current func(secrets.StoredVersion) bool) error {
	for attempt := 0; len(page) > 0; attempt++ {
		if attempt == 10 {
			return fmt.Errorf("versions still changing after %d attempts: %+v", attempt, page)
		}
		rs := make([]secrets.Reseal, len(page))
		for i, v := range page {
			rs[i] = secrets.Reseal{VersionKey: v.VersionKey, Old: v.Sealed.Ciphertext, Sealed: value("rotated ", v.VersionKey)}
		}
		errs, err := st.ResealVersions(ctx, rs)
		if err != nil {
			return err
		}
		var again []secrets.StoredVersion
		for i, e := range errs {
			if !errors.Is(e, secrets.ErrRevisionChanged) {
				continue // re-sealed, or erased meanwhile
			}
			fresh, err := st.GetStoredVersion(ctx, page[i].VersionKey)
			switch {
			case errors.Is(err, secrets.ErrNotFound):
			case err != nil:
				return err
			case !current(fresh):
				again = append(again, fresh)
			}
		}
		page = again
	}
	return nil
}

// binAndBack moves s<i> to the bin and restores it: even i under its old
// name, odd i under "renamed-s<i>" with its versions re-sealed, then back to
// s<i> the same way; it then gives it a new value. A restore that finds a
// version re-sealed since it read it is read and tried again.
func binAndBack(st *Store, i int) error {
	name := fmt.Sprint("s", i)
	names := []string{name, name}
	if i%2 == 1 {
		names[0] = "renamed-" + name
	}
	for round, to := range names {
		from := name
		if round == 1 {
			from = names[0]
		}
		id := fmt.Sprint("bin-", i, "-", round)
		now := secrets.Now()
		d := secrets.SecretDelete{BinID: id, DeletedAt: now, PurgeAt: now.Add(time.Hour)}
		if err := st.DeleteSecret(ctx, "ws", from, d); err != nil {
			return fmt.Errorf("DeleteSecret(%s): %w", from, err)
		}
		if err := restoreRetrying(st, id, from, to); err != nil {
			return err
		}
	}
	v := value("new ", name)
	_, err := st.UpdateSecret(ctx, "ws", name, secrets.SecretUpdate{Sealed: &v, UpdatedAt: secrets.Now(), Keep: 10})
	return err
}

// restoreRetrying restores bin entry id (named from) as to, re-sealing its
// versions when the name changes, until no version changed in between.
func restoreRetrying(st *Store, id, from, to string) error {
	for attempt := 0; attempt < 10; attempt++ {
		now := secrets.Now()
		_, stored, err := st.GetDeleted(ctx, "ws", id, now)
		if err != nil {
			return fmt.Errorf("GetDeleted(%s): %w", id, err)
		}
		r := secrets.BinRestore{UpdatedAt: now, Now: now}
		if to != from {
			r.Name = to
			for _, v := range stored {
				r.Reseals = append(r.Reseals, secrets.Reseal{VersionKey: v.VersionKey, Old: v.Sealed.Ciphertext,
					Sealed: value("renamed ", v.VersionKey, attempt)})
			}
		}
		_, err = st.RestoreDeleted(ctx, "ws", id, r)
		if !errors.Is(err, secrets.ErrRevisionChanged) {
			return err
		}
	}
	return fmt.Errorf("restore of %s still refused after 10 attempts", id)
}
