package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// Sizes and labels of the record formats (docs/crypto.md §2 and §3). They are part
// of the stored bytes: changing any of them makes existing records unreadable.
const (
	// FormatV1 is the reference (NeMo Platform) format, read-only in Coffer.
	FormatV1 = 1
	// FormatV2 is the format every Coffer write produces.
	FormatV2 = 2

	// DEKSize is the length of a raw data key: AES-256.
	DEKSize = 32
	// NonceSize is the GCM nonce length used everywhere (the GCM standard size).
	NonceSize = 12
	// SaltSize is the HKDF salt length of a secret_key wrap (both formats).
	SaltSize = 16
	// TagSize is the GCM tag length.
	TagSize = 16

	// DataOverheadV2 is the format-2 data blob length minus the value length:
	// version byte, nonce and tag.
	DataOverheadV2 = 1 + NonceSize + TagSize
	// WrappedDEKSizeV2 is the exact length of a format-2 secret_key wrap:
	// version, salt, nonce, encrypted DEK, tag.
	WrappedDEKSizeV2 = 1 + SaltSize + NonceSize + DEKSize + TagSize

	// DataLabel starts the associated data of a format-2 data blob.
	DataLabel = "coffer/secret/v2/data"
	// DEKLabel starts the associated data of a format-2 secret_key wrap.
	DEKLabel = "coffer/secret/v2/dek"
	// KEKInfoV2 is the HKDF info of a format-2 secret_key wrap. Format 1 uses
	// an empty info, so a format-1 wrapping key never equals a format-2 one.
	KEKInfoV2 = "coffer/secret/v2/kek"

	// dekTextSize is the length of the base64 DEK text that format 1 wraps.
	dekTextSize = 44
	// wrappedDEKSizeV1 is the decoded length of a format-1 secret_key wrap.
	wrappedDEKSizeV1 = SaltSize + NonceSize + dekTextSize + TagSize
	// maxAADField is the largest workspace or name a u16be length can carry.
	maxAADField = 0xffff
)

// AAD returns label ‖ 0x00 ‖ u16be(len(ws)) ‖ ws ‖ u16be(len(name)) ‖ name.
// The length prefixes make the encoding injective, so no two (ws, name) pairs
// share associated data. It fails with ErrEncrypt when ws or name is longer
// than 65535 bytes, which the name rules never allow.
func AAD(label, ws, name string) ([]byte, error) {
	if len(ws) > maxAADField || len(name) > maxAADField {
		return nil, ErrEncrypt
	}
	return appendAAD(make([]byte, 0, aadLen(label, ws, name)), label, ws, name), nil
}

// aadLen is the length of AAD(label, ws, name).
func aadLen(label, ws, name string) int { return len(label) + 1 + 2 + len(ws) + 2 + len(name) }

// appendAAD appends AAD(label, ws, name) to b; the lengths are checked by
// the caller.
func appendAAD(b []byte, label, ws, name string) []byte {
	b = append(b, label...)
	b = append(b, 0)
	b = append(b, byte(len(ws)>>8), byte(len(ws)))
	b = append(b, ws...)
	b = append(b, byte(len(name)>>8), byte(len(name)))
	return append(b, name...)
}

// DataAAD is AAD(DataLabel, ws, name), the associated data of a data blob.
func DataAAD(ws, name string) ([]byte, error) { return AAD(DataLabel, ws, name) }

// DEKAAD is AAD(DEKLabel, ws, name), the associated data of a secret_key wrap.
func DEKAAD(ws, name string) ([]byte, error) { return AAD(DEKLabel, ws, name) }

// NewDEK returns a fresh random data key. Callers clear it with Clear once
// the record is sealed.
func NewDEK() ([]byte, error) {
	dek := make([]byte, DEKSize)
	if _, err := rand.Read(dek); err != nil {
		return nil, ErrEncrypt
	}
	return dek, nil
}

// Clear overwrites b with zeros. It is best effort: Go does not promise that
// no other copy of the bytes exists (cipher key schedules, earlier appends),
// so it only shortens the time key material stays readable in memory.
func Clear(b []byte) { clear(b) }

