package secrets_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/keys"
	"github.com/coffer-dev/coffer/internal/keys/transittest"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/sqlite"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func key(t testing.TB, name string, fill byte) envelope.Provider {
	t.Helper()
	k := make([]byte, 32)
	for i := range k {
		k[i] = fill + byte(i)
	}
	p, err := keys.NewSecretKey(name, k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// services returns two services on one real SQLite store: the first writes
// with provider "a", the second has "a" and "b" and writes with "b".
func services(t testing.TB) (secrets.Store, *secrets.Service, *secrets.Service) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "coffer.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, b := key(t, "a", 0), key(t, "b", 100)
	ringA, err := envelope.NewKeyring("a", a)
	if err != nil {
		t.Fatal(err)
	}
	ringB, err := envelope.NewKeyring("b", a, b)
	if err != nil {
		t.Fatal(err)
	}
	old := secrets.NewService(st, ringA, secrets.Config{Logger: quiet})
	if err := old.EnsureBuiltins(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st, old, secrets.NewService(st, ringB, secrets.Config{Logger: quiet, RotationBatchSize: 50})
}

// createMany creates n secrets s0…s(n-1) with value v<i> concurrently.
func createMany(t testing.TB, svc *secrets.Service, n int) {
	t.Helper()
	forMany(t, n, func(i int) error {
		_, err := svc.CreateSecret(context.Background(), "default",
			secrets.NewSecret{Name: fmt.Sprintf("s%d", i), Value: fmt.Sprintf("v%d", i)}, nil)
		return err
	})
}

// updateMany gives each of the secrets createMany made one more version.
func updateMany(t testing.TB, svc *secrets.Service, n int) {
	t.Helper()
	forMany(t, n, func(i int) error {
		v := fmt.Sprintf("u%d", i)
		_, err := svc.UpdateSecret(context.Background(), "default", fmt.Sprintf("s%d", i),
			secrets.SecretChange{Value: &v}, nil)
		return err
	})
}

// forMany calls op for 0 to n-1 from 16 goroutines and fails t if any
// call failed.
func forMany(t testing.TB, n int, op func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				if err := op(i); err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
}

// TestRotationRacingWrites rotates while other goroutines PATCH and DELETE:
// no acknowledged update is lost, no deleted secret comes back, and a second
// pass finds nothing to do.
func TestRotationRacingWrites(t *testing.T) {
	const n = 400
	ctx := context.Background()
	_, old, svc := services(t)
	createMany(t, old, n)

	want := make([]string, n) // "" = deleted
	for i := range want {
		want[i] = fmt.Sprintf("v%d", i)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 { // each writer owns the secrets i ≡ w (mod 4)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (j*4 + w) % n
				if want[i] == "" {
					continue
				}
				name := fmt.Sprintf("s%d", i)
				if j%7 == 0 {
					if err := svc.DeleteSecret(ctx, "default", name, secrets.Cond{}, nil); err != nil {
						t.Errorf("delete %s: %v", name, err)
					}
					want[i] = ""
					continue
				}
				v := fmt.Sprintf("w%d-%d", i, j)
				if _, err := old.UpdateSecret(ctx, "default", name, secrets.SecretChange{Value: &v}, nil); err != nil {
					t.Errorf("update %s: %v", name, err)
				}
				want[i] = v
			}
		}()
	}
	res, err := svc.RotateKeys(ctx)
	close(stop)
	wg.Wait()
	if err != nil || res.FailedCount != 0 {
		t.Fatalf("rotation: %+v, %v", res, err)
	}
	// Writers used the old provider, so a second pass may still rotate their
	// latest values; after it, everything is current.
	if _, err := svc.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := svc.RotateKeys(ctx)
	alive := 0
	for i, v := range want {
		got, _, err := svc.AccessSecret(ctx, "default", fmt.Sprintf("s%d", i), 0)
		switch {
		case v == "":
			var de *secrets.Error
			if !errors.As(err, &de) || de.Kind != secrets.KindNotFound {
				t.Errorf("s%d was deleted but reads %q, %v", i, got, err)
			}
		case err != nil || got != v:
			t.Errorf("s%d = %q, %v; want %q", i, got, err, v)
		default:
			alive++
		}
	}
	if err != nil || again.Rotated != 0 || again.Skipped != alive || again.FailedCount != 0 {
		t.Errorf("third pass %+v, %v; want 0 rotated, %d skipped", again, err, alive)
	}
}

var (
	rotationN        = flag.Int("rotation.n", 100000, "secrets stored for the rotation benchmarks")
	rotationBatch    = flag.Int("rotation.batch", 100, "coffer.rotation.batch_size of the rotation benchmarks")
	rotationVersions = flag.Int("rotation.versions", 1, "versions of each secret in the rotation benchmarks (all stored: at most max_versions)")
)

