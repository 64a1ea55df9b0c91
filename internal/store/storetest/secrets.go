package storetest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

var secretTests = []test{
	{"SecretCreateGet", testSecretCreateGet},
	{"SecretCreateNoWorkspace", testSecretCreateNoWorkspace},
	{"SecretDuplicate", testSecretDuplicate},
	{"SecretCreateRace", testSecretCreateRace},
	{"SecretNotFound", testSecretNotFound},
	{"SecretListOrder", testSecretListOrder},
	{"SecretListPages", testSecretListPages},
	{"SecretListExclude", testSecretListExclude},
	{"SecretListEmptyAndMissing", testSecretListEmptyAndMissing},
	{"SecretUpdate", testSecretUpdate},
	{"SecretUpdateConcurrent", testSecretUpdateConcurrent},
	{"SecretDelete", testSecretDelete},
}

func secName(s secrets.Secret) string { return s.Name }

func testSecretCreateGet(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	full := newRecord("ws", "full", now)
	full.ID, full.Revision, full.Version = 999, 7, 5 // ignored
	nulls := newRecord("ws", "nulls", now)
	nulls.Description, nulls.CreatedBy, nulls.UpdatedBy = nil, nil, nil
	empty := newRecord("ws", "empty", now)
	empty.Description = ptr("")
	format1 := newRecord("ws", "format1", now)
	format1.Sealed.Format, format1.Sealed.Provider = 1, ""
	for _, r := range []secrets.Record{full, nulls, empty, format1} {
		t.Run(r.Name, func(t *testing.T) {
			got := mustCreateRecord(t, st, r)
			if got.ID <= 0 {
				t.Fatalf("ID %d, want > 0", got.ID)
			}
			same(t, "CreateSecret result", showRecord, got, storedRecord(r, got.ID))
			same(t, "GetSecret after create", showRecord, mustGetSecret(t, st, "ws", r.Name), got)
		})
	}
}

func testSecretCreateNoWorkspace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	_, err := st.CreateSecret(ctx, newRecord("missing", "s", secrets.Now()))
	wantErr(t, "CreateSecret in a missing workspace", err, secrets.ErrNoWorkspace)
}

func testSecretDuplicate(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	mustCreateWorkspace(t, st, "other", now)
	first := mustCreateSecret(t, st, "ws", "s", now)
	dup := newRecord("ws", "s", now.Add(time.Second))
	dup.Description = ptr("second")
	_, err := st.CreateSecret(ctx, dup)
	wantErr(t, "duplicate CreateSecret", err, secrets.ErrAlreadyExists)
	same(t, "GetSecret after the failed create", showRecord, mustGetSecret(t, st, "ws", "s"), first)
	mustCreateSecret(t, st, "other", "s", now) // same name, other workspace
}

func testSecretCreateRace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	const n = 20
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := newRecord("ws", "contested", secrets.Now())
			r.Description = ptr(fmt.Sprint("creator ", i))
			<-start
			_, errs[i] = st.CreateSecret(ctx, r)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, secrets.ErrAlreadyExists):
			t.Errorf("creator %d: %v, want nil or ErrAlreadyExists", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", won)
	}
}

func testSecretNotFound(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	mustCreateSecret(t, st, "ws", "present", secrets.Now())
	for _, c := range [][2]string{{"ws", "missing"}, {"missing", "present"}, {"ws", "PRESENT"}} {
		_, err := st.GetSecret(ctx, c[0], c[1])
		wantErr(t, "GetSecret "+c[0]+"/"+c[1], err, secrets.ErrNotFound)
	}
}

// listFixture creates six secrets in "ws" (and noise in "other") and returns
// their metadata in list order: created_at descending, then name in byte order.
func listFixture(t *testing.T, st secrets.Store) []secrets.Secret {
	t.Helper()
	base := secrets.Now()
	mustCreateWorkspace(t, st, "ws", base)
	mustCreateWorkspace(t, st, "other", base)
	byName := map[string]secrets.Secret{}
	for _, s := range []struct {
		name string
		at   int
	}{{"b", 2}, {"z", 0}, {"a", 2}, {"y", 3}, {"C", 2}, {"m", 1}} {
		byName[s.name] = mustCreateSecret(t, st, "ws", s.name, base.Add(time.Duration(s.at)*time.Second)).Secret
		mustCreateSecret(t, st, "other", s.name+"-other", base.Add(time.Duration(s.at)*time.Second))
	}
	var ordered []secrets.Secret
	for _, name := range []string{"y", "C", "a", "b", "m", "z"} {
		ordered = append(ordered, byName[name])
	}
	return ordered
}

