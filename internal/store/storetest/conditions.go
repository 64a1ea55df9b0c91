package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The ETag of a secret hashes its ID and revision (secrets.ETag), so the
// store must change the revision with every change a client can see and
// with nothing else, and never give a re-created secret an old ID. Writes
// check their If-Match (Cond) atomically with the change.
var conditionTests = []test{
	{"Revisions", testRevisions},
	{"RecreateChangesID", testRecreateChangesID},
	{"Conditions", testConditions},
	{"ConditionsMissingSecret", testConditionsMissingSecret},
	{"ConditionsVersionErrors", testConditionsVersionErrors},
	{"ConditionalUpdatesRace", testConditionalUpdatesRace},
	{"ConditionalWritersRace", testConditionalWritersRace},
}

// testRevisions runs every kind of write on one secret: each change a client
// can see is a new revision (so a new tag), the rest are none.
func testRevisions(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	r := mustCreateSecret(t, st, "ws", "s", t0)
	seen := map[string]string{tagOf(r): "create"}
	v := sealed("k2", "v")
	at := t0.Add(time.Hour)
	steps := []struct {
		what   string
		change bool
		run    func() error
	}{
		{"new value", true, func() error {
			_, err := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{Sealed: &v, UpdatedAt: at, Keep: 10})
			return err
		}},
		{"description only", true, func() error {
			_, err := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{Description: ptr("d"), UpdatedAt: at, Keep: 10})
			return err
		}},
		{"empty update", true, func() error {
			_, err := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{UpdatedAt: at, Keep: 10})
			return err
		}},
		{"re-seal", false, func() error {
			cur := mustGetSecret(t, st, "ws", "s")
			return resealOne(st, cur, sealed("k3", "resealed"))
		}},
		{"destroy version 1", true, func() error { return st.DestroyVersion(ctx, "ws", "s", 1, secrets.Cond{}) }},
		{"destroy version 1 again", false, func() error { return st.DestroyVersion(ctx, "ws", "s", 1, secrets.Cond{}) }},
		{"refused destroy of the current version", false, func() error {
			if err := st.DestroyVersion(ctx, "ws", "s", 2, secrets.Cond{}); !errors.Is(err, secrets.ErrCurrentVersion) {
				return fmt.Errorf("DestroyVersion of the current version: %v, want ErrCurrentVersion", err)
			}
			return nil
		}},
		{"restore version 2", true, func() error {
			_, err := st.RestoreVersion(ctx, "ws", "s", 2, secrets.SecretUpdate{UpdatedAt: at, Keep: 10})
			return err
		}},
		{"refused conditional update", false, func() error {
			_, err := st.UpdateSecret(ctx, "ws", "s", secrets.SecretUpdate{UpdatedAt: at, Keep: 10, Cond: cond(`"stale"`)})
			if !errors.Is(err, secrets.ErrPreconditionFailed) {
				return fmt.Errorf("UpdateSecret with a stale tag: %v, want ErrPreconditionFailed", err)
			}
			return nil
		}},
		{"delete to the bin and restore", true, func() error {
			if err := st.DeleteSecret(ctx, "ws", "s", binDelete("bin-1", at, at.Add(retention))); err != nil {
				return err
			}
			_, err := st.RestoreDeleted(ctx, "ws", "bin-1", secrets.BinRestore{UpdatedAt: at, Now: at})
			return err
		}},
	}
	for _, s := range steps {
		before := mustGetSecret(t, st, "ws", "s")
		wantErr(t, s.what, s.run(), nil)
		after := mustGetSecret(t, st, "ws", "s")
		switch {
		case after.ID != before.ID:
			t.Fatalf("%s: ID %d -> %d", s.what, before.ID, after.ID)
		case !s.change && after.Revision != before.Revision:
			t.Fatalf("%s: revision %d -> %d, want no change", s.what, before.Revision, after.Revision)
		case s.change && s.what != "delete to the bin and restore" && after.Revision != before.Revision+1:
			t.Fatalf("%s: revision %d -> %d, want %d", s.what, before.Revision, after.Revision, before.Revision+1)
		case s.change && after.Revision <= before.Revision:
			// Whether the move to the bin is a revision of its own is the
			// backend's choice; the restore must be one more.
			t.Fatalf("%s: revision %d -> %d, want more", s.what, before.Revision, after.Revision)
		}
		if tag := tagOf(after); s.change {
			if prev, dup := seen[tag]; dup {
				t.Fatalf("%s: the tag of %q again", s.what, prev)
			}
			seen[tag] = s.what
		}
	}
}