// BenchmarkRotation measures rotating rotation.n secrets of
// rotation.versions stored versions each from one secret_key provider to
// another (SQLite), and to Vault Transit (the test double on loopback),
// with the peak heap growth while it runs: memory must not grow with n, the
// walk holds one batch. It reports secrets/s and versions/s (each stored
// version is re-wrapped).
//
//	go test -run '^$' -bench BenchmarkRotation/secret_key -benchtime 1x ./internal/secrets/ -args -rotation.n=100000 -rotation.versions=3
func BenchmarkRotation(b *testing.B) {
	b.Run("secret_key", func(b *testing.B) { benchRotation(b, key(b, "b", 100)) })
	b.Run("vault", func(b *testing.B) {
		srv := transittest.New(b)
		v, err := keys.NewVault("b", keys.VaultConfig{Address: srv.URL, Token: srv.Token()}, quiet)
		if err != nil {
			b.Fatal(err)
		}
		benchRotation(b, v)
	})
}

func benchRotation(b *testing.B, target envelope.Provider) {
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		st, old, _ := services(b)
		createMany(b, old, *rotationN)
		for range *rotationVersions - 1 {
			updateMany(b, old, *rotationN)
		}
		ring, err := envelope.NewKeyring(target.Name(), key(b, "a", 0), target)
		if err != nil {
			b.Fatal(err)
		}
		svc := secrets.NewService(st, ring, secrets.Config{Logger: quiet, RotationBatchSize: *rotationBatch})
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		peak := sampleHeap()
		b.StartTimer()
		began, cpu := time.Now(), cpuTime(b)
		res, err := svc.RotateKeys(ctx)
		elapsed, cpu := time.Since(began), cpuTime(b)-cpu
		b.StopTimer()
		if err != nil || res.Rotated != *rotationN || res.RotatedVersions != *rotationN**rotationVersions {
			b.Fatalf("rotation %+v, %v", res, err)
		}
		p := peak()
		b.ReportMetric(float64(*rotationN)/elapsed.Seconds(), "secrets/s")
		b.ReportMetric(float64(res.RotatedVersions)/elapsed.Seconds(), "versions/s")
		// The process's CPU per version: what the rate would be on an
		// otherwise idle core, when fsyncs do not queue behind other I/O.
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(res.RotatedVersions, 1)), "cpu-ns/version")
		b.ReportMetric(float64(p-base.HeapInuse)/(1<<20), "peak-heap-growth-MiB")
	}
}

// cpuTime is the CPU time (user + system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampleHeap samples HeapInuse every millisecond until the returned
// function is called, which returns the peak.
func sampleHeap() func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); <-stopped; return peak.Load() }
}

// interferingStore counts ResealVersions calls and, before each, lets
// interfere change versions, as a concurrent rotation or a restore under a
// new name landing between this rotation's read and its write would.
type interferingStore struct {
	secrets.Store
	calls     atomic.Int32
	interfere func(call int)
}

func (s *interferingStore) ResealVersions(ctx context.Context, rs []secrets.Reseal) ([]error, error) {
	call := int(s.calls.Add(1))
	if s.interfere != nil {
		s.interfere(call)
	}
	return s.Store.ResealVersions(ctx, rs)
}

// rewrite re-seals the current version of default/name under ring, as
// another writer of that version's ciphertext would.
func rewrite(t *testing.T, st secrets.Store, ring *envelope.Keyring, name string) {
	t.Helper()
	ctx := context.Background()
	rec, err := st.GetSecret(ctx, "default", name)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := ring.Seal(ctx, "default", name, []byte("v-rewritten"))
	if err != nil {
		t.Fatal(err)
	}
	key := secrets.VersionKey{SecretID: rec.ID, Version: rec.Version}
	errs, err := st.ResealVersions(ctx, []secrets.Reseal{{VersionKey: key, Old: rec.Sealed.Ciphertext, Sealed: sealed}})
	if err != nil || errs[0] != nil {
		t.Fatalf("rewrite %s: %v %v", name, err, errs)
	}
}

