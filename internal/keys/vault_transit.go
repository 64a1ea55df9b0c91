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
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// transitError is a failed Transit call. class is all it says: an HTTP
// status ("HTTP 503") or a network error kind ("timeout"), never the reply
// body, which can echo request data. kind is envelope.ErrUnavailable for
// anything that means Vault could not be used, so the Keyring reports the
// provider as unavailable; a 2xx reply that makes no sense is ErrEncrypt or
// ErrDecrypt instead, since retrying elsewhere would not help.
type transitError struct {
	op     string
	class  string
	kind   error
	status int // HTTP status, 0 when there was no answer
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

// failStatus is fail for an HTTP answer, keeping its status.
func (v *Vault) failStatus(op string, status int) error {
	err := v.fail(op, "HTTP "+strconv.Itoa(status), envelope.ErrUnavailable)
	err.(*transitError).status = status
	return err
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

// call POSTs one Transit request (with retries) and parses the reply. With
// a login method, a 403 means the token was revoked or expired early: it
// logs in again once and repeats the call. Only the status code and the
// error class of a failure survive; the reply body is cleared.
func (v *Vault) call(ctx context.Context, op, u string, body []byte) (*transitReply, error) {
	garbage := envelope.ErrDecrypt
	if op == "encrypt" {
		garbage = envelope.ErrEncrypt
	}
	for relogged := false; ; relogged = true {
		token, err := v.currentToken(ctx)
		if err != nil {
			return nil, err
		}
		raw, err := v.send(ctx, op, http.MethodPost, u, body, token)
		var te *transitError
		if v.login != nil && !relogged && errors.As(err, &te) && te.status == http.StatusForbidden {
			if _, lerr := v.relogin(ctx, token); lerr != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		var r transitReply
		perr := json.Unmarshal(raw, &r)
		clear(raw)
		if perr != nil || len(raw) > vaultMaxReply {
			return nil, v.fail(op, "invalid response", garbage)
		}
		return &r, nil
	}
}

// authCall is one login, renewal or lookup, decoded into into.
func (v *Vault) authCall(ctx context.Context, op, method, u string, body []byte, token string, into *authReply) error {
	raw, err := v.send(ctx, op, method, u, body, token)
	if err != nil {
		return err
	}
	defer clear(raw)
	if len(raw) > vaultMaxReply || json.Unmarshal(raw, into) != nil {
		return v.fail(op, "invalid response", envelope.ErrUnavailable)
	}
	return nil
}

// Retry timing: the n-th retry waits about retryBase·2ⁿ (at most
// retryMax), scaled by a random factor in [0.5, 1.5) so that replicas
// retrying the same outage do not arrive in step.
const (
	retryBase = 100 * time.Millisecond
	retryMax  = 2 * time.Second
)

func backoff(n int) time.Duration {
	d := min(retryBase<<n, retryMax)
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// send makes one Vault request, each attempt within timeout_seconds, and
// retries up to max_retries times after a 5xx, a 429 or a connection error
// (refused, reset, closed): Transit encrypt and decrypt, logins and
// renewals are safe to repeat. A timeout is not retried: a Vault that does
// not answer within timeout_seconds is not helped by more load. It returns
// a 2xx reply body (the caller clears it) or a *transitError.
func (v *Vault) send(ctx context.Context, op, method, u string, body []byte, token string) (raw []byte, err error) {
	start := time.Now()
	attempts := 0
	if v.observe != nil {
		defer func() {
			v.observe(CallEvent{Provider: v.name, Op: op, Attempts: attempts, Duration: time.Since(start), Err: err})
		}()
	}
	for {
		attempts++
		raw, status, netErr := v.attempt(ctx, method, u, body, token)
		if netErr == nil && status >= 200 && status <= 299 {
			return raw, nil
		}
		clear(raw)
		var class string
		retry := false
		if netErr != nil {
			class = networkClass(netErr)
			switch class {
			case "connection refused", "connection reset", "connection closed", "host unreachable":
				retry = true
			}
		} else {
			class = "HTTP " + strconv.Itoa(status)
			retry = status >= 500 || status == http.StatusTooManyRequests
		}
		if !retry || attempts > v.maxRetries || ctx.Err() != nil {
			if netErr == nil {
				return nil, v.failStatus(op, status)
			}
			return nil, v.fail(op, class, envelope.ErrUnavailable)
		}
		v.log.Debug("vault request failed; retrying", "provider", v.name, "operation", op, "error", class, "attempt", attempts)
		t := time.NewTimer(backoff(attempts - 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, v.fail(op, networkClass(ctx.Err()), envelope.ErrUnavailable)
		case <-t.C:
		}
	}
}

// attempt is one HTTP exchange within timeout_seconds. The body of a 2xx
// answer is returned whole (at most vaultMaxReply); others are drained.
func (v *Vault) attempt(ctx context.Context, method, u string, body []byte, token string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if v.namespace != "" {
		req.Header.Set("X-Vault-Namespace", v.namespace)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, vaultMaxReply+1))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		clear(raw)
		return nil, resp.StatusCode, nil
	}
	if err != nil {
		clear(raw)
		return nil, 0, err
	}
	return raw, resp.StatusCode, nil // over vaultMaxReply: the caller's parse refuses it
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
