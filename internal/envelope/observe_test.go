package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// hookLog records what providers reported, per provider.
type hookLog struct {
	mu    sync.Mutex
	calls []string // "provider op outcome"
}

func (l *hookLog) hook(provider string) ProviderHook {
	if provider == "quiet" {
		return nil
	}
	return func(op, outcome string, d time.Duration) {
		if d < 0 {
			panic("negative duration")
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		l.calls = append(l.calls, provider+" "+op+" "+outcome)
	}
}

// TestObserved checks that an observed keyring behaves as the original and
// reports each provider call once, with the outcome classified as the
// keyring classifies failures.
func TestObserved(t *testing.T) {
	log := &hookLog{}
	down := &brokenProvider{name: "down", err: fmt.Errorf("dial: %w", ErrUnavailable)}
	bad := &brokenProvider{name: "bad", err: errors.New("permission denied")}
	k := mustKeyring(t, "new", newTestProvider("new", kekOf(1)), newTestProvider("quiet", kekOf(2)), down, bad).Observed(log.hook)
	if k.Current() != "new" || !slices.Equal(k.Names(), []string{"bad", "down", "new", "quiet"}) {
		t.Fatalf("observed keyring: current %q, names %v", k.Current(), k.Names())
	}
	s := mustSeal(t, k, "default", "k", "value")
	if v, err := k.Open(t.Context(), "default", "k", s); err != nil || string(v) != "value" {
		t.Fatalf("Open = %q, %v", v, err)
	}
	quiet := mustSeal(t, mustKeyring(t, "quiet", newTestProvider("quiet", kekOf(2))), "default", "q", "v")
	if _, err := k.Open(t.Context(), "default", "q", quiet); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"down", "bad"} {
		c := s
		c.Provider = p
		if _, err := k.Open(t.Context(), "default", "k", c); err == nil {
			t.Fatalf("Open with provider %s succeeded", p)
		}
	}
	v1 := Sealed{Ciphertext: bytes.Repeat([]byte{1}, NonceSize+TagSize+1), WrappedDEK: []byte("x"), Provider: "bad", Format: FormatV1}
	k.Open(t.Context(), "default", "k", v1)
	want := []string{"new wrap ok", "new unwrap ok", "down unwrap unavailable", "bad unwrap error", "bad unwrap_v1 error"}
	if !slices.Equal(log.calls, want) {
		t.Errorf("reported %q\nwant %q", log.calls, want)
	}
	// Health sees through the wrapper.
	expired := &NotReadyError{Provider: "sick", Reason: "token expired"}
	sick := mustKeyring(t, "sick", healthProvider{newTestProvider("sick", kekOf(3)), expired}).Observed(log.hook)
	if err := sick.Health(); err != expired {
		t.Errorf("Health through the wrapper = %v, want %v", err, expired)
	}
	if err := k.Health(); err != nil {
		t.Errorf("Health = %v", err)
	}
}

// healthProvider is a provider that knows it cannot work.
type healthProvider struct {
	*testProvider
	err error
}

func (p healthProvider) Health() error { return p.err }

// closingProvider records that it was closed.
type closingProvider struct {
	*testProvider
	closed *[]string
	err    error
}

func (p closingProvider) Close() error { *p.closed = append(*p.closed, p.name); return p.err }

// TestKeyringClose: Close closes every provider that holds something
// (directly or through the metrics wrapper), in name order, leaves the
// others alone and reports the first failure.
func TestKeyringClose(t *testing.T) {
	tests := []struct {
		name     string
		observed bool
		fail     error
	}{
		{"plain", false, nil},
		{"observed", true, nil},
		{"failing", true, errors.New("close failed")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var closed []string
			k := mustKeyring(t, "b",
				closingProvider{newTestProvider("b", kekOf(1)), &closed, nil},
				newTestProvider("c", kekOf(2)),
				closingProvider{newTestProvider("a", kekOf(3)), &closed, tt.fail})
			if tt.observed {
				k = k.Observed((&hookLog{}).hook)
			}
			if err := k.Close(); err != tt.fail {
				t.Errorf("Close = %v, want %v", err, tt.fail)
			}
			if !slices.Equal(closed, []string{"a", "b"}) {
				t.Errorf("closed %q, want [a b]", closed)
			}
		})
	}
}
