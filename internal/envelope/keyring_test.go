package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testProvider is a secret_key-like provider built from the pure functions,
// so the keyring can be tested without package keys.
type testProvider struct {
	name  string
	kek   []byte
	calls atomic.Int64
	// lastDEK keeps the slice WrapV2 was given, to check the keyring clears it.
	mu      sync.Mutex
	lastDEK []byte
}

func newTestProvider(name string, kek []byte) *testProvider {
	return &testProvider{name: name, kek: kek}
}

func (p *testProvider) Name() string { return p.name }

func (p *testProvider) WrapV2(_ context.Context, dek []byte, ws, name string) ([]byte, error) {
	p.calls.Add(1)
	p.mu.Lock()
	p.lastDEK = dek
	p.mu.Unlock()
	return WrapDEKV2(p.kek, dek, ws, name)
}

func (p *testProvider) UnwrapV2(_ context.Context, wrapped []byte, ws, name string) ([]byte, error) {
	p.calls.Add(1)
	return UnwrapDEKV2(p.kek, wrapped, ws, name)
}

func (p *testProvider) UnwrapV1(_ context.Context, wrapped []byte) ([]byte, error) {
	p.calls.Add(1)
	return UnwrapDEKV1(p.kek, wrapped)
}

// brokenProvider fails every call with err, or returns dek from unwraps.
type brokenProvider struct {
	name string
	err  error
	dek  []byte
}

func (p *brokenProvider) Name() string { return p.name }
func (p *brokenProvider) WrapV2(context.Context, []byte, string, string) ([]byte, error) {
	return []byte("vault:v1:wrapped"), p.err
}
func (p *brokenProvider) UnwrapV2(context.Context, []byte, string, string) ([]byte, error) {
	return p.dek, p.err
}
func (p *brokenProvider) UnwrapV1(context.Context, []byte) ([]byte, error) { return p.dek, p.err }

