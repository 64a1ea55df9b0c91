package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/keys/transittest"
)

func intp(n int) *int { return &n }

// buildRing is Build with one vault provider "v" as the current one.
func buildRing(t *testing.T, c VaultConfig, log *slog.Logger, opts ...Option) (*envelope.Keyring, error) {
	t.Helper()
	return Build(EncryptionConfig{CurrentProvider: "v", Providers: ProvidersConfig{
		Vault: map[string]VaultConfig{"v": c}}}, DevKeyOptions{}, log, opts...)
}

func wantUnavailable(t *testing.T, err error) {
	t.Helper()
	var pe *envelope.ProviderError
	if !errors.As(err, &pe) || !pe.Unavailable {
		t.Errorf("got %v, want provider unavailable", err)
	}
}

// TestVaultRetries: a transient 5xx, 429 or dropped connection costs a
// retry, not a failed request; the retry budget is max_retries; a timeout
// is not retried.
func TestVaultRetries(t *testing.T) {
	tests := []struct {
		name     string
		retries  *int
		inject   func(*transittest.Server)
		ok       bool
		requests int
	}{
		{"503 then success", nil, func(s *transittest.Server) { s.FailNext(503) }, true, 2},
		{"500, 429 then success", nil, func(s *transittest.Server) { s.FailNext(500, 429) }, true, 3},
		{"three 502 exceed the default budget", nil, func(s *transittest.Server) { s.FailNext(502, 502, 502) }, false, 3},
		{"connection reset twice", nil, func(s *transittest.Server) { s.ResetNext(2) }, true, 3},
		{"max_retries 0", intp(0), func(s *transittest.Server) { s.FailNext(503) }, false, 1},
		{"max_retries 4", intp(4), func(s *transittest.Server) { s.FailNext(503, 503, 503, 503) }, true, 5},
		{"403 is not retried", nil, func(s *transittest.Server) { s.FailNext(403) }, false, 1},
		{"400 is not retried", nil, func(s *transittest.Server) { s.FailNext(400) }, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateVaultEnv(t)
			srv := transittest.New(t)
			c := vaultConfig(srv)
			c.MaxRetries = tt.retries
			var events []CallEvent
			var mu sync.Mutex
			kr, err := buildRing(t, c, nil, WithCallObserver(func(e CallEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }))
			if err != nil {
				t.Fatal(err)
			}
			tt.inject(srv)
			before := srv.Requests()
			_, err = kr.Seal(t.Context(), "ws", "n", []byte(testValue))
			if got := srv.Requests() - before; got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
			if tt.ok && err != nil {
				t.Errorf("Seal: %v", err)
			}
			if !tt.ok {
				wantUnavailable(t, err)
			}
			mu.Lock()
			last := events[len(events)-1]
			mu.Unlock()
			if last.Op != "encrypt" || last.Provider != "v" || last.Attempts != tt.requests || (last.Err == nil) != tt.ok {
				t.Errorf("observer saw %+v", last)
			}
		})
	}
	t.Run("timeout is not retried", func(t *testing.T) {
		isolateVaultEnv(t)
		srv := transittest.New(t)
		c := vaultConfig(srv)
		c.TimeoutSeconds = 1
		kr := vaultRing(t, "v", c)
		srv.SetDelay(3 * time.Second)
		before := srv.Requests()
		start := time.Now()
		_, err := kr.Seal(t.Context(), "ws", "n", []byte(testValue))
		wantUnavailable(t, err)
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("took %v, want about timeout_seconds", d)
		}
		if got := srv.Requests() - before; got != 1 {
			t.Errorf("%d requests", got)
		}
	})
	t.Run("the request's deadline ends the retries", func(t *testing.T) {
		isolateVaultEnv(t)
		srv := transittest.New(t)
		c := vaultConfig(srv)
		c.MaxRetries = intp(10)
		kr := vaultRing(t, "v", c)
		srv.FailWith(503)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := kr.Seal(ctx, "ws", "n", []byte(testValue))
		wantUnavailable(t, err)
		if d := time.Since(start); d > time.Second {
			t.Errorf("retries went on for %v past the caller's deadline", d)
		}
	})
}