func testSecretListOrder(t *testing.T, st secrets.Store) {
	want := listFixture(t, st)
	got, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Limit: 100})
	wantErr(t, "ListSecrets", err, nil)
	if total != len(want) {
		t.Errorf("total %d, want %d", total, len(want))
	}
	sameList(t, "ListSecrets", showSecret, got, want)
}

func testSecretListPages(t *testing.T, st secrets.Store) {
	all := listFixture(t, st)
	for _, c := range []struct{ offset, limit, from, to int }{
		{0, 2, 0, 2}, {2, 2, 2, 4}, {4, 2, 4, 6}, {5, 10, 5, 6}, {6, 2, 6, 6}, {0, 1000, 0, 6}, {math.MaxInt, 2, 6, 6},
	} {
		got, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Offset: c.offset, Limit: c.limit})
		wantErr(t, "ListSecrets", err, nil)
		if total != 6 {
			t.Errorf("offset %d limit %d: total %d, want 6", c.offset, c.limit, total)
		}
		sameList(t, fmt.Sprintf("offset %d limit %d", c.offset, c.limit), showSecret, got, all[c.from:c.to])
	}
}

func testSecretListExclude(t *testing.T, st secrets.Store) {
	listFixture(t, st)
	for _, c := range []struct {
		exclude       string
		offset, limit int
		want          []string
		total         int
	}{
		{"a", 0, 10, []string{"y", "C", "b", "m", "z"}, 5},
		{"C", 2, 2, []string{"b", "m"}, 5},
		{"y", 0, 1, []string{"C"}, 5},
		{"absent", 0, 10, []string{"y", "C", "a", "b", "m", "z"}, 6},
		{"a-other", 0, 10, []string{"y", "C", "a", "b", "m", "z"}, 6}, // only in another workspace
	} {
		got, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Offset: c.offset, Limit: c.limit, Exclude: c.exclude})
		wantErr(t, "ListSecrets", err, nil)
		if g := names(got, secName); !slices.Equal(g, c.want) || total != c.total {
			t.Errorf("exclude %q offset %d limit %d: got %q total %d, want %q total %d",
				c.exclude, c.offset, c.limit, g, total, c.want, c.total)
		}
	}
}

func testSecretListEmptyAndMissing(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "empty", secrets.Now())
	mustCreateWorkspace(t, st, "full", secrets.Now())
	mustCreateSecret(t, st, "full", "s", secrets.Now())
	for _, q := range []secrets.SecretQuery{{Limit: 10}, {Offset: 3, Limit: 10}, {Limit: 10, Exclude: "s"}} {
		got, total, err := st.ListSecrets(ctx, "empty", q)
		if err != nil || len(got) != 0 || total != 0 {
			t.Errorf("empty workspace %+v: %d items, total %d, err %v; want none", q, len(got), total, err)
		}
	}
	_, _, err := st.ListSecrets(ctx, "missing", secrets.SecretQuery{Limit: 10})
	wantErr(t, "ListSecrets of a missing workspace", err, secrets.ErrNoWorkspace)
}

func testSecretUpdate(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	newSealed := sealed("k2", "new value")
	cases := []struct {
		name string
		u    secrets.SecretUpdate
	}{
		{"neither", secrets.SecretUpdate{UpdatedBy: ptr("bob")}},
		{"description only", secrets.SecretUpdate{Description: ptr("new"), UpdatedBy: ptr("bob")}},
		{"empty description", secrets.SecretUpdate{Description: ptr(""), UpdatedBy: ptr("bob")}},
		{"sealed only", secrets.SecretUpdate{Sealed: &newSealed, UpdatedBy: ptr("bob")}},
		{"both", secrets.SecretUpdate{Description: ptr("new"), Sealed: &newSealed, UpdatedBy: ptr("bob")}},
		{"anonymous updater", secrets.SecretUpdate{Description: ptr("new")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orig := mustCreateSecret(t, st, "ws", c.name, secrets.Now())
			c.u.UpdatedAt = orig.CreatedAt.Add(2500 * time.Millisecond)
			c.u.Keep = 10
			got, err := st.UpdateSecret(ctx, "ws", c.name, c.u)
			wantErr(t, "UpdateSecret", err, nil)
			want := updated(orig, c.u)
			same(t, "UpdateSecret result", showRecord, got, unsealed(want))
			same(t, "GetSecret after update", showRecord, mustGetSecret(t, st, "ws", c.name), want)
		})
	}
}