// SealDataV2 encrypts value as a format-2 data blob of ws/name under dek with
// a fresh random nonce.
func SealDataV2(dek, value []byte, ws, name string) ([]byte, error) {
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, ErrEncrypt
	}
	return SealDataV2With(dek, nonce, value, ws, name)
}

// SealDataV2With is SealDataV2 with a caller-chosen nonce. It exists to
// reproduce test vectors; reusing a nonce under one DEK breaks GCM, so
// production code calls SealDataV2.
func SealDataV2With(dek, nonce, value []byte, ws, name string) ([]byte, error) {
	if len(nonce) != NonceSize {
		return nil, ErrEncrypt
	}
	aad, err := DataAAD(ws, name)
	if err != nil {
		return nil, ErrEncrypt
	}
	g, err := newGCM(dek)
	if err != nil {
		return nil, ErrEncrypt
	}
	out := make([]byte, 0, DataOverheadV2+len(value))
	out = append(out, FormatV2)
	out = append(out, nonce...)
	return g.Seal(out, nonce, value, aad), nil
}

// OpenDataV2 decrypts a format-2 data blob of ws/name. Every failure,
// including a blob written for another record, is ErrDecrypt. The
// associated data and the value share one allocation: the value is the
// buffer's tail.
func OpenDataV2(dek, blob []byte, ws, name string) ([]byte, error) {
	if len(blob) < DataOverheadV2 || blob[0] != FormatV2 {
		return nil, ErrDecrypt
	}
	if len(ws) > maxAADField || len(name) > maxAADField {
		return nil, ErrDecrypt
	}
	g, err := newGCM(dek)
	if err != nil {
		return nil, ErrDecrypt
	}
	ct := blob[1+NonceSize:]
	buf := appendAAD(make([]byte, 0, aadLen(DataLabel, ws, name)+len(ct)-TagSize), DataLabel, ws, name)
	aad := buf[:len(buf):len(buf)]
	v, err := g.Open(buf[len(buf):], blob[1:1+NonceSize], ct, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return v, nil
}

// OpenDataV1 decrypts a format-1 data blob: the base64-decoded `_data` of the
// reference, nonce ‖ ciphertext ‖ tag, with no associated data.
func OpenDataV1(dek, blob []byte) ([]byte, error) {
	if len(blob) < NonceSize+TagSize {
		return nil, ErrDecrypt
	}
	g, err := newGCM(dek)
	if err != nil {
		return nil, ErrDecrypt
	}
	v, err := g.Open(nil, blob[:NonceSize], blob[NonceSize:], nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return v, nil
}

// DeriveWrapKeyV2 is the format-2 secret_key wrapping key:
// HKDF-SHA256(ikm = kek, salt, info = KEKInfoV2, 32 bytes).
func DeriveWrapKeyV2(kek, salt []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, kek, salt, KEKInfoV2, DEKSize)
}

// DeriveWrapKeyV1 is the format-1 (reference) secret_key wrapping key:
// HKDF-SHA256(ikm = kek, salt, empty info, 32 bytes).
func DeriveWrapKeyV1(kek, salt []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, kek, salt, "", DEKSize)
}

// WrapDEKV2 wraps a raw DEK for record ws/name under a secret_key KEK with a
// fresh random salt and nonce; the result is WrappedDEKSizeV2 bytes.
func WrapDEKV2(kek, dek []byte, ws, name string) ([]byte, error) {
	sn := make([]byte, SaltSize+NonceSize)
	if _, err := rand.Read(sn); err != nil {
		return nil, ErrEncrypt
	}
	return WrapDEKV2With(kek, dek, sn[:SaltSize], sn[SaltSize:], ws, name)
}