// TestRotationRetriesChangedVersions checks the ciphertext guard's outcomes
// deterministically: each batch is one store call; a version rewritten once
// between read and write is re-read and rotated in the next round, one
// rewritten before every write is reported after two attempts, a deleted
// one is not counted, and one rewritten under the current provider is
// skipped.
func TestRotationRetriesChangedVersions(t *testing.T) {
	ctx := context.Background()
	st, old, _ := services(t)
	for i := range 120 { // one by one, so s0…s49 make the first batch
		_, err := old.CreateSecret(ctx, "default", secrets.NewSecret{Name: fmt.Sprint("s", i), Value: fmt.Sprint("v", i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	ringA, err := envelope.NewKeyring("a", key(t, "a", 0))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := envelope.NewKeyring("b", key(t, "a", 0), key(t, "b", 100))
	if err != nil {
		t.Fatal(err)
	}
	wrapped := &interferingStore{Store: st}
	svc := secrets.NewService(wrapped, ring, secrets.Config{Logger: quiet, RotationBatchSize: 50})
	wrapped.interfere = func(call int) {
		rewrite(t, st, ringA, "s5") // before every write: never rotated
		if call == 1 {
			rewrite(t, st, ringA, "s1") // once: rotated in the retry
			rewrite(t, st, ring, "s2")  // sealed under the current provider: skipped
			if err := old.DeleteSecret(ctx, "default", "s3", secrets.Cond{}, nil); err != nil {
				t.Error(err)
			}
		}
	}
	res, err := svc.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := secrets.RotationResult{Rotated: 117, Skipped: 1, FailedCount: 1, Failed: []secrets.RotationFailure{
		{Workspace: "default", Name: "s5", Version: 1, Error: "secret changed during rotation; run rotation again"}},
		RotatedVersions: 117}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	// Batches of 50, 50 and 20, the first with one retry round (s1 and s5);
	// s5, changed again, is not written a third time.
	if got := wrapped.calls.Load(); got != 4 {
		t.Errorf("%d ResealVersions calls, want 4", got)
	}
	for name, want := range map[string]string{"s1": "v-rewritten", "s2": "v-rewritten", "s5": "v-rewritten", "s7": "v7"} {
		if got, _, err := svc.AccessSecret(ctx, "default", name, 0); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}

// TestRotationCoversVersionsAndBin rotates secrets with several versions,
// some pruned or destroyed, and secrets in the recycle bin: every stored
// version is re-wrapped and still opens, the counts are per secret, and
// erased versions are not touched.
func TestRotationCoversVersionsAndBin(t *testing.T) {
	ctx := context.Background()
	st, _, _ := services(t)
	ringA, err := envelope.NewKeyring("a", key(t, "a", 0))
	if err != nil {
		t.Fatal(err)
	}
	cfg := secrets.Config{Logger: quiet, MaxVersions: 3, DeletedRetention: time.Hour}
	old := secrets.NewService(st, ringA, cfg)
	for _, name := range []string{"many", "binned", "single"} {
		if _, err := old.CreateSecret(ctx, "default", secrets.NewSecret{Name: name, Value: name + "-1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := 2; i <= 5; i++ { // many: versions 1-2 pruned, 3-5 kept
		v := fmt.Sprintf("many-%d", i)
		if _, err := old.UpdateSecret(ctx, "default", "many", secrets.SecretChange{Value: &v}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.DestroyVersion(ctx, "default", "many", 3, secrets.Cond{}); err != nil {
		t.Fatal(err)
	}
	v := "binned-2"
	if _, err := old.UpdateSecret(ctx, "default", "binned", secrets.SecretChange{Value: &v}, nil); err != nil {
		t.Fatal(err)
	}
	if err := old.DeleteSecret(ctx, "default", "binned", secrets.Cond{}, nil); err != nil {
		t.Fatal(err)
	}
	ring, err := envelope.NewKeyring("b", key(t, "a", 0), key(t, "b", 100))
	if err != nil {
		t.Fatal(err)
	}
	svc := secrets.NewService(st, ring, cfg)
	res, err := svc.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// many: 4 and 5; binned: 1 and 2; single: 1.
	want := secrets.RotationResult{Rotated: 2, RotatedVersions: 5, DeletedRotated: 1, Failed: nil}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	for _, c := range []struct {
		name    string
		version int64
		want    string
	}{{"many", 4, "many-4"}, {"many", 5, "many-5"}, {"many", 0, "many-5"}, {"single", 0, "single-1"}} {
		if got, _, err := svc.AccessSecret(ctx, "default", c.name, c.version); err != nil || got != c.want {
			t.Errorf("%s version %d = %q, %v; want %q", c.name, c.version, got, err, c.want)
		}
	}
	deleted, _, err := svc.ListDeleted(ctx, "default", secrets.ListOptions{Page: 1, PageSize: 10})
	if err != nil || len(deleted) != 1 {
		t.Fatalf("bin: %+v, %v", deleted, err)
	}
	if _, err := svc.RestoreDeleted(ctx, "default", deleted[0].ID, "", nil); err != nil {
		t.Fatal(err)
	}
	for version, want := range map[int64]string{1: "binned-1", 2: "binned-2"} {
		if got, _, err := svc.AccessSecret(ctx, "default", "binned", version); err != nil || got != want {
			t.Errorf("binned version %d = %q, %v; want %q", version, got, err, want)
		}
	}
	again, err := svc.RotateKeys(ctx)
	if err != nil || again.RotatedVersions != 0 || again.Skipped != 3 {
		t.Errorf("second pass %+v, %v; want every secret skipped", again, err)
	}
	// The metrics' counts are per version and add up over runs: five
	// re-wrapped by the first run, the same five found current by the second.
	if r, s, f := svc.RotationCounts(); r != 5 || s != 5 || f != 0 {
		t.Errorf("RotationCounts = %d rotated, %d skipped, %d failed; want 5, 5, 0", r, s, f)
	}
}