// testRecreateChangesID deletes secrets (erased, or to the bin) and creates
// the name again: a new ID, so the tag differs though the revision is 1
// again.
func testRecreateChangesID(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	ids := map[int64]bool{}
	r := mustCreateSecret(t, st, "ws", "s", t0)
	ids[r.ID] = true
	for i, d := range []secrets.SecretDelete{{}, binDelete("bin-1", t0, t0.Add(retention)), {}, binDelete("bin-2", t0, t0.Add(retention))} {
		wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "s", d), nil)
		r = mustCreateSecret(t, st, "ws", "s", t0)
		if ids[r.ID] || r.Revision != 1 {
			t.Fatalf("re-create %d: ID %d revision %d, want a new ID and revision 1 (IDs so far %v)", i, r.ID, r.Revision, ids)
		}
		ids[r.ID] = true
	}
}

// condCase is an If-Match for a secret whose state is cur, whose previous
// revision was stale, and other is another secret with cur's revision.
type condCase struct {
	what  string
	cond  func(cur, other secrets.Record) secrets.Cond
	holds bool
}

var condCases = []condCase{
	{"none", func(cur, other secrets.Record) secrets.Cond { return secrets.Cond{} }, true},
	{"current tag", func(cur, other secrets.Record) secrets.Cond { return cond(tagOf(cur)) }, true},
	{"current among others", func(cur, other secrets.Record) secrets.Cond {
		return cond(secrets.ETag(cur.ID, cur.Revision-1), tagOf(other), tagOf(cur))
	}, true},
	{"any", func(cur, other secrets.Record) secrets.Cond { return secrets.Cond{Set: true, Any: true} }, true},
	{"any and a stale tag", func(cur, other secrets.Record) secrets.Cond {
		return secrets.Cond{Set: true, Any: true, Tags: []string{secrets.ETag(cur.ID, cur.Revision-1)}}
	}, true},
	{"stale tag", func(cur, other secrets.Record) secrets.Cond { return cond(secrets.ETag(cur.ID, cur.Revision-1)) }, false},
	{"next revision's tag", func(cur, other secrets.Record) secrets.Cond { return cond(secrets.ETag(cur.ID, cur.Revision+1)) }, false},
	{"weak current tag", func(cur, other secrets.Record) secrets.Cond { return cond("W/" + tagOf(cur)) }, false},
	{"unquoted current tag", func(cur, other secrets.Record) secrets.Cond { return cond(strings.Trim(tagOf(cur), `"`)) }, false},
	{"no tags", func(cur, other secrets.Record) secrets.Cond { return secrets.Cond{Set: true} }, false},
	{"another secret's tag", func(cur, other secrets.Record) secrets.Cond { return cond(tagOf(other)) }, false},
}

// condOp is a conditional write on ws/name.
type condOp struct {
	what string
	run  func(st secrets.Store, ws, name string, c secrets.Cond) error
}

// condOps are the writes that take a Cond; each works on a secret with
// versions 1 and 2.
var condOps = []condOp{
	{"UpdateSecret with a value", func(st secrets.Store, ws, name string, c secrets.Cond) error {
		v := sealed("k2", "conditional")
		_, err := st.UpdateSecret(ctx, ws, name, secrets.SecretUpdate{Sealed: &v, UpdatedAt: t0.Add(time.Hour), Keep: 10, Cond: c})
		return err
	}},
	{"UpdateSecret of the description", func(st secrets.Store, ws, name string, c secrets.Cond) error {
		_, err := st.UpdateSecret(ctx, ws, name, secrets.SecretUpdate{Description: ptr("conditional"), UpdatedAt: t0.Add(time.Hour), Keep: 10, Cond: c})
		return err
	}},
	{"DeleteSecret", func(st secrets.Store, ws, name string, c secrets.Cond) error {
		return st.DeleteSecret(ctx, ws, name, secrets.SecretDelete{Cond: c})
	}},
	{"DeleteSecret to the bin", func(st secrets.Store, ws, name string, c secrets.Cond) error {
		d := binDelete("bin-"+name, t0.Add(time.Hour), t0.Add(time.Hour+retention))
		d.Cond = c
		return st.DeleteSecret(ctx, ws, name, d)
	}},
	{"RestoreVersion", func(st secrets.Store, ws, name string, c secrets.Cond) error {
		_, err := st.RestoreVersion(ctx, ws, name, 1, secrets.SecretUpdate{UpdatedAt: t0.Add(time.Hour), Keep: 10, Cond: c})
		return err
	}},
	{"DestroyVersion", func(st secrets.Store, ws, name string, c secrets.Cond) error {
		return st.DestroyVersion(ctx, ws, name, 1, c)
	}},
}

