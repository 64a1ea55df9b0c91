package keys

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// transitError is a failed Transit call. class is all it says: an HTTP
// status ("HTTP 503") or a network error kind ("timeout"), never the reply
// body, which can echo request data. kind is envelope.ErrUnavailable for
// anything that means Vault could not be used, so the Keyring reports the
// provider as unavailable; a 2xx reply that makes no sense is ErrEncrypt or
// ErrDecrypt instead, since retrying elsewhere would not help.
type transitError struct {
	op    string
	class string
	kind  error
}

func (e *transitError) Error() string { return "vault transit " + e.op + ": " + e.class }
func (e *transitError) Unwrap() error { return e.kind }

// errorClass is the class of a provider error, for the probe message.
func errorClass(err error) string {
	var te *transitError
	if errors.As(err, &te) {
		return te.class
	}
	return "invalid response"
}

// fail builds a transitError and logs it: the Keyring keeps only
// "unavailable" or "decryption failed", so this WARN line is where an
// operator learns whether it was a 403, a 503 or a timeout.
func (v *Vault) fail(op, class string, kind error) error {
	v.log.Warn("vault transit request failed", "provider", v.name, "operation", op, "error", class)
	return &transitError{op: op, class: class, kind: kind}
}

// transitReply is the part of Vault's response envelope Coffer reads.
// Plaintext is []byte so encoding/json base64-decodes it straight into a
// buffer that can be cleared.
type transitReply struct {
	Data struct {
		Ciphertext string `json:"ciphertext"`
		Plaintext  []byte `json:"plaintext"`
	} `json:"data"`
}

// encrypt sends {"plaintext": base64(pt)} and returns data.ciphertext,
// checked to be a Transit ciphertext so nothing unreadable is ever stored.
func (v *Vault) encrypt(ctx context.Context, pt []byte) ([]byte, error) {
	body := make([]byte, 0, 16+base64.StdEncoding.EncodedLen(len(pt)))
	body = append(body, `{"plaintext":"`...)
	body = base64.StdEncoding.AppendEncode(body, pt)
	body = append(body, `"}`...)
	defer clear(body)
	r, err := v.call(ctx, "encrypt", v.encryptURL, body)
	if err != nil {
		return nil, err
	}
	ct := []byte(r.Data.Ciphertext)
	if !validTransitCiphertext(ct) {
		return nil, v.fail("encrypt", "invalid response", envelope.ErrEncrypt)
	}
	return ct, nil
}

// decrypt sends {"ciphertext": wrapped} and returns the decoded
// data.plaintext, which the caller clears. A stored value that is not a
// Transit ciphertext is refused without a call: it is a corrupt record, and
// Vault's 400 for it would be reported as an unavailable provider.
func (v *Vault) decrypt(ctx context.Context, wrapped []byte) ([]byte, error) {
	if !validTransitCiphertext(wrapped) {
		return nil, envelope.ErrDecrypt
	}
	body := make([]byte, 0, 18+len(wrapped))
	body = append(body, `{"ciphertext":"`...)
	body = append(body, wrapped...)
	body = append(body, `"}`...)
	r, err := v.call(ctx, "decrypt", v.decryptURL, body)
	if err != nil {
		return nil, err
	}
	if len(r.Data.Plaintext) == 0 {
		return nil, v.fail("decrypt", "invalid response", envelope.ErrDecrypt)
	}
	return r.Data.Plaintext, nil
}

// call POSTs one Transit request within the provider's timeout. Only the
// status code and the error class of a failure survive; the reply body is
// read (so the connection can be reused), parsed when 2xx, and cleared.
func (v *Vault) call(ctx context.Context, op, u string, body []byte) (*transitReply, error) {
	garbage := envelope.ErrDecrypt
	if op == "encrypt" {
		garbage = envelope.ErrEncrypt
	}
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	req, err := v.newRequest(ctx, u, body)
	if err != nil {
		return nil, v.fail(op, "invalid request", garbage)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, v.fail(op, networkClass(err), envelope.ErrUnavailable)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, vaultMaxReply+1))
	defer clear(raw)
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, v.fail(op, "HTTP "+strconv.Itoa(resp.StatusCode), envelope.ErrUnavailable)
	case err != nil:
		return nil, v.fail(op, networkClass(err), envelope.ErrUnavailable)
	}
	var r transitReply
	if len(raw) > vaultMaxReply || json.Unmarshal(raw, &r) != nil {
		return nil, v.fail(op, "invalid response", garbage)
	}
	return &r, nil
}

// newRequest is a Transit POST with the token and, when configured, the
// namespace.
func (v *Vault) newRequest(ctx context.Context, u string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Vault-Token", v.token)
	if v.namespace != "" {
		req.Header.Set("X-Vault-Namespace", v.namespace)
	}
	return req, nil
}

// networkClass names what went wrong below HTTP in a few words an operator
// can act on, without the addresses and texts of the underlying error.
func networkClass(err error) string {
	var (
		dns      *net.DNSError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		ne       net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &dns):
		return "host not found"
	case errors.As(err, &hostname):
		return "TLS certificate does not match the host"
	case errors.As(err, &unknown):
		return "TLS certificate not trusted"
	case errors.As(err, &verify):
		return "TLS certificate rejected"
	case errors.As(err, &record):
		return "TLS handshake failed"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "network error"
}

// validTransitCiphertext reports whether b looks like vault:v<N>:<base64>,
// the only shape Transit produces.
func validTransitCiphertext(b []byte) bool {
	rest, ok := bytes.CutPrefix(b, []byte("vault:v"))
	if !ok || len(b) > vaultMaxWrapped {
		return false
	}
	ver, data, ok := bytes.Cut(rest, []byte(":"))
	if !ok || len(ver) == 0 || len(data) == 0 {
		return false
	}
	for _, c := range ver {
		if c < '0' || c > '9' {
			return false
		}
	}
	for _, c := range data {
		if !isBase64Char(c) {
			return false
		}
	}
	return true
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '='
}
