package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// resealOne re-seals one record with a batch of one and returns its outcome,
// or the error of the whole call.
func resealOne(st secrets.Store, id, revision int64, s envelope.Sealed) error {
	errs, err := st.ResealSecrets(ctx, []secrets.Reseal{{ID: id, Revision: revision, Sealed: s}})
	if err != nil {
		return fmt.Errorf("whole call failed: %w", err)
	}
	if len(errs) != 1 {
		return fmt.Errorf("%d outcomes for one record", len(errs))
	}
	return errs[0]
}

// mustCreateSecrets creates n secrets s0… in ws and returns them.
func mustCreateSecrets(t *testing.T, st secrets.Store, ws string, n int) []secrets.Record {
	t.Helper()
	recs := make([]secrets.Record, n)
	for i := range recs {
		recs[i] = mustCreateSecret(t, st, ws, fmt.Sprint("s", i), secrets.Now())
	}
	return recs
}

// resealed is what a store holds after re-sealing r with s.
func resealed(r secrets.Record, s envelope.Sealed) secrets.Record {
	r.Sealed, r.Revision = s, r.Revision+1
	return r
}

// testResealSecretsMixed re-seals one batch in which records succeed, have
// changed (a PATCH since they were read) or are gone, in any order.
func testResealSecretsMixed(t *testing.T, st secrets.Store) {
	now := secrets.Now()
	mustCreateWorkspace(t, st, "ws", now)
	recs := mustCreateSecrets(t, st, "ws", 5) // s0, s2, s4 ok; s1 patched; s3 deleted
	_, err := st.UpdateSecret(ctx, "ws", "s1", secrets.SecretUpdate{Description: ptr("patched"), UpdatedAt: now})
	wantErr(t, "UpdateSecret", err, nil)
	patched := mustGetSecret(t, st, "ws", "s1")
	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "s3"), nil)

	batch := []secrets.Reseal{
		{ID: recs[0].ID, Revision: 1, Sealed: sealed("k2", "s0")},
		{ID: recs[1].ID, Revision: 1, Sealed: sealed("k2", "lost")},
		{ID: recs[3].ID, Revision: 1, Sealed: sealed("k2", "gone")},
		{ID: recs[4].ID, Revision: 1, Sealed: sealed("k2", "s4")},
		{ID: recs[4].ID + 1000, Revision: 1, Sealed: sealed("k2", "never")},
		{ID: recs[2].ID, Revision: 5, Sealed: sealed("k2", "ahead")},
	}
	errs, err := st.ResealSecrets(ctx, batch)
	wantErr(t, "ResealSecrets", err, nil)
	want := []error{nil, secrets.ErrRevisionChanged, secrets.ErrNotFound, nil, secrets.ErrNotFound, secrets.ErrRevisionChanged}
	if len(errs) != len(want) {
		t.Fatalf("%d outcomes for %d records", len(errs), len(want))
	}
	for i, w := range want {
		wantErr(t, fmt.Sprint("outcome ", i), errs[i], w)
	}
	for _, w := range []secrets.Record{resealed(recs[0], batch[0].Sealed), patched, recs[2], resealed(recs[4], batch[3].Sealed)} {
		same(t, "after the batch", showRecord, mustGetSecret(t, st, "ws", w.Name), w)
	}
	errs, err = st.ResealSecrets(ctx, nil)
	if err != nil || len(errs) != 0 {
		t.Fatalf("empty batch: %v, %v; want no outcomes", errs, err)
	}
}

// testResealSecretsAllOrNothing fails a batch on its last record (a format
// the schema refuses) and on a repeated ID: either leaves every record of the
// batch as it was.
func testResealSecretsAllOrNothing(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	recs := mustCreateSecrets(t, st, "ws", 3)
	bad := sealed("k2", "bad")
	bad.Format = 3
	for name, last := range map[string]secrets.Reseal{
		"invalid format": {ID: recs[2].ID, Revision: 1, Sealed: bad},
		"repeated ID":    {ID: recs[0].ID, Revision: 1, Sealed: sealed("k2", "again")},
	} {
		batch := []secrets.Reseal{
			{ID: recs[0].ID, Revision: 1, Sealed: sealed("k2", "s0")},
			{ID: recs[1].ID, Revision: 1, Sealed: sealed("k2", "s1")},
			last,
		}
		errs, err := st.ResealSecrets(ctx, batch)
		if err == nil || errs != nil {
			t.Fatalf("%s: outcomes %v, error %v; want the whole call to fail", name, errs, err)
		}
		for _, r := range recs {
			same(t, name+": after the failed batch", showRecord, mustGetSecret(t, st, "ws", r.Name), r)
		}
	}
}