// updated is what a store holds after applying u to r: a new value is the
// next version.
func updated(r secrets.Record, u secrets.SecretUpdate) secrets.Record {
	if u.Description != nil {
		r.Description = u.Description
	}
	if u.Sealed != nil {
		r.Sealed = *u.Sealed
		r.Version++
	}
	r.UpdatedAt, r.UpdatedBy, r.Revision = utcMicros(u.UpdatedAt), u.UpdatedBy, r.Revision+1
	return r
}

// unsealed is r as UpdateSecret, RestoreVersion and RestoreDeleted return
// it: without the sealed value, which the caller already has or must not
// get back.
func unsealed(r secrets.Record) secrets.Record {
	r.Sealed = envelope.Sealed{}
	return r
}

// testSecretUpdateConcurrent runs unconditional updates at once, half of
// them with a new value: they apply one after the other, so no revision and
// no version is lost, and each new value is exactly one version.
func testSecretUpdateConcurrent(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	mustCreateSecret(t, st, "ws", "s", secrets.Now())
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	results := make([]secrets.Record, n)
	for i := range n {
		wg.Go(func() {
			u := secrets.SecretUpdate{Description: ptr(fmt.Sprint("writer ", i)), UpdatedAt: secrets.Now(), Keep: 100}
			if i%2 == 1 {
				v := sealed("k1", fmt.Sprint("writer ", i))
				u.Sealed = &v
			}
			results[i], errs[i] = st.UpdateSecret(ctx, "ws", "s", u)
		})
	}
	wg.Wait()
	for i, err := range errs {
		wantErr(t, fmt.Sprint("UpdateSecret ", i), err, nil)
	}
	got := mustGetSecret(t, st, "ws", "s")
	if got.Revision != 1+n || got.Version != 1+n/2 {
		t.Fatalf("revision %d version %d after %d updates (%d with a value), want revision %d version %d",
			got.Revision, got.Version, n, n/2, 1+n, 1+n/2)
	}
	seen := map[int64]int{} // version -> writer
	for i := 1; i < n; i += 2 {
		v := results[i].Version
		if prev, dup := seen[v]; dup || v < 2 || v > got.Version {
			t.Fatalf("writers %d and %d: version %d (current %d)", prev, i, v, got.Version)
		}
		seen[v] = i
		wantVersion(t, st, "ws", "s", v, sealed("k1", fmt.Sprint("writer ", i)))
	}
}

func testSecretDelete(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	kept := mustCreateSecret(t, st, "ws", "kept", now)
	old := mustCreateSecret(t, st, "ws", "s", now) // the highest ID
	// The zero SecretDelete erases at once: no bin entry, no stored version.
	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "s", secrets.SecretDelete{}), nil)
	_, err := st.GetSecret(ctx, "ws", "s")
	wantErr(t, "GetSecret after delete", err, secrets.ErrNotFound)
	_, err = st.GetStoredVersion(ctx, secrets.VersionKey{SecretID: old.ID, Version: 1})
	wantErr(t, "GetStoredVersion after delete", err, secrets.ErrNotFound)
	_, err = st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{UpdatedAt: now, Keep: 1})
	wantErr(t, "UpdateSecret after delete", err, secrets.ErrNotFound)
	wantErr(t, "second DeleteSecret", st.DeleteSecret(ctx, "ws", "s", secrets.SecretDelete{}), secrets.ErrNotFound)
	wantErr(t, "DeleteSecret in a missing workspace", st.DeleteSecret(ctx, "missing", "kept", secrets.SecretDelete{}), secrets.ErrNotFound)
	same(t, "other secret", showRecord, mustGetSecret(t, st, "ws", "kept"), kept)
	wantBin(t, st, "ws", secrets.DeletedQuery{Limit: 10, Now: now}, nil, 0)
	wantScan(t, st, []secrets.StoredVersion{storedVersion(kept, false)})

	again := mustCreateSecret(t, st, "ws", "s", now.Add(time.Second))
	if again.ID <= old.ID || again.Revision != 1 {
		t.Fatalf("recreated secret: ID %d revision %d, want ID > %d (IDs ascend and are never reused) and revision 1",
			again.ID, again.Revision, old.ID)
	}
}
