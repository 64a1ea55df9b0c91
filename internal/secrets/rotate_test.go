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
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				_, err := svc.CreateSecret(context.Background(), "default",
					secrets.NewSecret{Name: fmt.Sprintf("s%d", i), Value: fmt.Sprintf("v%d", i)}, nil)
				if err != nil {
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
					if err := svc.DeleteSecret(ctx, "default", name); err != nil {
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
		got, err := svc.AccessSecret(ctx, "default", fmt.Sprintf("s%d", i))
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

var rotationN = flag.Int("rotation.n", 100000, "secrets stored for the rotation benchmarks")

// BenchmarkRotation measures rotating rotation.n secrets from one
// secret_key provider to another (SQLite), and to Vault Transit (the test
// double on loopback), with the peak heap growth while it runs: memory must
// not grow with n, the walk holds one batch.
//
//	go test -run '^$' -bench BenchmarkRotation -benchtime 1x ./internal/secrets/ -args -rotation.n=100000
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
		ring, err := envelope.NewKeyring(target.Name(), key(b, "a", 0), target)
		if err != nil {
			b.Fatal(err)
		}
		svc := secrets.NewService(st, ring, secrets.Config{Logger: quiet})
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		peak := sampleHeap()
		b.StartTimer()
		began := time.Now()
		res, err := svc.RotateKeys(ctx)
		elapsed := time.Since(began)
		b.StopTimer()
		if err != nil || res.Rotated != *rotationN {
			b.Fatalf("rotation %+v, %v", res, err)
		}
		p := peak()
		b.ReportMetric(float64(*rotationN)/elapsed.Seconds(), "secrets/s")
		b.ReportMetric(float64(p-base.HeapInuse)/(1<<20), "peak-heap-growth-MiB")
	}
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

// interferingStore counts ResealSecrets calls and, before each, lets
// interfere change records, as a PATCH or DELETE landing between the
// rotation's read and its write would.
type interferingStore struct {
	secrets.Store
	calls     atomic.Int32
	interfere func(call int)
}

func (s *interferingStore) ResealSecrets(ctx context.Context, rs []secrets.Reseal) ([]error, error) {
	call := int(s.calls.Add(1))
	if s.interfere != nil {
		s.interfere(call)
	}
	return s.Store.ResealSecrets(ctx, rs)
}

// TestRotationRetriesChangedRecords checks the revision guard's outcomes
// deterministically: each batch is one store call; a record changed once
// between read and write is re-read and rotated in the next round, one
// changed before every write is reported after two attempts, a deleted one
// is not counted, and one re-sealed by the change itself is skipped.
func TestRotationRetriesChangedRecords(t *testing.T) {
	ctx := context.Background()
	st, old, _ := services(t)
	for i := range 120 { // one by one, so s0…s49 make the first batch
		_, err := old.CreateSecret(ctx, "default", secrets.NewSecret{Name: fmt.Sprint("s", i), Value: fmt.Sprint("v", i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	patch := func(name string, svc *secrets.Service) {
		v := "patched " + name
		if _, err := svc.UpdateSecret(ctx, "default", name, secrets.SecretChange{Value: &v}, nil); err != nil {
			t.Error(err)
		}
	}
	ring, err := envelope.NewKeyring("b", key(t, "a", 0), key(t, "b", 100))
	if err != nil {
		t.Fatal(err)
	}
	wrapped := &interferingStore{Store: st}
	svc := secrets.NewService(wrapped, ring, secrets.Config{Logger: quiet, RotationBatchSize: 50})
	wrapped.interfere = func(call int) {
		patch("s5", old) // before every write: never rotated
		if call == 1 {
			patch("s1", old) // once: rotated in the retry
			patch("s2", svc) // sealed under the current provider: skipped
			if err := old.DeleteSecret(ctx, "default", "s3"); err != nil {
				t.Error(err)
			}
		}
	}
	res, err := svc.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := secrets.RotationResult{Rotated: 117, Skipped: 1, FailedCount: 1, Failed: []secrets.RotationFailure{
		{Workspace: "default", Name: "s5", Error: "secret changed during rotation; run rotation again"}}}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	// Batches of 50, 50 and 20, the first with one retry round (s1 and s5);
	// s5, changed again, is not written a third time.
	if got := wrapped.calls.Load(); got != 4 {
		t.Errorf("%d ResealSecrets calls, want 4", got)
	}
	for name, want := range map[string]string{"s1": "patched s1", "s2": "patched s2", "s5": "patched s5", "s7": "v7"} {
		if got, err := svc.AccessSecret(ctx, "default", name); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}
