package envelope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The published vectors live at the repository root so that other
// implementations (and the docs) can use them without reading Go code.
var testdataDir = filepath.Join("..", "..", "testdata")

type format2Vector struct {
	FormatVersion int `json:"format_version"`
	Inputs        struct {
		KEKHex       string `json:"kek_hex"`
		KEKBase64    string `json:"kek_base64"`
		DEKHex       string `json:"dek_hex"`
		DataNonceHex string `json:"data_nonce_hex"`
		WrapSaltHex  string `json:"wrap_salt_hex"`
		WrapNonceHex string `json:"wrap_nonce_hex"`
		Workspace    string `json:"workspace"`
		Name         string `json:"name"`
		Provider     string `json:"provider"`
		Value        string `json:"value"`
	} `json:"inputs"`
	Outputs struct {
		DataAADHex       string `json:"data_aad_hex"`
		DEKAADHex        string `json:"dek_aad_hex"`
		HKDFInfo         string `json:"hkdf_info"`
		HKDFOutputHex    string `json:"hkdf_output_hex"`
		CiphertextHex    string `json:"ciphertext_hex"`
		CiphertextBase64 string `json:"ciphertext_base64"`
		WrappedDEKHex    string `json:"wrapped_dek_hex"`
		WrappedDEKBase64 string `json:"wrapped_dek_base64"`
	} `json:"outputs"`
	Negative []struct {
		Workspace string `json:"workspace"`
		Name      string `json:"name"`
	} `json:"negative"`
}

type format1Vector struct {
	Inputs struct {
		KEKBase64    string `json:"kek_base64"`
		DEKHex       string `json:"dek_hex"`
		DataNonceHex string `json:"data_nonce_hex"`
		WrapSaltHex  string `json:"wrap_salt_hex"`
		WrapNonceHex string `json:"wrap_nonce_hex"`
		Value        string `json:"value"`
	} `json:"inputs"`
	Outputs struct {
		Data          string `json:"_data"`
		EncryptedDEK  string `json:"_encrypted_dek"`
		DEKText       string `json:"dek_text"`
		HKDFOutputHex string `json:"hkdf_output_hex"`
	} `json:"outputs"`
}

func loadJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// sealDataV1With and wrapDEKV1With write format 1 the way the reference did.
// Coffer never writes format 1, so they exist only in tests, to reproduce the
// reference vector and to build format-1 records for tampering tests.
func sealDataV1With(t testing.TB, dek, nonce, value []byte) []byte {
	t.Helper()
	g := testGCM(t, dek)
	return g.Seal(bytes.Clone(nonce), nonce, value, nil)
}

func wrapDEKV1With(t testing.TB, kek, dek, salt, nonce []byte) []byte {
	t.Helper()
	wk, err := DeriveWrapKeyV1(kek, salt)
	if err != nil {
		t.Fatal(err)
	}
	text := []byte(base64.StdEncoding.EncodeToString(dek))
	out := append(bytes.Clone(salt), nonce...)
	out = testGCM(t, wk).Seal(out, nonce, text, nil)
	return []byte(base64.StdEncoding.EncodeToString(out))
}

