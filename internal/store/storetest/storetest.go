// Package storetest is the conformance suite every secrets.Store backend
// must pass. It is the executable definition of the storage contract: the
// SQLite and PostgreSQL backends run the same tests so that they behave
// identically, down to sort order, timestamp precision and error values.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// Run runs the suite. open must return a fresh, empty store for each call
// and close it when t ends (t.Cleanup); it is called from parallel subtests.
func Run(t *testing.T, open func(t *testing.T) secrets.Store) {
	groups := [][]test{workspaceTests, secretTests, totalTests, rotationTests, valueTests, bindingTests, importTests,
		versionTests, conditionTests, binTests, listQueryTests, auditTests}
	for _, group := range groups {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(t, open(t))
			})
		}
	}
}

// test is one subtest of the suite.
type test struct {
	name string
	run  func(t *testing.T, st secrets.Store)
}

// ctx is the context of every call; a test never waits on cancellation.
var ctx = context.Background()

func ptr[T any](v T) *T { return &v }

// newWorkspace returns a workspace with every optional field set.
func newWorkspace(name string, at time.Time) secrets.Workspace {
	return secrets.Workspace{
		ID: "workspace-" + name, Name: name, Description: ptr("about " + name),
		CreatedAt: at, CreatedBy: ptr("alice"), UpdatedAt: at, UpdatedBy: ptr("alice"),
	}
}

// newRecord returns a record whose sealed bytes are unique to ws/name and
// contain 0x00 bytes.
func newRecord(ws, name string, at time.Time) secrets.Record {
	return secrets.Record{
		Secret: secrets.Secret{
			Name: name, Workspace: ws, Description: ptr("about " + name),
			CreatedAt: at, UpdatedAt: at, CreatedBy: ptr("alice"), UpdatedBy: ptr("alice"),
		},
		Sealed: sealed("k1", ws+"/"+name),
	}
}

// sealed returns a sealed value derived from seed, under provider.
func sealed(provider, seed string) envelope.Sealed {
	return envelope.Sealed{
		Ciphertext: append([]byte{2, 0, 0xff}, seed+"\x00ct"...),
		WrappedDEK: append([]byte{0, 1}, seed+"\x00dek"...),
		Provider:   provider,
		Format:     2,
	}
}

// mustCreateWorkspace creates a workspace named name at at.
func mustCreateWorkspace(t *testing.T, st secrets.Store, name string, at time.Time) secrets.Workspace {
	t.Helper()
	w := newWorkspace(name, at)
	if err := st.CreateWorkspace(ctx, w, ""); err != nil {
		t.Fatalf("CreateWorkspace(%q): %v", name, err)
	}
	return w
}

// mustCreateSecret creates ws/name at at and returns the stored record.
func mustCreateSecret(t *testing.T, st secrets.Store, ws, name string, at time.Time) secrets.Record {
	t.Helper()
	return mustCreateRecord(t, st, newRecord(ws, name, at))
}

// mustCreateRecord creates r and returns the stored record.
func mustCreateRecord(t *testing.T, st secrets.Store, r secrets.Record) secrets.Record {
	t.Helper()
	got, err := st.CreateSecret(ctx, r)
	if err != nil {
		t.Fatalf("CreateSecret(%s/%s): %v", r.Workspace, r.Name, err)
	}
	return got
}

// mustGetSecret returns ws/name.
func mustGetSecret(t *testing.T, st secrets.Store, ws, name string) secrets.Record {
	t.Helper()
	r, err := st.GetSecret(ctx, ws, name)
	if err != nil {
		t.Fatalf("GetSecret(%s/%s): %v", ws, name, err)
	}
	return r
}

// wantErr fails unless err is target (nil for success).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if target == nil && err != nil || target != nil && !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// Comparison renders values as text: times with their location (returned
// times must be UTC), pointers dereferenced and bytes in hex, so that a
// mismatch prints readably and nil differs from "".

func showTime(t time.Time) string { return t.Format(time.RFC3339Nano) + " " + t.Location().String() }

func showStr(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return strconv.Quote(*p)
}

