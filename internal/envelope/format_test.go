package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestAAD(t *testing.T) {
	tests := []struct {
		label, ws, name string
		wantHex         string
	}{
		{"L", "", "", "4c0000000000"},
		{"L", "a", "bc", "4c00000161000262" + "63"},
		{"L", "ab", "c", "4c0000026162000163"},
		// Lengths are byte counts, not runes.
		{"L", "é", "x", "4c000002c3a9000178"},
	}
	for _, tt := range tests {
		got, err := AAD(tt.label, tt.ws, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if h := hex.EncodeToString(got); h != tt.wantHex {
			t.Errorf("AAD(%q,%q,%q) = %s, want %s", tt.label, tt.ws, tt.name, h, tt.wantHex)
		}
	}
	long := strings.Repeat("x", 0x10000)
	if _, err := AAD(DataLabel, long, "n"); !errors.Is(err, ErrEncrypt) {
		t.Errorf("65536-byte workspace: err = %v", err)
	}
	if _, err := AAD(DataLabel, "w", long); !errors.Is(err, ErrEncrypt) {
		t.Errorf("65536-byte name: err = %v", err)
	}
	if _, err := AAD(DataLabel, "w", long[1:]); err != nil {
		t.Errorf("65535-byte name: err = %v", err)
	}
	d, _ := DataAAD("w", "n")
	k, _ := DEKAAD("w", "n")
	if bytes.Equal(d, k) {
		t.Error("data and DEK AADs are equal")
	}
}

func TestDecodeBase64(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"canonical", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", true},
		{"empty", "", true},
		{"no padding", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", false},
		{"newline inside", "AAECAwQFBgcICQoLDA0O\nDxAREhMUFRYXGBkaGxwdHh8=", false},
		{"trailing newline", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", false},
		{"carriage return", "AAECAwQFBgcICQoLDA0ODxAR\rEhMUFRYXGBkaGxwdHh8=", false},
		{"space", "AAECAwQFBgcICQoLDA0O DxAREhMUFRYXGBkaGxwdHh8=", false},
		{"url alphabet", "-_-_", false},
		{"nonzero trailing bits", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", false},
		{"stray character", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=", false},
	}
	for _, tt := range tests {
		b, err := DecodeBase64(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && (b != nil || strings.Contains(err.Error(), "byte")) {
			t.Errorf("%s: error %q leaks detail or returned bytes", tt.name, err)
		}
	}
}

func TestPureFunctionArguments(t *testing.T) {
	kek, dek := kekOf(1), kekOf(2)
	nonce, salt := make([]byte, NonceSize), make([]byte, SaltSize)
	tests := []struct {
		name string
		f    func() ([]byte, error)
		want error
	}{
		{"seal short DEK", func() ([]byte, error) { return SealDataV2With(dek[:31], nonce, nil, "w", "n") }, ErrEncrypt},
		{"seal short nonce", func() ([]byte, error) { return SealDataV2With(dek, nonce[:11], nil, "w", "n") }, ErrEncrypt},
		{"seal random short DEK", func() ([]byte, error) { return SealDataV2(dek[:16], nil, "w", "n") }, ErrEncrypt},
		{"wrap short DEK", func() ([]byte, error) { return WrapDEKV2With(kek, dek[:31], salt, nonce, "w", "n") }, ErrEncrypt},
		{"wrap short salt", func() ([]byte, error) { return WrapDEKV2With(kek, dek, salt[:15], nonce, "w", "n") }, ErrEncrypt},
		{"wrap short nonce", func() ([]byte, error) { return WrapDEKV2With(kek, dek, salt, nonce[:11], "w", "n") }, ErrEncrypt},
		{"wrap long name", func() ([]byte, error) { return WrapDEKV2(kek, dek, "w", strings.Repeat("n", 70000)) }, ErrEncrypt},
		{"open short DEK", func() ([]byte, error) { return OpenDataV2(dek[:31], make([]byte, 40), "w", "n") }, ErrDecrypt},
		{"open v1 short", func() ([]byte, error) { return OpenDataV1(dek, make([]byte, 27)) }, ErrDecrypt},
		{"open v1 short DEK", func() ([]byte, error) { return OpenDataV1(dek[:1], make([]byte, 40)) }, ErrDecrypt},
		{"unwrap v1 not base64", func() ([]byte, error) { return UnwrapDEKV1(kek, []byte("***")) }, ErrDecrypt},
		{"unwrap v1 wrong length", func() ([]byte, error) {
			return UnwrapDEKV1(kek, []byte(base64.StdEncoding.EncodeToString(make([]byte, 87))))
		}, ErrDecrypt},
		{"DEK text too short", func() ([]byte, error) { return DecodeDEKText([]byte("ERERERERERERERERERERERERERERERERERERERERERE")) }, ErrDecrypt},
		{"DEK text of 31 bytes", func() ([]byte, error) {
			return DecodeDEKText([]byte(base64.StdEncoding.EncodeToString(make([]byte, 31))))
		}, ErrDecrypt},
	}
	for _, tt := range tests {
		b, err := tt.f()
		if !errors.Is(err, tt.want) || b != nil {
			t.Errorf("%s: = %x, %v; want %v", tt.name, b, err, tt.want)
		}
	}
}

func TestWrapDEKV2(t *testing.T) {
	kek, dek := kekOf(1), kekOf(2)
	w1, err := WrapDEKV2(kek, dek, "w", "n")
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := WrapDEKV2(kek, dek, "w", "n")
	if len(w1) != WrappedDEKSizeV2 || bytes.Equal(w1, w2) {
		t.Fatalf("wraps: len %d, equal %v", len(w1), bytes.Equal(w1, w2))
	}
	got, err := UnwrapDEKV2(kek, w1, "w", "n")
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("unwrap = %x, %v", got, err)
	}
	tests := []struct {
		name      string
		kek       []byte
		wrapped   []byte
		ws, name2 string
	}{
		{"wrong KEK", kekOf(9), w1, "w", "n"},
		{"longer KEK with the same prefix", append(bytes.Clone(kek), 0), w1, "w", "n"},
		{"wrong name", kek, w1, "w", "n2"},
		{"wrong workspace", kek, w1, "w2", "n"},
		{"version byte 1", kek, append([]byte{1}, w1[1:]...), "w", "n"},
		{"version byte 3", kek, append([]byte{3}, w1[1:]...), "w", "n"},
	}
	for _, tt := range tests {
		if b, err := UnwrapDEKV2(tt.kek, tt.wrapped, tt.ws, tt.name2); !errors.Is(err, ErrDecrypt) || b != nil {
			t.Errorf("%s: = %x, %v", tt.name, b, err)
		}
	}
	// A format-1 wrapping key (empty HKDF info) must differ from format 2's.
	v1, _ := DeriveWrapKeyV1(kek, make([]byte, SaltSize))
	v2, _ := DeriveWrapKeyV2(kek, make([]byte, SaltSize))
	if bytes.Equal(v1, v2) {
		t.Error("format-1 and format-2 wrapping keys are equal")
	}
}

func TestUnwrapDEKV1RejectsBadDEKText(t *testing.T) {
	kek := kekOf(4)
	salt, nonce := bytes.Repeat([]byte{0x33}, SaltSize), bytes.Repeat([]byte{0x44}, NonceSize)
	wk, _ := DeriveWrapKeyV1(kek, salt)
	wrapText := func(text string) []byte {
		out := testGCM(t, wk).Seal(append(bytes.Clone(salt), nonce...), nonce, []byte(text), nil)
		return []byte(base64.StdEncoding.EncodeToString(out))
	}
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x11}, 32))
	if dek, err := UnwrapDEKV1(kek, wrapText(good)); err != nil || len(dek) != 32 {
		t.Fatalf("good text: %x, %v", dek, err)
	}
	for _, text := range []string{
		strings.Repeat("*", 44),
		good[:43] + "F", // nonzero trailing bits
		strings.Repeat("A", 40) + "AA==",
	} {
		if dek, err := UnwrapDEKV1(kek, wrapText(text)); !errors.Is(err, ErrDecrypt) || dek != nil {
			t.Errorf("text %q: %x, %v", text, dek, err)
		}
	}
}