// TestVaultStaticTokenRenewed: a renewable token is renewed at about two
// thirds of its TTL and keeps working past its original expiry.
func TestVaultStaticTokenRenewed(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	c := vaultConfig(srv)
	c.Token = srv.IssueToken(transittest.TokenPolicy{TTL: 3 * time.Second, MaxTTL: time.Minute, Renewable: true})
	capt, log := newCapture()
	kr, err := buildRing(t, c, log)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4500 * time.Millisecond)
	if _, err := kr.Seal(t.Context(), "ws", "n", []byte(testValue)); err != nil {
		t.Fatalf("after the original expiry: %v", err)
	}
	if n := srv.Renewals(); n < 1 || n > 3 {
		t.Errorf("%d renewals in 4.5 s of a 3 s TTL, want about 2", n)
	}
	if err := kr.Health(); err != nil {
		t.Error(err)
	}
	if !strings.Contains(capt.all(), "vault token looked up") {
		t.Errorf("log: %s", capt.all())
	}
	assertNoLeak(t, "log", capt.all(), c.Token)
}

// TestVaultStaticTokenExpires: a static token that cannot be renewed is a
// warning at startup, an ERROR when it expires, and /health/ready's reason.
func TestVaultStaticTokenExpires(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	c := vaultConfig(srv)
	c.Token = srv.IssueToken(transittest.TokenPolicy{TTL: 2 * time.Second})
	capt, log := newCapture()
	kr, err := buildRing(t, c, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := kr.Health(); err != nil {
		t.Errorf("healthy token reported: %v", err)
	}
	if w := strings.Join(capt.at(slog.LevelWarn), "\n"); !strings.Contains(w, "vault token is not renewable") {
		t.Errorf("no startup warning: %s", w)
	}
	time.Sleep(2500 * time.Millisecond)
	var nr *envelope.NotReadyError
	if err := kr.Health(); !errors.As(err, &nr) || nr.Provider != "v" ||
		!strings.Contains(err.Error(), "Vault token expired at") || !strings.Contains(err.Error(), "issue a new token and restart Coffer") {
		t.Errorf("Health: %v", err)
	}
	_, err = kr.Seal(t.Context(), "ws", "n", []byte(testValue))
	wantUnavailable(t, err)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(capt.at(slog.LevelError), "\n"), "vault token expired") {
		if time.Now().After(deadline) {
			t.Fatalf("no ERROR about the expired token:\n%s", capt.all())
		}
		time.Sleep(50 * time.Millisecond)
	}
	assertNoLeak(t, "log", capt.all(), c.Token)
}

// loadFor runs Seal+Open in workers until d has passed and returns the
// number of operations and of failures.
func loadFor(t *testing.T, kr *envelope.Keyring, workers int, d time.Duration) (ops, failures int64) {
	t.Helper()
	var nOps, nFail atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				name := fmt.Sprintf("n%d-%d", w, i)
				s, err := kr.Seal(t.Context(), "ws", name, []byte(testValue))
				if err == nil {
					var v []byte
					v, err = kr.Open(t.Context(), "ws", name, s)
					if err == nil && string(v) != testValue {
						err = errors.New("wrong value")
					}
				}
				nOps.Add(1)
				if err != nil {
					nFail.Add(1)
					t.Logf("operation failed: %v", err)
				}
			}
		})
	}
	wg.Wait()
	return nOps.Load(), nFail.Load()
}

// TestVaultAppRoleTokenExpiresMidLoad: AppRole tokens with a 2 s TTL and a
// 3 s max TTL are renewed, then replaced by a new login, under concurrent
// load for longer than several lifetimes; no request fails.
func TestVaultAppRoleTokenExpiresMidLoad(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	srv.EnableAppRole("approle", "role-1", "secret-1", transittest.TokenPolicy{TTL: 2 * time.Second, MaxTTL: 3 * time.Second, Renewable: true})
	capt, log := newCapture()
	c := VaultConfig{Address: srv.URL, AuthMethod: AuthAppRole, AppRole: AppRoleConfig{
		RoleIDFile: writeFile(t, t.TempDir(), "role-id", "role-1\n", 0o600), SecretID: "secret-1"}}
	kr, err := buildRing(t, c, log)
	if err != nil {
		t.Fatal(err)
	}
	ops, failures := loadFor(t, kr, 4, 7*time.Second)
	if failures != 0 || ops < 20 {
		t.Errorf("%d of %d operations failed", failures, ops)
	}
	if n := srv.Logins(); n < 3 {
		t.Errorf("%d logins over 7 s of 3 s max TTL tokens", n)
	}
	if n := srv.Renewals(); n < 2 {
		t.Errorf("%d renewals", n)
	}
	assertNoLeak(t, "log", capt.all(), "secret-1")
}