func testGCM(t testing.TB, key []byte) cipher.AEAD {
	t.Helper()
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestFormat1ReferenceVector(t *testing.T) {
	var v format1Vector
	loadJSON(t, "format1_vector.json", &v)
	kek, err := DecodeBase64(v.Inputs.KEKBase64)
	if err != nil {
		t.Fatal(err)
	}
	dek := unhex(t, v.Inputs.DEKHex)
	salt := unhex(t, v.Inputs.WrapSaltHex)

	// Reading: this is what an imported record goes through.
	data, err := DecodeBase64(v.Outputs.Data)
	if err != nil {
		t.Fatal(err)
	}
	gotDEK, err := UnwrapDEKV1(kek, []byte(v.Outputs.EncryptedDEK))
	if err != nil {
		t.Fatalf("UnwrapDEKV1: %v", err)
	}
	if !bytes.Equal(gotDEK, dek) {
		t.Fatalf("unwrapped DEK = %x, want %x", gotDEK, dek)
	}
	value, err := OpenDataV1(gotDEK, data)
	if err != nil {
		t.Fatalf("OpenDataV1: %v", err)
	}
	if string(value) != "hf_example_token" || string(value) != v.Inputs.Value {
		t.Fatalf("value = %q", value)
	}

	// Writing it again byte for byte pins the reading code to the reference.
	wk, err := DeriveWrapKeyV1(kek, salt)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(wk); got != v.Outputs.HKDFOutputHex {
		t.Errorf("HKDF = %s, want %s", got, v.Outputs.HKDFOutputHex)
	}
	if got := base64.StdEncoding.EncodeToString(dek); got != v.Outputs.DEKText {
		t.Errorf("DEK text = %s, want %s", got, v.Outputs.DEKText)
	}
	gotData := sealDataV1With(t, dek, unhex(t, v.Inputs.DataNonceHex), []byte(v.Inputs.Value))
	if got := base64.StdEncoding.EncodeToString(gotData); got != v.Outputs.Data {
		t.Errorf("_data = %s, want %s", got, v.Outputs.Data)
	}
	gotWrap := wrapDEKV1With(t, kek, dek, salt, unhex(t, v.Inputs.WrapNonceHex))
	if string(gotWrap) != v.Outputs.EncryptedDEK {
		t.Errorf("_encrypted_dek = %s, want %s", gotWrap, v.Outputs.EncryptedDEK)
	}
}

// TestFormat1VectorMatchesSpec guards the test-data file itself against an
// accidental edit: these strings are copied from docs/crypto.md §5.
func TestFormat1VectorMatchesSpec(t *testing.T) {
	var v format1Vector
	loadJSON(t, "format1_vector.json", &v)
	const (
		data = "IiIiIiIiIiIiIiIif5FYLLiu8i+JWoFIJ82Mu+D2SmU0SY5IaJAybcPlbWs="
		wrap = "MzMzMzMzMzMzMzMzMzMzM0RERERERERERERERNbp3AiTc6a4K5rcbj+pKKIK66bgucSu3W5Air0j2wKSLrn07NBeYKpOo1F77KZ9iao7FPKe/QO2FvdO5Q=="
		hkdf = "c62a4dd8aae59fd7a40777a5a489286572c46e968736ff1cd9d9cb82da14570f"
	)
	if v.Outputs.Data != data || v.Outputs.EncryptedDEK != wrap || v.Outputs.HKDFOutputHex != hkdf {
		t.Fatal("testdata/format1_vector.json differs from docs/crypto.md §5")
	}
}

func TestFormat2PublishedVector(t *testing.T) {
	var v format2Vector
	loadJSON(t, "format2_vector.json", &v)
	in, out := v.Inputs, v.Outputs
	if v.FormatVersion != FormatV2 {
		t.Fatalf("format_version = %d", v.FormatVersion)
	}
	kek := unhex(t, in.KEKHex)
	if kb, err := DecodeBase64(in.KEKBase64); err != nil || !bytes.Equal(kb, kek) {
		t.Fatalf("kek_base64 does not match kek_hex (%v)", err)
	}
	dek := unhex(t, in.DEKHex)
	salt := unhex(t, in.WrapSaltHex)
	data := unhex(t, out.CiphertextHex)
	wrapped := unhex(t, out.WrappedDEKHex)
	if b, err := DecodeBase64(out.CiphertextBase64); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ciphertext_base64 does not match ciphertext_hex (%v)", err)
	}
	if b, err := DecodeBase64(out.WrappedDEKBase64); err != nil || !bytes.Equal(b, wrapped) {
		t.Fatalf("wrapped_dek_base64 does not match wrapped_dek_hex (%v)", err)
	}
	if len(data) != DataOverheadV2+len(in.Value) || len(wrapped) != WrappedDEKSizeV2 {
		t.Fatalf("lengths %d, %d", len(data), len(wrapped))
	}

	t.Run("open", func(t *testing.T) {
		gotDEK, err := UnwrapDEKV2(kek, wrapped, in.Workspace, in.Name)
		if err != nil {
			t.Fatalf("UnwrapDEKV2: %v", err)
		}
		if !bytes.Equal(gotDEK, dek) {
			t.Fatalf("DEK = %x", gotDEK)
		}
		value, err := OpenDataV2(gotDEK, data, in.Workspace, in.Name)
		if err != nil {
			t.Fatalf("OpenDataV2: %v", err)
		}
		if string(value) != in.Value {
			t.Fatalf("value = %q", value)
		}
		k := mustKeyring(t, in.Provider, newTestProvider(in.Provider, kek))
		value, err = k.Open(t.Context(), in.Workspace, in.Name,
			Sealed{Ciphertext: data, WrappedDEK: wrapped, Provider: in.Provider, Format: FormatV2})
		if err != nil || string(value) != in.Value {
			t.Fatalf("Keyring.Open = %q, %v", value, err)
		}
	})

	t.Run("reproduce", func(t *testing.T) {
		checks := []struct {
			what string
			got  func() ([]byte, error)
			want string
		}{
			{"data AAD", func() ([]byte, error) { return DataAAD(in.Workspace, in.Name) }, out.DataAADHex},
			{"DEK AAD", func() ([]byte, error) { return DEKAAD(in.Workspace, in.Name) }, out.DEKAADHex},
			{"HKDF output", func() ([]byte, error) { return DeriveWrapKeyV2(kek, salt) }, out.HKDFOutputHex},
			{"ciphertext", func() ([]byte, error) {
				return SealDataV2With(dek, unhex(t, in.DataNonceHex), []byte(in.Value), in.Workspace, in.Name)
			}, out.CiphertextHex},
			{"wrapped DEK", func() ([]byte, error) {
				return WrapDEKV2With(kek, dek, salt, unhex(t, in.WrapNonceHex), in.Workspace, in.Name)
			}, out.WrappedDEKHex},
		}
		for _, c := range checks {
			b, err := c.got()
			if err != nil {
				t.Errorf("%s: %v", c.what, err)
				continue
			}
			if got := hex.EncodeToString(b); got != c.want {
				t.Errorf("%s = %s, want %s", c.what, got, c.want)
			}
		}
		if out.HKDFInfo != KEKInfoV2 {
			t.Errorf("hkdf_info = %q", out.HKDFInfo)
		}
	})

	t.Run("negatives", func(t *testing.T) {
		if len(v.Negative) != 2 {
			t.Fatalf("%d negative cases, want 2", len(v.Negative))
		}
		k := mustKeyring(t, in.Provider, newTestProvider(in.Provider, kek))
		for _, n := range v.Negative {
			if dek, err := UnwrapDEKV2(kek, wrapped, n.Workspace, n.Name); !errors.Is(err, ErrDecrypt) || dek != nil {
				t.Errorf("%s/%s: UnwrapDEKV2 = %x, %v; want ErrDecrypt", n.Workspace, n.Name, dek, err)
			}
			// Even with the right DEK the data blob is bound to its record.
			if val, err := OpenDataV2(dek, data, n.Workspace, n.Name); !errors.Is(err, ErrDecrypt) || val != nil {
				t.Errorf("%s/%s: OpenDataV2 = %q, %v; want ErrDecrypt", n.Workspace, n.Name, val, err)
			}
			val, err := k.Open(t.Context(), n.Workspace, n.Name,
				Sealed{Ciphertext: data, WrappedDEK: wrapped, Provider: in.Provider, Format: FormatV2})
			if !errors.Is(err, ErrDecrypt) || val != nil {
				t.Errorf("%s/%s: Keyring.Open = %q, %v; want ErrDecrypt", n.Workspace, n.Name, val, err)
			}
		}
	})
}
