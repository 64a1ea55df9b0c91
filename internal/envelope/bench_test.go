package envelope

import (
	"bytes"
	"testing"
)

// Benchmarks of the access path's crypto (format 2, secret_key provider):
// Keyring.Open and the steps it is made of.
//
//	go test -run '^$' -bench . -benchmem ./internal/envelope/

// BenchmarkOpen: "unwrap" asks the provider every time (a remote KEK, or
// a record's first open); "dek_cached" is a secret_key record opened again
// (the DEK cache, docs/crypto.md).
func BenchmarkOpen(b *testing.B) {
	for _, local := range []bool{false, true} {
		name := "unwrap"
		var p Provider = newTestProvider("k", bytes.Repeat([]byte{7}, 32))
		if local {
			name, p = "dek_cached", localTestProvider{p.(*testProvider)}
		}
		b.Run(name, func(b *testing.B) {
			k, err := NewKeyring("k", p)
			if err != nil {
				b.Fatal(err)
			}
			s, err := k.Seal(b.Context(), "default", "hf-token", []byte("hf_example_token_0123456789abcdef"))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Open(b.Context(), "default", "hf-token", s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpenSteps(b *testing.B) {
	kek := bytes.Repeat([]byte{7}, 32)
	dek := bytes.Repeat([]byte{0x11}, DEKSize)
	wrapped, err := WrapDEKV2(kek, dek, "default", "hf-token")
	if err != nil {
		b.Fatal(err)
	}
	data, err := SealDataV2(dek, []byte("hf_example_token_0123456789abcdef"), "default", "hf-token")
	if err != nil {
		b.Fatal(err)
	}
	salt := wrapped[1 : 1+SaltSize]
	b.Run("DeriveWrapKeyV2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DeriveWrapKeyV2(kek, salt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnwrapDEKV2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := UnwrapDEKV2(kek, wrapped, "default", "hf-token"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OpenDataV2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := OpenDataV2(dek, data, "default", "hf-token"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