func kekOf(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustKeyring(t *testing.T, current string, ps ...Provider) *Keyring {
	t.Helper()
	k, err := NewKeyring(current, ps...)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

func mustSeal(t *testing.T, k *Keyring, ws, name, value string) Sealed {
	t.Helper()
	s, err := k.Seal(t.Context(), ws, name, []byte(value))
	if err != nil {
		t.Fatalf("Seal(%s/%s): %v", ws, name, err)
	}
	return s
}

// wantDecrypt checks that opening fails with ErrDecrypt and yields no value.
func wantDecrypt(t *testing.T, k *Keyring, what, ws, name string, s Sealed) {
	t.Helper()
	v, err := k.Open(t.Context(), ws, name, s)
	if !errors.Is(err, ErrDecrypt) || v != nil {
		t.Errorf("%s: Open = %q, %v; want ErrDecrypt", what, v, err)
	}
}

func TestNewKeyring(t *testing.T) {
	a, b := newTestProvider("a", kekOf(1)), newTestProvider("b", kekOf(2))
	dev := newTestProvider("", kekOf(3))
	tests := []struct {
		name    string
		current string
		ps      []Provider
		wantErr string
		names   []string
	}{
		{"one", "a", []Provider{a}, "", []string{"a"}},
		{"sorted names", "a", []Provider{b, dev, a}, "", []string{"", "a", "b"}},
		{"dev key current", "", []Provider{dev}, "", []string{""}},
		{"duplicate", "a", []Provider{a, b, newTestProvider("a", kekOf(9))},
			"secrets.encryption.providers: Duplicate encryptor name found: a", nil},
		{"unknown current", "c", []Provider{b, a},
			"secrets.encryption.current_provider: no provider named 'c' (configured: a, b)", nil},
		{"no providers", "a", nil,
			"secrets.encryption.current_provider: no provider named 'a' (configured: none)", nil},
		{"nil provider", "a", []Provider{a, nil}, "secrets.encryption.providers: nil provider", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeyring(tt.current, tt.ps...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Current() != tt.current {
				t.Errorf("Current = %q", k.Current())
			}
			if got := k.Names(); !slices.Equal(got, tt.names) {
				t.Errorf("Names = %q, want %q", got, tt.names)
			}
			for _, n := range tt.names {
				if !k.Has(n) {
					t.Errorf("Has(%q) = false", n)
				}
			}
			if k.Has("zzz") {
				t.Error("Has(zzz) = true")
			}
		})
	}
}

func TestJoinNames(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, "none"},
		{[]string{"b", "a"}, "a, b"},
		{[]string{"x", ""}, "'', x"},
	}
	for _, tt := range tests {
		if got := JoinNames(tt.in); got != tt.want {
			t.Errorf("JoinNames(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	p := newTestProvider("local", kekOf(7))
	k := mustKeyring(t, "local", p)
	values := []struct{ name, value string }{
		{"empty", ""},
		{"ascii", "hf_example_token"},
		{"unicode", "pässwörd ✓ 🔑"},
		{"nul bytes", "a\x00b\x00"},
		{"large", strings.Repeat("x", 64<<10)},
	}
	for _, v := range values {
		t.Run(v.name, func(t *testing.T) {
			s := mustSeal(t, k, "default", "my-secret", v.value)
			if s.Format != FormatV2 || s.Provider != "local" {
				t.Errorf("Format, Provider = %d, %q", s.Format, s.Provider)
			}
			if len(s.Ciphertext) != DataOverheadV2+len(v.value) || s.Ciphertext[0] != FormatV2 {
				t.Errorf("ciphertext length %d, first byte %#x", len(s.Ciphertext), s.Ciphertext[0])
			}
			if len(s.WrappedDEK) != WrappedDEKSizeV2 || s.WrappedDEK[0] != FormatV2 {
				t.Errorf("wrapped DEK length %d", len(s.WrappedDEK))
			}
			if len(v.value) >= 8 && bytes.Contains(s.Ciphertext, []byte(v.value[:8])) {
				t.Error("ciphertext contains the plaintext")
			}
			if !k.IsCurrent(s) {
				t.Error("IsCurrent = false for a fresh seal")
			}
			got, err := k.Open(t.Context(), "default", "my-secret", s)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if string(got) != v.value {
				t.Fatalf("Open = %q", got)
			}
		})
	}
}

func TestSealUsesFreshKeysAndClearsDEK(t *testing.T) {
	p := newTestProvider("local", kekOf(7))
	k := mustKeyring(t, "local", p)
	a := mustSeal(t, k, "default", "n", "same")
	p.mu.Lock()
	dek := p.lastDEK
	p.mu.Unlock()
	if len(dek) != DEKSize || !bytes.Equal(dek, make([]byte, DEKSize)) {
		t.Errorf("DEK buffer not cleared after Seal: len %d", len(dek))
	}
	b := mustSeal(t, k, "default", "n", "same")
	if bytes.Equal(a.Ciphertext, b.Ciphertext) || bytes.Equal(a.WrappedDEK, b.WrappedDEK) {
		t.Error("two seals of the same value are identical: DEK, nonce or salt reused")
	}
	if bytes.Equal(a.Ciphertext[1:1+NonceSize], b.Ciphertext[1:1+NonceSize]) {
		t.Error("data nonce reused")
	}
	if bytes.Equal(a.WrappedDEK[1:1+SaltSize], b.WrappedDEK[1:1+SaltSize]) {
		t.Error("wrap salt reused")
	}
}

func TestOpenWithOlderProvider(t *testing.T) {
	old := newTestProvider("old", kekOf(1))
	s := mustSeal(t, mustKeyring(t, "old", old), "default", "n", "v")
	k := mustKeyring(t, "new", newTestProvider("new", kekOf(2)), old)
	if k.IsCurrent(s) {
		t.Error("record of the old provider reported current")
	}
	if v, err := k.Open(t.Context(), "default", "n", s); err != nil || string(v) != "v" {
		t.Fatalf("Open = %q, %v", v, err)
	}
	if k.IsCurrent(Sealed{Provider: "new", Format: FormatV1}) {
		t.Error("format-1 record on the current provider reported current")
	}
}

func flipped(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

// localTestProvider is a testProvider whose KEK counts as in-process
// (LocalKEK): the keyring keeps the DEKs it unwraps.
type localTestProvider struct{ *testProvider }

func (localTestProvider) LocalKEK() {}

// TestTamperingFormat2 runs once with providers whose DEKs are not kept
// and once with kept DEKs of the genuine records (every tampered record
// must fail the same way whether or not its genuine DEK is cached).
func TestTamperingFormat2(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(fmt.Sprintf("dek_cache=%v", local), func(t *testing.T) { testTamperingFormat2(t, local) })
	}
}

func testTamperingFormat2(t *testing.T, local bool) {
	p := newTestProvider("local", kekOf(7))
	other := newTestProvider("other", kekOf(8))
	var k *Keyring
	if local {
		k = mustKeyring(t, "local", localTestProvider{p}, localTestProvider{other})
	} else {
		k = mustKeyring(t, "local", p, other)
	}
	s := mustSeal(t, k, "default", "alpha", "alpha-value")
	s2 := mustSeal(t, k, "default", "beta", "beta-value")
	sys := mustSeal(t, k, "system", "alpha", "system-value")
	if local {
		for _, r := range []struct {
			ws, name, value string
			s               Sealed
		}{{"default", "alpha", "alpha-value", s}, {"default", "beta", "beta-value", s2}, {"system", "alpha", "system-value", sys}} {
			if v, err := k.Open(t.Context(), r.ws, r.name, r.s); err != nil || string(v) != r.value {
				t.Fatalf("Open(%s/%s) = %q, %v", r.ws, r.name, v, err)
			}
		}
		if n := k.deks.len(); n != 3 {
			t.Fatalf("%d DEKs kept, want 3", n)
		}
	}

	for i := range s.Ciphertext {
		c := s
		c.Ciphertext = flipped(s.Ciphertext, i)
		wantDecrypt(t, k, fmt.Sprintf("ciphertext byte %d flipped", i), "default", "alpha", c)
	}
	for i := range s.WrappedDEK {
		c := s
		c.WrappedDEK = flipped(s.WrappedDEK, i)
		wantDecrypt(t, k, fmt.Sprintf("wrapped DEK byte %d flipped", i), "default", "alpha", c)
	}
	for n := 0; n < len(s.Ciphertext); n++ {
		c := s
		c.Ciphertext = s.Ciphertext[:n]
		wantDecrypt(t, k, fmt.Sprintf("ciphertext truncated to %d", n), "default", "alpha", c)
	}
	for n := 0; n < len(s.WrappedDEK); n++ {
		c := s
		c.WrappedDEK = s.WrappedDEK[:n]
		wantDecrypt(t, k, fmt.Sprintf("wrapped DEK truncated to %d", n), "default", "alpha", c)
	}
	extra := s
	extra.Ciphertext = append(bytes.Clone(s.Ciphertext), 0)
	wantDecrypt(t, k, "ciphertext with a byte appended", "default", "alpha", extra)
	extra = s
	extra.WrappedDEK = append(bytes.Clone(s.WrappedDEK), 0)
	wantDecrypt(t, k, "wrapped DEK with a byte appended", "default", "alpha", extra)

	swaps := []struct {
		what     string
		ws, name string
		s        Sealed
	}{
		{"whole record read as another name", "default", "beta", s},
		{"whole record read in another workspace", "system", "alpha", s},
		{"ciphertext of another secret", "default", "alpha",
			Sealed{Ciphertext: s2.Ciphertext, WrappedDEK: s.WrappedDEK, Provider: "local", Format: 2}},
		{"wrapped DEK of another secret", "default", "alpha",
			Sealed{Ciphertext: s.Ciphertext, WrappedDEK: s2.WrappedDEK, Provider: "local", Format: 2}},
		{"ciphertext from another workspace", "default", "alpha",
			Sealed{Ciphertext: sys.Ciphertext, WrappedDEK: s.WrappedDEK, Provider: "local", Format: 2}},
		{"wrapped DEK from another workspace", "default", "alpha",
			Sealed{Ciphertext: s.Ciphertext, WrappedDEK: sys.WrappedDEK, Provider: "local", Format: 2}},
		{"name and workspace boundary moved", "defaul", "talpha", s},
		{"read as format 1", "default", "alpha",
			Sealed{Ciphertext: s.Ciphertext, WrappedDEK: s.WrappedDEK, Provider: "local", Format: 1}},
		{"format 0", "default", "alpha",
			Sealed{Ciphertext: s.Ciphertext, WrappedDEK: s.WrappedDEK, Provider: "local", Format: 0}},
		{"format 3", "default", "alpha",
			Sealed{Ciphertext: s.Ciphertext, WrappedDEK: s.WrappedDEK, Provider: "local", Format: 3}},
		{"format -1", "default", "alpha",
			Sealed{Ciphertext: s.Ciphertext, WrappedDEK: s.WrappedDEK, Provider: "local", Format: -1}},
		{"another configured provider", "default", "alpha",
			Sealed{Ciphertext: s.Ciphertext, WrappedDEK: s.WrappedDEK, Provider: "other", Format: 2}},
		{"nil blobs", "default", "alpha", Sealed{Provider: "local", Format: 2}},
	}
	for _, sw := range swaps {
		wantDecrypt(t, k, sw.what, sw.ws, sw.name, sw.s)
	}

	t.Run("unconfigured provider", func(t *testing.T) {
		c := s
		c.Provider = "gone"
		v, err := k.Open(t.Context(), "default", "alpha", c)
		var pe *ProviderError
		if !errors.As(err, &pe) || pe.Provider != "gone" || pe.Unavailable || v != nil {
			t.Fatalf("Open = %q, %v; want ProviderError{gone}", v, err)
		}
		if err.Error() != "provider 'gone' is not configured" {
			t.Errorf("message %q", err)
		}
	})

	t.Run("corrupt record costs no provider call", func(t *testing.T) {
		before := p.calls.Load()
		for _, f := range []int{0, 1, 3} {
			c := s
			c.Format = f
			c.Ciphertext = []byte{2, 1, 2}
			_, _ = k.Open(t.Context(), "default", "alpha", c)
		}
		if n := p.calls.Load() - before; n != 0 {
			t.Errorf("%d provider calls for structurally invalid records", n)
		}
	})
}

func TestFormat1ThroughKeyring(t *testing.T) {
	kek := kekOf(5)
	dek := bytes.Repeat([]byte{0x11}, DEKSize)
	nonce := bytes.Repeat([]byte{0x22}, NonceSize)
	s := Sealed{
		Ciphertext: sealDataV1With(t, dek, nonce, []byte("legacy")),
		WrappedDEK: wrapDEKV1With(t, kek, dek, bytes.Repeat([]byte{0x33}, SaltSize), bytes.Repeat([]byte{0x44}, NonceSize)),
		Provider:   "v1",
		Format:     FormatV1,
	}
	k := mustKeyring(t, "new", newTestProvider("new", kekOf(6)), newTestProvider("v1", kek))
	if v, err := k.Open(t.Context(), "default", "legacy", s); err != nil || string(v) != "legacy" {
		t.Fatalf("Open = %q, %v", v, err)
	}
	if k.IsCurrent(s) {
		t.Error("format-1 record reported current")
	}
	for i := range s.Ciphertext {
		c := s
		c.Ciphertext = flipped(s.Ciphertext, i)
		wantDecrypt(t, k, fmt.Sprintf("v1 ciphertext byte %d flipped", i), "default", "legacy", c)
	}
	for i := range s.WrappedDEK {
		c := s
		c.WrappedDEK = flipped(s.WrappedDEK, i)
		wantDecrypt(t, k, fmt.Sprintf("v1 wrapped DEK char %d flipped", i), "default", "legacy", c)
	}
	for n := 0; n < len(s.Ciphertext); n++ {
		c := s
		c.Ciphertext = s.Ciphertext[:n]
		wantDecrypt(t, k, fmt.Sprintf("v1 ciphertext truncated to %d", n), "default", "legacy", c)
	}
	for n := 0; n < len(s.WrappedDEK); n++ {
		c := s
		c.WrappedDEK = s.WrappedDEK[:n]
		wantDecrypt(t, k, fmt.Sprintf("v1 wrapped DEK truncated to %d", n), "default", "legacy", c)
	}
	c := s
	c.Format = FormatV2
	wantDecrypt(t, k, "format-1 record read as format 2", "default", "legacy", c)
	c = s
	c.Provider = "new"
	wantDecrypt(t, k, "format-1 record with another provider's key", "default", "legacy", c)
	c = s
	c.WrappedDEK = append(bytes.Clone(s.WrappedDEK[:len(s.WrappedDEK)-2]), '\n', '=')
	wantDecrypt(t, k, "format-1 wrapped DEK with a newline", "default", "legacy", c)
}

func TestProviderFailures(t *testing.T) {
	const reply = "permission denied: token s.SECRETTOKEN"
	unavailable := fmt.Errorf("vault: %s: %w", reply, ErrUnavailable)
	tests := []struct {
		name        string
		err         error
		dek         []byte
		unavailable bool
		sealErr     error
		openErr     error
	}{
		{"unreachable", unavailable, nil, true, nil, nil},
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), nil, true, nil, nil},
		{"canceled", context.Canceled, nil, true, nil, nil},
		{"refused", errors.New(reply), nil, false, ErrEncrypt, ErrDecrypt},
		{"short DEK from unwrap", nil, make([]byte, 31), false, nil, ErrDecrypt},
		{"long DEK from unwrap", nil, make([]byte, 33), false, nil, ErrDecrypt},
		{"no DEK from unwrap", nil, nil, false, nil, ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bp := &brokenProvider{name: "vault1", err: tt.err, dek: tt.dek}
			k := mustKeyring(t, "vault1", bp)
			check := func(op string, err, want error) {
				t.Helper()
				if err == nil {
					if want != nil || tt.unavailable {
						t.Errorf("%s: no error", op)
					}
					return
				}
				if strings.Contains(err.Error(), "SECRETTOKEN") {
					t.Errorf("%s: error %q quotes the provider's reply", op, err)
				}
				if tt.unavailable {
					var pe *ProviderError
					if !errors.As(err, &pe) || !pe.Unavailable || pe.Provider != "vault1" {
						t.Errorf("%s: err = %v, want unavailable ProviderError", op, err)
					} else if err.Error() != "provider 'vault1' is unavailable" {
						t.Errorf("%s: message %q", op, err)
					}
					return
				}
				if !errors.Is(err, want) {
					t.Errorf("%s: err = %v, want %v", op, err, want)
				}
			}
			s, err := k.Seal(t.Context(), "default", "n", []byte("v"))
			check("Seal", err, tt.sealErr)
			if err == nil && (s.Provider != "vault1" || s.Format != 2) {
				t.Errorf("Seal = %+v", s)
			}
			good := Sealed{Ciphertext: make([]byte, 40), WrappedDEK: []byte("vault:v1:x"), Provider: "vault1"}
			good.Ciphertext[0] = FormatV2
			for _, f := range []int{FormatV1, FormatV2} {
				good.Format = f
				v, err := k.Open(t.Context(), "default", "n", good)
				if v != nil {
					t.Errorf("Open format %d returned a value", f)
				}
				check(fmt.Sprintf("Open format %d", f), err, tt.openErr)
			}
		})
	}
}