// TestVaultStaticTokenExpiresMidLoad: a renewable static token with a 2 s
// TTL serves a load running for several TTLs with no failed request.
func TestVaultStaticTokenExpiresMidLoad(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	c := vaultConfig(srv)
	c.Token = srv.IssueToken(transittest.TokenPolicy{TTL: 2 * time.Second, MaxTTL: time.Hour, Renewable: true})
	kr, err := buildRing(t, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops, failures := loadFor(t, kr, 4, 5*time.Second)
	if failures != 0 || ops < 20 {
		t.Errorf("%d of %d operations failed", failures, ops)
	}
}

// TestVaultRelogin: a revoked AppRole token (403) is replaced by a new
// login and the request succeeds.
func TestVaultRelogin(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	srv.EnableAppRole("auth/approle-ci", "r", "s", transittest.TokenPolicy{TTL: time.Hour})
	c := VaultConfig{Address: srv.URL, AuthMethod: AuthAppRole,
		AppRole: AppRoleConfig{Mount: "auth/approle-ci", RoleID: "r", SecretIDFile: writeFile(t, t.TempDir(), "sid", "s", 0o600)}}
	p, err := buildVault("v", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := p.(*Vault)
	defer v.Close()
	srv.RevokeToken(v.token().value)
	if _, err := v.WrapV2(t.Context(), make([]byte, 32), "", ""); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := srv.Logins(); n != 2 {
		t.Errorf("%d logins, want 2", n)
	}
}

// TestVaultKubernetesLogin logs in with the service-account token file,
// re-read at each login.
func TestVaultKubernetesLogin(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	srv.EnableKubernetes("kubernetes", "coffer", "sa-jwt-1", transittest.TokenPolicy{TTL: time.Hour, Renewable: true})
	file := writeFile(t, t.TempDir(), "token", "sa-jwt-1", 0o600)
	c := VaultConfig{Address: srv.URL, AuthMethod: AuthKubernetes, Kubernetes: KubernetesAuthConfig{Role: "coffer", TokenFile: file}}
	capt, log := newCapture()
	kr, err := buildRing(t, c, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Seal(t.Context(), "ws", "n", []byte(testValue)); err != nil {
		t.Fatal(err)
	}
	if srv.Logins() != 1 || !strings.Contains(capt.all(), "vault login succeeded") {
		t.Errorf("logins %d, log %s", srv.Logins(), capt.all())
	}
	assertNoLeak(t, "log", capt.all(), "sa-jwt-1")

	// A wrong service-account token stops startup, naming the method.
	os.WriteFile(file, []byte("other-jwt"), 0o600)
	_, err = buildRing(t, c, nil)
	want := "secrets.encryption.providers.vault.v: kubernetes login failed: HTTP 400"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// The kubelet rotated the file: the next login reads the new one.
	srv.EnableKubernetes("kubernetes", "coffer", "other-jwt", transittest.TokenPolicy{TTL: time.Hour})
	if _, err := buildRing(t, c, nil); err != nil {
		t.Errorf("rotated token file: %v", err)
	}
}

func TestVaultAuthConfigErrors(t *testing.T) {
	isolateVaultEnv(t)
	const p = "secrets.encryption.providers.vault.v"
	for _, tt := range []struct {
		c    VaultConfig
		want string
	}{
		{VaultConfig{AuthMethod: "ldap"}, p + ".auth_method: must be token, approle or kubernetes"},
		{VaultConfig{AuthMethod: AuthAppRole, AppRole: AppRoleConfig{SecretID: "s"}}, p + ".approle: set exactly one of role_id and role_id_file"},
		{VaultConfig{AuthMethod: AuthAppRole, AppRole: AppRoleConfig{RoleID: "r", RoleIDFile: "/f", SecretID: "s"}}, p + ".approle: set exactly one of role_id and role_id_file"},
		{VaultConfig{AuthMethod: AuthAppRole, AppRole: AppRoleConfig{RoleID: "r"}}, p + ".approle: set exactly one of secret_id and secret_id_file"},
		{VaultConfig{AuthMethod: AuthKubernetes}, p + ".kubernetes.role: required with auth_method kubernetes"},
		{VaultConfig{Token: "t", MaxRetries: intp(-1)}, p + ".max_retries: must be between 0 and 10"},
		{VaultConfig{Token: "t", MaxRetries: intp(11)}, p + ".max_retries: must be between 0 and 10"},
		{VaultConfig{AuthMethod: AuthAppRole, AppRole: AppRoleConfig{RoleID: "r", SecretIDFile: "/nonexistent/sid"}},
			p + ": approle login failed: cannot read credentials"},
	} {
		tt.c.Address = "http://127.0.0.1:9"
		_, err := buildRing(t, tt.c, nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%+v: got %v, want %s", tt.c, err, tt.want)
		}
	}
}

func TestVaultAuthConfigRedaction(t *testing.T) {
	c := VaultConfig{Token: "tok-secret", AuthMethod: AuthAppRole, MaxRetries: intp(3),
		AppRole: AppRoleConfig{RoleID: "role", SecretID: "sid-secret"}}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("cfg", "c", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), b.String()} {
		assertNoLeak(t, "printed config", s, "tok-secret", "sid-secret")
		if !strings.Contains(s, "role") || !strings.Contains(s, "3") {
			t.Errorf("settings missing from %s", s)
		}
	}
}

// TestVaultLoginDuringOutage: once an AppRole token has expired while
// Vault is down, concurrent requests fail fast instead of each queueing
// for its own login; /health/ready says why; the next login after the
// outage restores service.
func TestVaultLoginDuringOutage(t *testing.T) {
	isolateVaultEnv(t)
	srv := transittest.New(t)
	srv.EnableAppRole("approle", "r", "s", transittest.TokenPolicy{TTL: time.Second})
	c := VaultConfig{Address: srv.URL, AuthMethod: AuthAppRole, AppRole: AppRoleConfig{RoleID: "r", SecretID: "s"}}
	kr, err := buildRing(t, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.FailWith(503)
	time.Sleep(1200 * time.Millisecond) // the token expires; re-logins fail
	before := srv.Requests()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := kr.Seal(t.Context(), "ws", "n", []byte(testValue))
			wantUnavailable(t, err)
		})
	}
	wg.Wait()
	if n := srv.Requests() - before; n > 9 {
		t.Errorf("%d Vault requests for 20 requests during the outage, want at most one login with its retries (+ background)", n)
	}
	if err := kr.Health(); err == nil || !strings.Contains(err.Error(), "logging in again (approle) fails") {
		t.Errorf("Health: %v", err)
	}
	srv.FailWith(0)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := kr.Seal(t.Context(), "ws", "n", []byte(testValue))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := kr.Health(); err != nil {
		t.Errorf("Health after recovery: %v", err)
	}
}