func showWorkspace(w secrets.Workspace) string {
	return fmt.Sprintf("{ID:%q Name:%q Description:%s CreatedAt:%s CreatedBy:%s UpdatedAt:%s UpdatedBy:%s}",
		w.ID, w.Name, showStr(w.Description), showTime(w.CreatedAt), showStr(w.CreatedBy),
		showTime(w.UpdatedAt), showStr(w.UpdatedBy))
}

func showSecret(s secrets.Secret) string {
	return fmt.Sprintf("{Name:%q Workspace:%q Description:%s CreatedAt:%s UpdatedAt:%s CreatedBy:%s UpdatedBy:%s Version:%d ETag:%q}",
		s.Name, s.Workspace, showStr(s.Description), showTime(s.CreatedAt), showTime(s.UpdatedAt),
		showStr(s.CreatedBy), showStr(s.UpdatedBy), s.Version, s.ETag)
}

func showSealed(s envelope.Sealed) string {
	return fmt.Sprintf("{Ciphertext:%x WrappedDEK:%x Provider:%q Format:%d}", s.Ciphertext, s.WrappedDEK, s.Provider, s.Format)
}

func showRecord(r secrets.Record) string {
	return fmt.Sprintf("{ID:%d Secret:%s Sealed:%s Revision:%d}", r.ID, showSecret(r.Secret), showSealed(r.Sealed), r.Revision)
}

// same fails when got and want render differently.
func same[T any](t *testing.T, what string, show func(T) string, got, want T) {
	t.Helper()
	if g, w := show(got), show(want); g != w {
		t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
	}
}

// sameList compares two lists element by element.
func sameList[T any](t *testing.T, what string, show func(T) string, got, want []T) {
	t.Helper()
	same(t, what, func(l []T) string {
		parts := make([]string, len(l))
		for i, v := range l {
			parts[i] = show(v)
		}
		return "[\n   " + strings.Join(parts, "\n   ") + "]"
	}, got, want)
}

