package keys

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/keys/transittest"
)

// BenchmarkVaultSealOpen measures the create-and-read path with the vault
// provider: Keyring.Seal (one Transit encrypt) then Keyring.Open (one
// decrypt) over loopback HTTP against the Transit double. It shows what the
// provider itself adds (HTTP, JSON, keep-alive); a real Vault adds its own
// processing and the network round trips.
func BenchmarkVaultSealOpen(b *testing.B) {
	isolateVaultEnv(b)
	srv := transittest.New(b)
	benchSealOpen(b, vaultRing(b, "v", vaultConfig(srv)))
	b.ReportMetric(float64(srv.Connections()), "conns")
}

// BenchmarkVaultSealOpenParallel is BenchmarkVaultSealOpen from GOMAXPROCS
// goroutines at once, as concurrent requests would call it.
func BenchmarkVaultSealOpenParallel(b *testing.B) {
	isolateVaultEnv(b)
	srv := transittest.New(b)
	kr := vaultRing(b, "v", vaultConfig(srv))
	value := []byte("hf_example_token_0123456789abcdef")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sealOpen(b, kr, value)
		}
	})
	b.ReportMetric(float64(srv.Connections()), "conns")
}

// BenchmarkSecretKeySealOpen is the same path with the local secret_key
// provider, the baseline the vault numbers are compared with.
func BenchmarkSecretKeySealOpen(b *testing.B) {
	isolateVaultEnv(b)
	srv := transittest.New(b)
	benchSealOpen(b, vaultRing(b, "sk", vaultConfig(srv)))
}

// benchSealOpen reports Seal and Open apart (Seal is the create path, Open
// the access path) and then the pair.
func benchSealOpen(b *testing.B, kr *envelope.Keyring) {
	value := []byte("hf_example_token_0123456789abcdef")
	s, err := kr.Seal(b.Context(), "default", "hf-token", value)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := kr.Seal(b.Context(), "default", "hf-token", value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := kr.Open(b.Context(), "default", "hf-token", s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SealOpen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sealOpen(b, kr, value)
		}
	})
}

func sealOpen(b *testing.B, kr *envelope.Keyring, value []byte) {
	s, err := kr.Seal(b.Context(), "default", "hf-token", value)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := kr.Open(b.Context(), "default", "hf-token", s); err != nil {
		b.Fatal(err)
	}
}
