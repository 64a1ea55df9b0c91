package envelope

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// fuzzKEK is the fixed key of the fuzz provider, so that the records of the
// committed corpus (testdata/fuzz/FuzzOpen) keep opening across runs.
var fuzzKEK = bytes.Repeat([]byte{0x5c}, 32)

// fuzzRecord is a record the fuzz seeds sealed, with its value.
type fuzzRecord struct {
	format           int
	provider         string
	ciphertext, wrap string
	ws, name         string
}

// fuzzSeeds returns valid records of both formats (and the values they
// hold) for the fixed KEK; both are deterministic (fixed nonces and salts).
func fuzzSeeds(tb testing.TB) map[fuzzRecord]string {
	tb.Helper()
	dek := bytes.Repeat([]byte{0x11}, DEKSize)
	nonce, salt := bytes.Repeat([]byte{0x22}, NonceSize), bytes.Repeat([]byte{0x33}, SaltSize)
	seeds := map[fuzzRecord]string{}
	for _, v := range []struct{ ws, name, value string }{
		{"default", "hf-token", "hf_abc"},
		{"ml", "a", ""},
		{"w", strings.Repeat("n", 200), strings.Repeat("\x00\xff", 100)},
	} {
		data, err := SealDataV2With(dek, nonce, []byte(v.value), v.ws, v.name)
		if err != nil {
			tb.Fatal(err)
		}
		wrap, err := WrapDEKV2With(fuzzKEK, dek, salt, nonce, v.ws, v.name)
		if err != nil {
			tb.Fatal(err)
		}
		seeds[fuzzRecord{FormatV2, "k", string(data), string(wrap), v.ws, v.name}] = v.value
		data1 := sealDataV1With(tb, dek, nonce, []byte(v.value))
		wrap1 := wrapDEKV1With(tb, fuzzKEK, dek, salt, nonce)
		// Format 1 has no associated data: any workspace and name open it.
		seeds[fuzzRecord{FormatV1, "k", string(data1), string(wrap1), "", ""}] = v.value
	}
	return seeds
}

// FuzzOpen feeds arbitrary stored records through the keyring's decoding
// of formats 1 and 2 (format byte, lengths, base64 of a format-1 wrap,
// the DEK text inside it, GCM of both layers). Whatever the bytes: no
// panic; a failure is ErrDecrypt or a *ProviderError, whose text holds no
// stored bytes; and a value comes back only for a record that was sealed
// (format 2: for exactly that workspace and name), with the value it was
// sealed with.
func FuzzOpen(f *testing.F) {
	seeds := fuzzSeeds(f)
	for r := range seeds {
		f.Add(r.format, r.provider, []byte(r.ciphertext), []byte(r.wrap), r.ws, r.name)
	}
	f.Add(2, "k", []byte{2}, []byte{2}, "default", "x")
	f.Add(1, "k", []byte("short"), []byte("=="), "default", "x")
	f.Add(3, "nope", []byte{}, []byte(nil), "", "")
	k, err := NewKeyring("k", &fuzzProvider{kek: fuzzKEK})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, format int, provider string, ciphertext, wrap []byte, ws, name string) {
		s := Sealed{Ciphertext: ciphertext, WrappedDEK: wrap, Provider: provider, Format: format}
		v, err := k.Open(context.Background(), ws, name, s)
		if err != nil {
			var pe *ProviderError
			if !errors.Is(err, ErrDecrypt) && !errors.As(err, &pe) {
				t.Fatalf("Open: %T %v; want ErrDecrypt or a *ProviderError", err, err)
			}
			if v != nil {
				t.Fatalf("Open returned %d bytes with the error %v", len(v), err)
			}
			for _, b := range [][]byte{ciphertext, wrap} {
				// The provider's name is in a *ProviderError by design.
				if len(b) >= 8 && strings.Contains(err.Error(), string(b)) && !strings.Contains(provider, string(b)) {
					t.Fatalf("error %q holds stored bytes", err)
				}
			}
			return
		}
		key := fuzzRecord{format, provider, string(ciphertext), string(wrap), ws, name}
		if format == FormatV1 {
			key.ws, key.name = "", ""
		}
		want, ok := seeds[key]
		if !ok {
			t.Fatalf("Open accepted a record nobody sealed for %q/%q (format %d)", ws, name, format)
		}
		if string(v) != want {
			t.Fatalf("Open returned another value than the one sealed")
		}
	})
}

// fuzzProvider is the secret_key scheme of the pure functions; package keys
// builds on the same functions.
type fuzzProvider struct{ kek []byte }

func (p *fuzzProvider) Name() string { return "k" }
func (p *fuzzProvider) WrapV2(_ context.Context, dek []byte, ws, name string) ([]byte, error) {
	return WrapDEKV2(p.kek, dek, ws, name)
}
func (p *fuzzProvider) UnwrapV2(_ context.Context, wrapped []byte, ws, name string) ([]byte, error) {
	return UnwrapDEKV2(p.kek, wrapped, ws, name)
}
func (p *fuzzProvider) UnwrapV1(_ context.Context, wrapped []byte) ([]byte, error) {
	return UnwrapDEKV1(p.kek, wrapped)
}

// FuzzDecodeBase64: the decoder of keys and format-1 fields accepts only
// canonical standard base64, so whatever it accepts encodes back to exactly
// the input, and its error never holds the input.
func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{"", "AA==", "AB==", "AAAA", "A", "AA=", "AA\n==", "_-8=", "ZGVr" + strings.Repeat("A", 40), "====", "AA==AA=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBase64(s)
		if err != nil {
			if len(s) >= 4 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q holds the input", err)
			}
			return
		}
		if got := base64.StdEncoding.EncodeToString(b); got != s {
			t.Fatalf("DecodeBase64(%q) accepted a non-canonical form of %q", s, got)
		}
	})
}