// WrapDEKV2With is WrapDEKV2 with caller-chosen salt and nonce, for test
// vectors only.
func WrapDEKV2With(kek, dek, salt, nonce []byte, ws, name string) ([]byte, error) {
	if len(dek) != DEKSize || len(salt) != SaltSize || len(nonce) != NonceSize {
		return nil, ErrEncrypt
	}
	aad, err := DEKAAD(ws, name)
	if err != nil {
		return nil, ErrEncrypt
	}
	wk, err := DeriveWrapKeyV2(kek, salt)
	if err != nil {
		return nil, ErrEncrypt
	}
	defer Clear(wk)
	g, err := newGCM(wk)
	if err != nil {
		return nil, ErrEncrypt
	}
	out := make([]byte, 0, WrappedDEKSizeV2)
	out = append(out, FormatV2)
	out = append(out, salt...)
	out = append(out, nonce...)
	return g.Seal(out, nonce, dek, aad), nil
}

// UnwrapDEKV2 reverses WrapDEKV2 and returns the raw DEK. A wrap made for
// another record, a wrong KEK or any altered byte gives ErrDecrypt.
func UnwrapDEKV2(kek, wrapped []byte, ws, name string) ([]byte, error) {
	if len(wrapped) != WrappedDEKSizeV2 || wrapped[0] != FormatV2 {
		return nil, ErrDecrypt
	}
	aad, err := DEKAAD(ws, name)
	if err != nil {
		return nil, ErrDecrypt
	}
	salt := wrapped[1 : 1+SaltSize]
	nonce := wrapped[1+SaltSize : 1+SaltSize+NonceSize]
	wk, err := DeriveWrapKeyV2(kek, salt)
	if err != nil {
		return nil, ErrDecrypt
	}
	defer Clear(wk)
	g, err := newGCM(wk)
	if err != nil {
		return nil, ErrDecrypt
	}
	dek, err := g.Open(nil, nonce, wrapped[1+SaltSize+NonceSize:], aad)
	if err != nil || len(dek) != DEKSize {
		Clear(dek)
		return nil, ErrDecrypt
	}
	return dek, nil
}

// UnwrapDEKV1 unwraps a reference secret_key wrap. wrapped is the ASCII text
// of `_encrypted_dek` (base64 of salt ‖ nonce ‖ ct ‖ tag); the plaintext is
// the 44-character base64 text of the DEK, which is decoded to the raw DEK.
func UnwrapDEKV1(kek, wrapped []byte) ([]byte, error) {
	raw, err := DecodeBase64(string(wrapped))
	if err != nil || len(raw) != wrappedDEKSizeV1 {
		return nil, ErrDecrypt
	}
	salt := raw[:SaltSize]
	nonce := raw[SaltSize : SaltSize+NonceSize]
	wk, err := DeriveWrapKeyV1(kek, salt)
	if err != nil {
		return nil, ErrDecrypt
	}
	defer Clear(wk)
	g, err := newGCM(wk)
	if err != nil {
		return nil, ErrDecrypt
	}
	text, err := g.Open(nil, nonce, raw[SaltSize+NonceSize:], nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	defer Clear(text)
	return DecodeDEKText(text)
}

// DecodeDEKText decodes the base64 DEK text that format 1 wraps (in both the
// secret_key and the vault provider) and checks that it is a 32-byte key.
func DecodeDEKText(text []byte) ([]byte, error) {
	if len(text) != dekTextSize {
		return nil, ErrDecrypt
	}
	dek, err := DecodeBase64(string(text))
	if err != nil || len(dek) != DEKSize {
		Clear(dek)
		return nil, ErrDecrypt
	}
	return dek, nil
}

var strictStd = base64.StdEncoding.Strict()

// DecodeBase64 decodes canonical standard base64 (RFC 4648 §4 alphabet, '='
// padding, zero trailing bits). Unlike encoding/base64 alone it also refuses
// CR and LF, which the standard decoder skips even in strict mode: a stored
// blob or key with stray characters is corrupt, not something to guess at.
// The error never includes the input.
func DecodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errBadBase64
	}
	b, err := strictStd.DecodeString(s)
	if err != nil {
		return nil, errBadBase64
	}
	return b, nil
}

// errBadBase64 replaces encoding/base64's error, whose text gives the offset
// of the offending byte in what may be key material.
var errBadBase64 = errors.New("not valid base64")

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != DEKSize {
		return nil, ErrDecrypt
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
