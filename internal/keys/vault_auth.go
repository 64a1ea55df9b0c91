package keys

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// Auth methods of a vault provider (docs/key-management.md, "Vault tokens
// that renew themselves").
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"

	// DefaultKubernetesTokenFile is where Kubernetes mounts the pod's
	// service-account token.
	DefaultKubernetesTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
)

// Token lifecycle timing.
const (
	// renewFraction: a token is renewed (or replaced) once this share of
	// the TTL it was granted has passed, leaving a third for retries.
	renewNum, renewDen = 2, 3
	// minRefreshRetry and maxRefreshRetry bound the wait between failed
	// renewals or logins.
	minRefreshRetry = 500 * time.Millisecond
	maxRefreshRetry = 30 * time.Second
	// loginHoldoff: after a failed login, requests that need a token fail
	// at once for this long instead of each trying (and queueing behind)
	// another login while Vault is down.
	loginHoldoff = time.Second
)

// tokenState is the token in use and what Vault said about its lifetime.
type tokenState struct {
	value     string
	known     bool      // lifetime known (a lookup, login or renewal answered)
	expires   time.Time // zero: never expires
	renewable bool
	granted   time.Duration // TTL granted by the last login, renewal or lookup
	at        time.Time     // when it was granted
	capped    bool          // the last renewal granted less than before: max TTL is near
}

// due is when the token should next be renewed or replaced; ok is false
// when nothing needs doing (no expiry, or lifetime unknown).
func (t tokenState) due() (time.Time, bool) {
	if !t.known || t.expires.IsZero() {
		return time.Time{}, false
	}
	return t.at.Add(t.granted * renewNum / renewDen), true
}

// vaultLogin obtains a new token: AppRole or Kubernetes. Credentials are
// read from their files at every login, so rotated files are picked up.
type vaultLogin struct {
	method string
	url    string
	body   func() ([]byte, error)
}

// newVaultLogin validates the login settings of c; nil for auth_method
// token.
func newVaultLogin(prefix, addr string, c VaultConfig) (*vaultLogin, error) {
	switch c.AuthMethod {
	case "", AuthToken:
		return nil, nil
	case AuthAppRole:
		a := c.AppRole
		p := prefix + ".approle"
		if (a.RoleID == "") == (a.RoleIDFile == "") {
			return nil, startupError(p + ": set exactly one of role_id and role_id_file")
		}
		if (a.SecretID == "") == (a.SecretIDFile == "") {
			return nil, startupError(p + ": set exactly one of secret_id and secret_id_file")
		}
		mount := cmp.Or(strings.Trim(a.Mount, "/"), AuthAppRole)
		return &vaultLogin{method: AuthAppRole, url: addr + "/v1/auth/" + escapeSegments(mount) + "/login",
			body: func() ([]byte, error) {
				role, err := inlineOrFile(a.RoleID, a.RoleIDFile, p+".role_id_file")
				if err != nil {
					return nil, err
				}
				secret, err := inlineOrFile(a.SecretID, a.SecretIDFile, p+".secret_id_file")
				if err != nil {
					return nil, err
				}
				defer clear(secret)
				return json.Marshal(map[string]string{"role_id": string(role), "secret_id": string(secret)})
			}}, nil
	case AuthKubernetes:
		k := c.Kubernetes
		p := prefix + ".kubernetes"
		if k.Role == "" {
			return nil, startupError(p + ".role: required with auth_method kubernetes")
		}
		mount := cmp.Or(strings.Trim(k.Mount, "/"), AuthKubernetes)
		file := cmp.Or(k.TokenFile, DefaultKubernetesTokenFile)
		return &vaultLogin{method: AuthKubernetes, url: addr + "/v1/auth/" + escapeSegments(mount) + "/login",
			body: func() ([]byte, error) {
				jwt, err := inlineOrFile("", file, p+".token_file")
				if err != nil {
					return nil, err
				}
				defer clear(jwt)
				return json.Marshal(map[string]string{"role": k.Role, "jwt": string(jwt)})
			}}, nil
	}
	return nil, startupError(prefix + ".auth_method: must be token, approle or kubernetes")
}

// inlineOrFile returns the inline value, else the trimmed contents of file.
func inlineOrFile(inline, file, key string) ([]byte, error) {
	if inline != "" {
		return []byte(inline), nil
	}
	text, err := readKeyFile(file, key, nil)
	if err != nil {
		return nil, err
	}
	defer clear(text)
	v := bytes.Clone(bytes.TrimSpace(text))
	if len(v) == 0 {
		return nil, startupError(key + ": " + file + " is empty")
	}
	return v, nil
}

// authReply is the part of a login, renewal or lookup reply Coffer reads.
type authReply struct {
	Auth *struct {
		ClientToken   string `json:"client_token"`
		LeaseDuration int64  `json:"lease_duration"`
		Renewable     bool   `json:"renewable"`
	} `json:"auth"`
	Data *struct {
		TTL       int64 `json:"ttl"`
		Renewable bool  `json:"renewable"`
	} `json:"data"`
}