// TestVaultCloseEndsTokenMaintenance: closing the keyring (as the server
// does on shutdown) ends the provider's token-renewal goroutine, both while
// it waits for the next renewal and while a renewal is under way against a
// Vault that does not answer; Close returns only once it has ended.
func TestVaultCloseEndsTokenMaintenance(t *testing.T) {
	tests := []struct {
		name       string
		ttl        time.Duration
		midRenewal bool
	}{
		{"waiting for the next renewal", time.Hour, false},
		{"renewal under way", 1500 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateVaultEnv(t)
			srv := transittest.New(t)
			c := vaultConfig(srv)
			c.Token = srv.IssueToken(transittest.TokenPolicy{TTL: tt.ttl, MaxTTL: time.Hour, Renewable: true})
			p, err := buildVault("v", c, nil)
			if err != nil {
				t.Fatal(err)
			}
			v := p.(*Vault)
			kr, err := envelope.NewKeyring("v", p)
			if err != nil {
				t.Fatal(err)
			}
			if tt.midRenewal {
				srv.SetDelay(time.Minute) // the renewal at 2/3 of the TTL hangs
				before := srv.Requests()
				for deadline := time.Now().Add(10 * time.Second); srv.Requests() == before; {
					if time.Now().After(deadline) {
						t.Fatal("no renewal was attempted")
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			began := time.Now()
			if err := kr.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-v.Done():
			default:
				t.Fatal("Close returned while token maintenance was still running")
			}
			if d := time.Since(began); d > 5*time.Second {
				t.Errorf("Close took %v", d)
			}
			if err := v.Close(); err != nil { // a second Close is harmless
				t.Error(err)
			}
		})
	}
}