func TestKeyringConcurrent(t *testing.T) {
	k := mustKeyring(t, "a", newTestProvider("a", kekOf(1)), newTestProvider("b", kekOf(2)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				name := fmt.Sprintf("s-%d-%d", g, i)
				s, err := k.Seal(ctx, "default", name, []byte(name))
				if err != nil {
					t.Error(err)
					return
				}
				v, err := k.Open(ctx, "default", name, s)
				if err != nil || string(v) != name {
					t.Errorf("Open %s = %q, %v", name, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestDEKCache: with a LocalKEK provider the second open of a record asks
// the provider nothing and returns the same value; a provider without
// LocalKEK is asked every time and nothing is kept; the cache stays
// within its bound and clears the DEKs it drops.
func TestDEKCache(t *testing.T) {
	tests := []struct {
		name       string
		local      bool
		wantCalls  int64 // provider calls for 3 opens of one record
		wantCached int
	}{
		{"secret_key-like provider", true, 1, 1},
		{"remote KEK", false, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProvider("kms", kekOf(9))
			var prov Provider = p
			if tt.local {
				prov = localTestProvider{p}
			}
			k := mustKeyring(t, "kms", prov)
			s := mustSeal(t, k, "default", "hf-token", "hf_value")
			before := p.calls.Load()
			for range 3 {
				if v, err := k.Open(t.Context(), "default", "hf-token", s); err != nil || string(v) != "hf_value" {
					t.Fatalf("Open = %q, %v", v, err)
				}
			}
			if n := p.calls.Load() - before; n != tt.wantCalls {
				t.Errorf("%d provider calls for 3 opens, want %d", n, tt.wantCalls)
			}
			cached := 0
			if k.deks != nil {
				cached = k.deks.len()
			}
			if cached != tt.wantCached {
				t.Errorf("%d DEKs kept, want %d", cached, tt.wantCached)
			}
		})
	}

	t.Run("bounded, dropped DEKs cleared", func(t *testing.T) {
		c := newDEKCache()
		kept := map[dekKey]*[DEKSize]byte{}
		for i := range maxCachedDEKs + 10 {
			k, _ := keyOf("p", "ws", fmt.Sprintf("n%d", i), bytes.Repeat([]byte{1}, WrappedDEKSizeV2))
			c.put(&k, kekOf(2))
			kept[k] = c.m[k]
		}
		if n := c.len(); n != maxCachedDEKs {
			t.Errorf("%d DEKs kept, want the bound %d", n, maxCachedDEKs)
		}
		dropped := 0
		for k, p := range kept {
			if _, ok := c.m[k]; ok {
				continue
			}
			dropped++
			if *p != [DEKSize]byte{} {
				t.Errorf("dropped DEK of %s not cleared", k.name)
			}
		}
		if dropped != 10 {
			t.Errorf("%d dropped, want 10", dropped)
		}
	})
}