// tokenLife keeps the provider's token and its lifetime. Logins are
// serialised so that concurrent requests needing a new token share one.
type tokenLife struct {
	mu      sync.RWMutex
	st      tokenState
	loginMu sync.Mutex
	// lastLoginErr and lastLoginAt (guarded by loginMu) are the outcome
	// of the last login, for loginHoldoff.
	lastLoginErr error
	lastLoginAt  time.Time
	// expiredLogged makes the "static token expired" ERROR appear once.
	expiredLogged bool

	// ctx ends when the provider is closed: it stops maintain and cuts
	// short a renewal or login it has under way.
	ctx    context.Context
	cancel context.CancelFunc
	// started is set once maintain runs; done is closed when it returns.
	started atomic.Bool
	done    chan struct{}
}

// token returns the current token state.
func (v *Vault) token() tokenState {
	v.life.mu.RLock()
	defer v.life.mu.RUnlock()
	return v.life.st
}

func (v *Vault) setToken(st tokenState) {
	v.life.mu.Lock()
	v.life.st = st
	v.life.mu.Unlock()
}

// currentToken returns the token to send. With a login method it logs in
// first when there is no token yet or the current one has expired.
func (v *Vault) currentToken(ctx context.Context) (string, error) {
	st := v.token()
	if v.login == nil || (st.value != "" && (st.expires.IsZero() || time.Now().Before(st.expires))) {
		return st.value, nil
	}
	return v.relogin(ctx, st.value)
}

// relogin logs in again unless another caller already replaced stale, the
// token the caller found wanting; either way it returns the new token.
func (v *Vault) relogin(ctx context.Context, stale string) (string, error) {
	v.life.loginMu.Lock()
	defer v.life.loginMu.Unlock()
	if st := v.token(); st.value != stale && st.value != "" {
		return st.value, nil
	}
	if l := &v.life; l.lastLoginErr != nil && time.Since(l.lastLoginAt) < loginHoldoff {
		return "", l.lastLoginErr
	}
	err := v.doLogin(ctx)
	v.life.lastLoginErr, v.life.lastLoginAt = err, time.Now()
	if err != nil {
		return "", err
	}
	return v.token().value, nil
}

// doLogin performs one login (with the call retry policy) and installs the
// token.
func (v *Vault) doLogin(ctx context.Context) error {
	body, err := v.login.body()
	if err != nil {
		v.log.Error("vault login: cannot read credentials", "provider", v.name, "auth_method", v.login.method, "error", err.Error())
		return &transitError{op: "login", class: "cannot read credentials", kind: envelope.ErrUnavailable}
	}
	defer clear(body)
	var r authReply
	if err := v.authCall(ctx, "login", "POST", v.login.url, body, "", &r); err != nil {
		return err
	}
	if r.Auth == nil || !validToken(r.Auth.ClientToken) {
		return v.fail("login", "invalid response", envelope.ErrUnavailable)
	}
	now := time.Now()
	st := tokenState{value: r.Auth.ClientToken, known: true, renewable: r.Auth.Renewable,
		granted: time.Duration(r.Auth.LeaseDuration) * time.Second, at: now}
	if r.Auth.LeaseDuration > 0 {
		st.expires = now.Add(st.granted)
	}
	v.setToken(st)
	v.log.Info("vault login succeeded", "provider", v.name, "auth_method", v.login.method,
		"ttl", st.granted.String(), "renewable", st.renewable)
	return nil
}

// lookup asks Vault about the static token's lifetime. Failing is not
// fatal: a token without the default policy may not look itself up, and
// the probe that follows says whether it works at all.
func (v *Vault) lookup(ctx context.Context) {
	st := v.token()
	var r authReply
	if err := v.authCall(ctx, "lookup", "GET", v.addr+"/v1/auth/token/lookup-self", nil, st.value, &r); err != nil || r.Data == nil {
		v.log.Warn("vault token lookup failed; its expiry is unknown and it will not be renewed",
			"provider", v.name, "error", errorClass(err))
		return
	}
	now := time.Now()
	st.known, st.renewable, st.at = true, r.Data.Renewable, now
	st.granted = time.Duration(r.Data.TTL) * time.Second
	st.expires = time.Time{}
	if r.Data.TTL > 0 {
		st.expires = now.Add(st.granted)
	}
	v.setToken(st)
	if st.expires.IsZero() {
		v.log.Info("vault token does not expire", "provider", v.name)
		return
	}
	v.log.Info("vault token looked up", "provider", v.name, "ttl", st.granted.String(), "renewable", st.renewable,
		"expires", st.expires.UTC().Format(time.RFC3339))
	if !st.renewable {
		v.log.Warn("vault token is not renewable: Coffer stops working when it expires; use a periodic token or auth_method approle/kubernetes",
			"provider", v.name, "expires", st.expires.UTC().Format(time.RFC3339))
	}
}