// secretState is everything a write could change about ws/name.
func secretState(t *testing.T, st secrets.Store, ws, name string) string {
	t.Helper()
	r, err := st.GetSecret(ctx, ws, name)
	if errors.Is(err, secrets.ErrNotFound) {
		return "no live secret"
	}
	wantErr(t, "GetSecret", err, nil)
	vs, total, err := st.ListVersions(ctx, ws, name, secrets.VersionQuery{Limit: 100})
	wantErr(t, "ListVersions", err, nil)
	parts := []string{showRecord(r), fmt.Sprint("versions: ", total)}
	for _, v := range vs {
		parts = append(parts, showVersion(v))
		if !v.Destroyed {
			got, err := st.GetVersion(ctx, ws, name, v.Number)
			wantErr(t, "GetVersion", err, nil)
			parts = append(parts, showSealed(got.Sealed))
		}
	}
	return strings.Join(parts, "\n   ")
}

// testConditions runs each conditional write with each kind of If-Match:
// it succeeds exactly when the condition holds, and a refused write
// changes nothing (the value, the description, the revision, the versions,
// the bin).
func testConditions(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	other := mustCreateSecret(t, st, "ws", "other", t0)
	mustUpdateValue(t, st, "ws", "other", "other v2", t0, 10)
	other = mustGetSecret(t, st, "ws", "other") // revision 2, as every secret below
	for i, op := range condOps {
		for j, c := range condCases {
			name := fmt.Sprintf("s%d-%d", i, j)
			t.Run(op.what+"/"+c.what, func(t *testing.T) {
				mustCreateSecret(t, st, "ws", name, t0)
				mustUpdateValue(t, st, "ws", name, name+" v2", t0, 10)
				cur := mustGetSecret(t, st, "ws", name)
				before := secretState(t, st, "ws", name)
				err := op.run(st, "ws", name, c.cond(cur, other))
				if c.holds {
					wantErr(t, "a holding condition", err, nil)
					if secretState(t, st, "ws", name) == before {
						t.Fatal("the write succeeded and changed nothing")
					}
					return
				}
				wantErr(t, "a failing condition", err, secrets.ErrPreconditionFailed)
				if after := secretState(t, st, "ws", name); after != before {
					t.Fatalf("a refused write changed the secret:\n got  %s\n want %s", after, before)
				}
				_, _, err = st.GetDeleted(ctx, "ws", "bin-"+name, t0.Add(time.Hour))
				wantErr(t, "GetDeleted after a refused delete", err, secrets.ErrNotFound)
			})
		}
	}
}

// testConditionsMissingSecret runs conditional writes where there is no
// live secret: any condition fails (If-Match on a missing secret is 412,
// also If-Match: *), and without one the write is ErrNotFound.
func testConditionsMissingSecret(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	binned := mustCreateSecret(t, st, "ws", "binned", t0)
	mustUpdateValue(t, st, "ws", "binned", "binned v2", t0, 10)
	binned = mustGetSecret(t, st, "ws", "binned")
	mustBin(t, st, binned, "bin-1", t0)
	for _, op := range condOps {
		for _, c := range []struct {
			what     string
			ws, name string
			cond     secrets.Cond
			want     error
		}{
			{"any, never created", "ws", "missing", secrets.Cond{Set: true, Any: true}, secrets.ErrPreconditionFailed},
			{"any, in the bin", "ws", "binned", secrets.Cond{Set: true, Any: true}, secrets.ErrPreconditionFailed},
			{"its tag, in the bin", "ws", "binned", cond(tagOf(binned)), secrets.ErrPreconditionFailed},
			{"any, missing workspace", "missing", "binned", secrets.Cond{Set: true, Any: true}, secrets.ErrPreconditionFailed},
			{"none, never created", "ws", "missing", secrets.Cond{}, secrets.ErrNotFound},
			{"none, in the bin", "ws", "binned", secrets.Cond{}, secrets.ErrNotFound},
		} {
			err := op.run(st, c.ws, c.name, c.cond)
			wantErr(t, fmt.Sprintf("%s, %s", op.what, c.what), err, c.want)
		}
	}
	_, versions, err := st.GetDeleted(ctx, "ws", "bin-1", t0)
	wantErr(t, "GetDeleted", err, nil)
	if len(versions) != 2 {
		t.Fatalf("the bin entry has %d stored versions, want 2", len(versions))
	}
}