// utcMicros is what a store returns for an input time.
func utcMicros(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// stored returns w as the store returns it.
func storedWorkspace(w secrets.Workspace) secrets.Workspace {
	w.CreatedAt, w.UpdatedAt = utcMicros(w.CreatedAt), utcMicros(w.UpdatedAt)
	return w
}

// storedRecord returns r as the store returns it once created with id:
// revision 1, version 1.
func storedRecord(r secrets.Record, id int64) secrets.Record {
	r.ID, r.Revision, r.Version = id, 1, 1
	r.CreatedAt, r.UpdatedAt = utcMicros(r.CreatedAt), utcMicros(r.UpdatedAt)
	return r
}

// names lists the names of secrets or workspaces.
func names[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, v := range items {
		out[i] = name(v)
	}
	return out
}

func showStored(v secrets.StoredVersion) string {
	return fmt.Sprintf("{SecretID:%d Version:%d Workspace:%q Name:%q Sealed:%s Deleted:%v}",
		v.SecretID, v.Version, v.Workspace, v.Name, showSealed(v.Sealed), v.Deleted)
}

func showVersion(v secrets.Version) string {
	return fmt.Sprintf("{Number:%d CreatedAt:%s CreatedBy:%s Destroyed:%v}",
		v.Number, showTime(v.CreatedAt), showStr(v.CreatedBy), v.Destroyed)
}

func showDeleted(d secrets.Deleted) string {
	return fmt.Sprintf("{ID:%q Secret:%s DeletedAt:%s DeletedBy:%s PurgeAt:%s}",
		d.ID, showSecret(d.Secret), showTime(d.DeletedAt), showStr(d.DeletedBy), showTime(d.PurgeAt))
}

// storedVersion is the current version of r as ScanVersions and
// GetStoredVersion return it.
func storedVersion(r secrets.Record, deleted bool) secrets.StoredVersion {
	return secrets.StoredVersion{
		VersionKey: secrets.VersionKey{SecretID: r.ID, Version: r.Version},
		Workspace:  r.Workspace, Name: r.Name, Sealed: r.Sealed, Deleted: deleted,
	}
}

// mustUpdateValue gives ws/name a new value sealed from seed (the next
// version, created at at by "bob"), keeping keep versions, and returns the
// record UpdateSecret returned and the value.
func mustUpdateValue(t *testing.T, st secrets.Store, ws, name, seed string, at time.Time, keep int) (secrets.Record, envelope.Sealed) {
	t.Helper()
	v := sealed("k1", seed)
	r, err := st.UpdateSecret(ctx, ws, name, secrets.SecretUpdate{Sealed: &v, UpdatedAt: at, UpdatedBy: ptr("bob"), Keep: keep})
	if err != nil {
		t.Fatalf("UpdateSecret(%s/%s) with a value: %v", ws, name, err)
	}
	return r, v
}

// wantVersion fails unless GetVersion returns want as ws/name's version n.
func wantVersion(t *testing.T, st secrets.Store, ws, name string, n int64, want envelope.Sealed) {
	t.Helper()
	r, err := st.GetVersion(ctx, ws, name, n)
	if err != nil {
		t.Fatalf("GetVersion(%s/%s, %d): %v", ws, name, n, err)
	}
	same(t, fmt.Sprintf("GetVersion(%s/%s, %d)", ws, name, n), showSealed, r.Sealed, want)
}

// wantScan fails unless ScanVersions from the start returns want.
func wantScan(t *testing.T, st secrets.Store, want []secrets.StoredVersion) {
	t.Helper()
	got, err := st.ScanVersions(ctx, secrets.VersionKey{}, 1<<20)
	wantErr(t, "ScanVersions", err, nil)
	sameList(t, "ScanVersions", showStored, got, want)
}

// wantBin fails unless ListDeleted(ws, q) returns want and total.
func wantBin(t *testing.T, st secrets.Store, ws string, q secrets.DeletedQuery, want []secrets.Deleted, total int) {
	t.Helper()
	got, n, err := st.ListDeleted(ctx, ws, q)
	wantErr(t, "ListDeleted", err, nil)
	sameList(t, fmt.Sprintf("ListDeleted(%s, %+v)", ws, q), showDeleted, got, want)
	if n != total {
		t.Fatalf("ListDeleted(%s, %+v): total %d, want %d", ws, q, n, total)
	}
}

// cond is an If-Match of the given tags.
func cond(tags ...string) secrets.Cond { return secrets.Cond{Set: true, Tags: tags} }

// tagOf is the entity tag of r's state.
func tagOf(r secrets.Record) string { return secrets.ETag(r.ID, r.Revision) }

// retention is how long the tests keep a deleted secret in the bin.
const retention = 7 * 24 * time.Hour

// binDelete is a SecretDelete that moves a secret to the bin under id,
// deleted by "carol" at at, purged at purgeAt.
func binDelete(id string, at, purgeAt time.Time) secrets.SecretDelete {
	return secrets.SecretDelete{BinID: id, DeletedAt: at, DeletedBy: ptr("carol"), PurgeAt: purgeAt}
}

// mustBin moves the live secret r names to the bin under id at at (purged
// a retention later) and returns the entry ListDeleted must show: the
// secret's metadata as it was deleted.
func mustBin(t *testing.T, st secrets.Store, r secrets.Record, id string, at time.Time) secrets.Deleted {
	t.Helper()
	live := mustGetSecret(t, st, r.Workspace, r.Name)
	if err := st.DeleteSecret(ctx, r.Workspace, r.Name, binDelete(id, at, at.Add(retention))); err != nil {
		t.Fatalf("DeleteSecret(%s/%s) to the bin: %v", r.Workspace, r.Name, err)
	}
	return secrets.Deleted{ID: id, Secret: live.Secret, DeletedAt: utcMicros(at), DeletedBy: ptr("carol"),
		PurgeAt: utcMicros(at.Add(retention))}
}

// wantVersions fails unless ListVersions of ws/name, newest first, is want.
func wantVersions(t *testing.T, st secrets.Store, ws, name string, want []secrets.Version) {
	t.Helper()
	got, total, err := st.ListVersions(ctx, ws, name, secrets.VersionQuery{Limit: 1000})
	wantErr(t, "ListVersions", err, nil)
	sameList(t, fmt.Sprintf("ListVersions(%s/%s)", ws, name), showVersion, got, want)
	if total != len(want) {
		t.Fatalf("ListVersions(%s/%s): total %d, want %d", ws, name, total, len(want))
	}
}