// renew renews the token it was given, by its own TTL.
func (v *Vault) renew(ctx context.Context, st tokenState) error {
	var r authReply
	if err := v.authCall(ctx, "renew", "POST", v.addr+"/v1/auth/token/renew-self", []byte("{}"), st.value, &r); err != nil {
		return err
	}
	if r.Auth == nil {
		return v.fail("renew", "invalid response", envelope.ErrUnavailable)
	}
	now := time.Now()
	granted := time.Duration(r.Auth.LeaseDuration) * time.Second
	next := tokenState{value: st.value, known: true, renewable: r.Auth.Renewable, granted: granted, at: now,
		expires: now.Add(granted), capped: granted+time.Second < st.granted}
	if r.Auth.ClientToken != "" && r.Auth.ClientToken != st.value {
		return v.fail("renew", "invalid response", envelope.ErrUnavailable)
	}
	v.setToken(next)
	v.log.Debug("vault token renewed", "provider", v.name, "ttl", granted.String())
	return nil
}

// startLife looks the token up or logs in, then starts the goroutine that
// keeps it valid. Errors are startup messages.
func (v *Vault) startLife(ctx context.Context) error {
	if v.login == nil {
		v.lookup(ctx)
	} else if err := v.doLogin(ctx); err != nil {
		return startupError(v.prefix + ": " + v.login.method + " login failed: " + errorClass(err))
	}
	v.life.started.Store(true)
	go v.maintain()
	return nil
}

// Close stops the token maintenance goroutine and returns once it has
// ended, then drops idle connections to Vault. The server calls it on
// shutdown through Keyring.Close; it is safe to call more than once. The
// token is neither revoked nor renewed again: another replica may share it.
func (v *Vault) Close() error {
	first := v.life.ctx.Err() == nil
	v.life.cancel()
	started := v.life.started.Load()
	if started {
		<-v.life.done
	}
	v.client.CloseIdleConnections()
	if first && started {
		v.log.Info("vault provider closed; its token is no longer renewed", "provider", v.name)
	}
	return nil
}

// Done is closed when the token maintenance goroutine has ended (after
// Close); it is never closed for a provider whose maintenance never started.
func (v *Vault) Done() <-chan struct{} { return v.life.done }

// maintain renews or replaces the token at two thirds of its TTL, retrying
// failures with backoff, until Close.
func (v *Vault) maintain() {
	defer close(v.life.done)
	retry := minRefreshRetry
	var wait time.Duration
	for {
		if wait == 0 {
			due, ok := v.token().due()
			if !ok {
				wait = time.Hour // nothing to do; look again later
			} else {
				wait = max(time.Until(due), 0)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-v.life.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if _, ok := v.token().due(); !ok {
			wait = 0
			continue
		}
		if err := v.refresh(); err != nil {
			wait, retry = retry, min(retry*2, maxRefreshRetry)
			continue
		}
		wait, retry = 0, minRefreshRetry
	}
}

// refresh renews the token while renewal extends it, else logs in again
// (approle, kubernetes). A static token that can no longer be extended is
// left to expire, which Health and the log report.
func (v *Vault) refresh() error {
	ctx, cancel := context.WithTimeout(v.life.ctx, v.timeout*time.Duration(v.maxRetries+1)+time.Second)
	defer cancel()
	st := v.token()
	now := time.Now()
	if st.renewable && !st.capped {
		err := v.renew(ctx, st)
		if err == nil || v.login == nil {
			if err != nil && now.After(st.expires) {
				v.reportExpired(st)
				v.parkExpired(st)
				return nil
			}
			return err
		}
	}
	if v.login != nil {
		_, err := v.relogin(ctx, st.value)
		return err
	}
	// A static token that cannot be extended: wait for its expiry, then
	// report it once.
	if now.Before(st.expires) {
		st.granted, st.at = st.expires.Sub(now)*renewDen/renewNum+time.Millisecond, now
		st.renewable = false
		v.setToken(st)
		return nil
	}
	v.reportExpired(st)
	v.parkExpired(st)
	return nil
}

// parkExpired stops scheduling for an expired static token.
func (v *Vault) parkExpired(st tokenState) {
	v.life.mu.Lock()
	if v.life.st.value == st.value {
		v.life.st.known = false
	}
	v.life.mu.Unlock()
}

func (v *Vault) reportExpired(st tokenState) {
	v.life.mu.Lock()
	logged := v.life.expiredLogged
	v.life.expiredLogged = true
	v.life.mu.Unlock()
	if !logged {
		v.log.Error("vault token expired: every read and write of a value through this provider fails; issue a new token and restart Coffer",
			"provider", v.name, "expired", st.expires.UTC().Format(time.RFC3339))
	}
}

// Health reports a provider that cannot work until an operator acts: a
// static token past its expiry, or a login token expired while logging in
// again fails. /health/ready answers 503 with this reason.
func (v *Vault) Health() error {
	st := v.token()
	if st.expires.IsZero() || time.Now().Before(st.expires) {
		return nil
	}
	reason := "Vault token expired at " + st.expires.UTC().Format(time.RFC3339)
	if v.login == nil {
		reason += "; issue a new token and restart Coffer"
	} else {
		reason += "; logging in again (" + v.login.method + ") fails"
	}
	return &envelope.NotReadyError{Provider: v.name, Reason: reason}
}

// validToken reports whether t can be sent as a header: printable ASCII.
func validToken(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return false
		}
	}
	return true
}