// testConditionsVersionErrors gives version writes a holding condition and
// a version they cannot work on: the version error, not a precondition
// failure, and nothing changes.
func testConditionsVersionErrors(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateSecret(t, st, "ws", "s", t0)
	mustUpdateValue(t, st, "ws", "s", "v2", t0, 10)
	cur := mustGetSecret(t, st, "ws", "s")
	before := secretState(t, st, "ws", "s")
	c := cond(tagOf(cur))
	_, err := st.RestoreVersion(ctx, "ws", "s", 3, secrets.SecretUpdate{UpdatedAt: t0, Keep: 10, Cond: c})
	wantErr(t, "RestoreVersion 3", err, secrets.ErrVersionNotFound)
	wantErr(t, "DestroyVersion 3", st.DestroyVersion(ctx, "ws", "s", 3, c), secrets.ErrVersionNotFound)
	wantErr(t, "DestroyVersion 2", st.DestroyVersion(ctx, "ws", "s", 2, c), secrets.ErrCurrentVersion)
	if after := secretState(t, st, "ws", "s"); after != before {
		t.Fatalf("refused writes changed the secret:\n got  %s\n want %s", after, before)
	}
}

// testConditionalUpdatesRace sends 16 updates carrying the same current tag
// at once, round after round: the check and the write are atomic, so
// exactly one succeeds each round and adds exactly one version.
func testConditionalUpdatesRace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateSecret(t, st, "ws", "s", t0)
	const writers = 16
	for round := range 5 {
		cur := mustGetSecret(t, st, "ws", "s")
		c := cond(tagOf(cur))
		errs := make([]error, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				v := sealed("k1", fmt.Sprint("round ", round, " writer ", i))
				u := secrets.SecretUpdate{Sealed: &v, UpdatedAt: t0, Keep: 100, Cond: c}
				<-start
				_, errs[i] = st.UpdateSecret(ctx, "ws", "s", u)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both succeeded with the same tag", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, secrets.ErrPreconditionFailed):
				t.Fatalf("round %d, writer %d: %v, want nil or ErrPreconditionFailed", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer succeeded", round)
		}
		got := mustGetSecret(t, st, "ws", "s")
		if got.Version != cur.Version+1 || got.Revision != cur.Revision+1 {
			t.Fatalf("round %d: version %d revision %d, want %d, %d", round, got.Version, got.Revision, cur.Version+1, cur.Revision+1)
		}
		same(t, fmt.Sprint("round ", round, " value"), showSealed, got.Sealed, sealed("k1", fmt.Sprint("round ", round, " writer ", winner)))
		_, total, err := st.ListVersions(ctx, "ws", "s", secrets.VersionQuery{Limit: 1})
		wantErr(t, "ListVersions", err, nil)
		if total != int(got.Version) {
			t.Fatalf("round %d: %d versions, want %d", round, total, got.Version)
		}
	}
}

// testConditionalWritersRace sends every kind of conditional write with the
// same current tag at once: exactly one of them succeeds.
func testConditionalWritersRace(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	for round := range 8 {
		name := fmt.Sprint("s", round)
		mustCreateSecret(t, st, "ws", name, t0)
		mustUpdateValue(t, st, "ws", name, name+" v2", t0, 10)
		c := cond(tagOf(mustGetSecret(t, st, "ws", name)))
		var ops []func() error
		var whats []string
		for k := range 3 {
			for _, op := range condOps {
				switch op.what {
				case "DeleteSecret to the bin": // a bin id each
					op.run = func(st secrets.Store, ws, name string, c secrets.Cond) error {
						d := binDelete(fmt.Sprint("bin-", name, "-", k), t0, t0.Add(retention))
						d.Cond = c
						return st.DeleteSecret(ctx, ws, name, d)
					}
				case "RestoreVersion":
					// Version 2, which no other write erases: whether a
					// failing Cond or a missing version is reported first
					// is not part of the contract.
					op.run = func(st secrets.Store, ws, name string, c secrets.Cond) error {
						_, err := st.RestoreVersion(ctx, ws, name, 2, secrets.SecretUpdate{UpdatedAt: t0, Keep: 10, Cond: c})
						return err
					}
				}
				ops = append(ops, func() error { return op.run(st, "ws", name, c) })
				whats = append(whats, op.what)
			}
		}
		// Rotate the order each round so that no kind of write always
		// starts first.
		shift := round % len(ops)
		ops, whats = append(ops[shift:], ops[:shift]...), append(whats[shift:], whats[:shift]...)
		errs := make([]error, len(ops))
		runAtOnce(t, wrapErrs(ops, errs))
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, secrets.ErrPreconditionFailed):
				t.Fatalf("round %d, %s: %v, want nil or ErrPreconditionFailed", round, whats[i], err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d writes succeeded with the same tag, want 1", round, won)
		}
	}
}

// wrapErrs turns ops into ops that never fail, recording each error in
// errs, for runAtOnce.
func wrapErrs(ops []func() error, errs []error) []func() error {
	out := make([]func() error, len(ops))
	for i, op := range ops {
		out[i] = func() error { errs[i] = op(); return nil }
	}
	return out
}