// testResealSecretsRacingUpdates re-seals records read before concurrent
// PATCHes of their values: whichever commits first, no PATCH is lost, and a
// re-seal either applied before the PATCH or was refused.
func testResealSecretsRacingUpdates(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	recs := mustCreateSecrets(t, st, "ws", 40)
	batch := make([]secrets.Reseal, len(recs))
	for i, r := range recs {
		batch[i] = secrets.Reseal{ID: r.ID, Revision: r.Revision, Sealed: sealed("k2", r.Name)}
	}
	var errs []error
	ops := []func() error{func() (err error) { errs, err = st.ResealSecrets(ctx, batch); return err }}
	for i := 0; i < len(recs); i += 2 { // every other record is patched
		ops = append(ops, func() error {
			v := sealed("k1", "patched "+recs[i].Name)
			_, err := st.UpdateSecret(ctx, "ws", recs[i].Name, secrets.SecretUpdate{Sealed: &v, UpdatedAt: secrets.Now()})
			return err
		})
	}
	runAtOnce(t, ops)
	for i, r := range recs {
		got := mustGetSecret(t, st, "ws", r.Name)
		want, revision := batch[i].Sealed, int64(2)
		if i%2 == 0 {
			want = sealed("k1", "patched "+r.Name)
			if errs[i] == nil {
				revision = 3 // re-sealed, then patched
			} else if !errors.Is(errs[i], secrets.ErrRevisionChanged) {
				t.Fatalf("%s: outcome %v, want nil or ErrRevisionChanged", r.Name, errs[i])
			}
		} else if errs[i] != nil {
			t.Fatalf("%s (not patched): outcome %v", r.Name, errs[i])
		}
		if showSealed(got.Sealed) != showSealed(want) || got.Revision != revision {
			t.Fatalf("%s: sealed %s revision %d, want %s revision %d",
				r.Name, showSealed(got.Sealed), got.Revision, showSealed(want), revision)
		}
	}
}

// testResealSecretsOverlapping runs two batches over the same records in
// opposite orders at once, as two rotations started together would: both
// calls succeed, and each record is re-sealed by exactly one of them.
func testResealSecretsOverlapping(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", secrets.Now())
	recs := mustCreateSecrets(t, st, "ws", 200)
	for round := range 10 {
		batches := make([][]secrets.Reseal, 2)
		for _, r := range recs {
			rev := int64(1 + round)
			batches[0] = append(batches[0], secrets.Reseal{ID: r.ID, Revision: rev, Sealed: sealed("a", r.Name)})
			batches[1] = append(batches[1], secrets.Reseal{ID: r.ID, Revision: rev, Sealed: sealed("b", r.Name)})
		}
		slices.Reverse(batches[1])
		outcomes := make([][]error, 2)
		var wg sync.WaitGroup
		var callErrs [2]error
		for k := range batches {
			wg.Go(func() { outcomes[k], callErrs[k] = st.ResealSecrets(ctx, batches[k]) })
		}
		wg.Wait()
		if err := errors.Join(callErrs[:]...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		slices.Reverse(outcomes[1])
		for i, r := range recs {
			a, b := outcomes[0][i], outcomes[1][i]
			if (a == nil) == (b == nil) || !errors.Is(a, secrets.ErrRevisionChanged) && !errors.Is(b, secrets.ErrRevisionChanged) {
				t.Fatalf("round %d, %s: outcomes %v and %v; want one nil and one ErrRevisionChanged", round, r.Name, a, b)
			}
		}
	}
}
