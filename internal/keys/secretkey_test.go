package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-dev/coffer/internal/envelope"
)

func readVector(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestSecretKeyPublishedVectors(t *testing.T) {
	var v2 struct {
		Inputs struct {
			KEKBase64 string `json:"kek_base64"`
			Workspace string `json:"workspace"`
			Name      string `json:"name"`
			Provider  string `json:"provider"`
			Value     string `json:"value"`
		} `json:"inputs"`
		Outputs struct {
			CiphertextBase64 string `json:"ciphertext_base64"`
			WrappedDEKBase64 string `json:"wrapped_dek_base64"`
		} `json:"outputs"`
	}
	readVector(t, "format2_vector.json", &v2)
	var v1 struct {
		Inputs struct {
			KEKBase64 string `json:"kek_base64"`
			Provider  string `json:"provider"`
			Value     string `json:"value"`
		} `json:"inputs"`
		Outputs struct {
			Data         string `json:"_data"`
			EncryptedDEK string `json:"_encrypted_dek"`
		} `json:"outputs"`
	}
	readVector(t, "format1_vector.json", &v1)
	// The configured value goes through ResolveSecretKey as an operator's would.
	local, err := ResolveSecretKey(v2.Inputs.Provider, SecretKeyConfig{Value: v2.Inputs.KEKBase64}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ResolveSecretKey("v1", SecretKeyConfig{Value: v1.Inputs.KEKBase64}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.NewKeyring("local", local, ref)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := base64.StdEncoding.DecodeString(v2.Outputs.CiphertextBase64)
	wrapped, _ := base64.StdEncoding.DecodeString(v2.Outputs.WrappedDEKBase64)
	got, err := kr.Open(t.Context(), v2.Inputs.Workspace, v2.Inputs.Name,
		envelope.Sealed{Ciphertext: data, WrappedDEK: wrapped, Provider: "local", Format: 2})
	if err != nil || string(got) != "hf_example_token" || string(got) != v2.Inputs.Value {
		t.Fatalf("format-2 vector: %q, %v", got, err)
	}
	for _, n := range [][2]string{{"default", "hf-token2"}, {"system", "hf-token"}} {
		if got, err := kr.Open(t.Context(), n[0], n[1],
			envelope.Sealed{Ciphertext: data, WrappedDEK: wrapped, Provider: "local", Format: 2}); !errors.Is(err, envelope.ErrDecrypt) || got != nil {
			t.Errorf("format-2 vector as %s/%s: %q, %v", n[0], n[1], got, err)
		}
	}

	data1, _ := base64.StdEncoding.DecodeString(v1.Outputs.Data)
	got, err = kr.Open(t.Context(), "any", "thing",
		envelope.Sealed{Ciphertext: data1, WrappedDEK: []byte(v1.Outputs.EncryptedDEK), Provider: "v1", Format: 1})
	if err != nil || string(got) != "hf_example_token" {
		t.Fatalf("format-1 vector: %q, %v", got, err)
	}
	// A format-1 wrap is not a format-2 one: read as format 2 it fails.
	if got, err := kr.Open(t.Context(), "any", "thing",
		envelope.Sealed{Ciphertext: data1, WrappedDEK: []byte(v1.Outputs.EncryptedDEK), Provider: "v1", Format: 2}); !errors.Is(err, envelope.ErrDecrypt) || got != nil {
		t.Errorf("format-1 vector read as format 2: %q, %v", got, err)
	}
}

func TestSecretKeyRoundTripAndKeyUse(t *testing.T) {
	k32, k64 := seqKey(0), append(seqKey(0), seqKey(100)...)
	short, err := NewSecretKey("short", k32)
	if err != nil {
		t.Fatal(err)
	}
	long, err := NewSecretKey("long", k64)
	if err != nil {
		t.Fatal(err)
	}
	dek := bytes.Repeat([]byte{9}, 32)
	w, err := long.WrapV2(t.Context(), dek, "default", "n")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := long.UnwrapV2(t.Context(), w, "default", "n"); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("round trip: %x, %v", got, err)
	}
	// A longer key is used whole, not cut to 32 bytes.
	if got, err := short.UnwrapV2(t.Context(), w, "default", "n"); !errors.Is(err, envelope.ErrDecrypt) || got != nil {
		t.Errorf("64-byte key wrap opened with its 32-byte prefix: %x, %v", got, err)
	}
	if _, err := NewSecretKey("x", k32[:31]); err == nil ||
		err.Error() != "secret_key provider 'x': key is 31 bytes; at least 32 are required" {
		t.Errorf("short key: %v", err)
	}
	// The provider keeps its own copy.
	in := seqKey(1)
	k, _ := NewSecretKey("copy", in)
	w, _ = k.WrapV2(t.Context(), dek, "w", "n")
	clear(in)
	if _, err := k.UnwrapV2(t.Context(), w, "w", "n"); err != nil {
		t.Errorf("provider depends on the caller's buffer: %v", err)
	}
	if k.Name() != "copy" {
		t.Errorf("Name = %q", k.Name())
	}
}

func TestRedaction(t *testing.T) {
	key := seqKey(0x41) // printable bytes, so a raw leak would show
	k, err := NewSecretKey("local", key)
	if err != nil {
		t.Fatal(err)
	}
	skc := SecretKeyConfig{Value: b64(key), FromEnv: "MY_KEY_VAR"}
	vc := VaultConfig{Address: "https://vault:8200", Token: "hvs.SUPERSECRETTOKEN"}
	cfg := EncryptionConfig{Providers: ProvidersConfig{
		SecretKey: map[string]SecretKeyConfig{"a": skc},
		Vault:     map[string]VaultConfig{"v": vc},
	}}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "key", k, "cfg", skc, "vault", vc)
	var tbuf bytes.Buffer
	slog.New(slog.NewTextHandler(&tbuf, nil)).Info("x", "key", k, "cfg", skc, "vault", vc)
	js, _ := json.Marshal(k)
	outputs := map[string]string{
		"%v key":     fmt.Sprintf("%v", k),
		"%+v key":    fmt.Sprintf("%+v", k),
		"%#v key":    fmt.Sprintf("%#v", k),
		"%s key":     fmt.Sprintf("%s", k),
		"%v *key":    fmt.Sprintf("%v", *k),
		"%v cfg":     fmt.Sprintf("%v", skc),
		"%#v cfg":    fmt.Sprintf("%#v", skc),
		"%+v config": fmt.Sprintf("%+v", cfg),
		"%#v config": fmt.Sprintf("%#v", cfg),
		"slog json":  buf.String(),
		"slog text":  tbuf.String(),
		"json":       string(js),
	}
	for what, out := range outputs {
		assertNoKey(t, what, out, key)
		if bytes.Contains([]byte(out), []byte("SUPERSECRETTOKEN")) {
			t.Errorf("%s contains the Vault token: %s", what, out)
		}
	}
	if got := fmt.Sprint(k); got != Redacted {
		t.Errorf("String = %q", got)
	}
	if !bytes.Contains(buf.Bytes(), []byte("MY_KEY_VAR")) {
		t.Errorf("redaction hid the (non-secret) variable name: %s", buf.String())
	}
}
