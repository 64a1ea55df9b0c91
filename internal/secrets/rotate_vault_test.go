package secrets_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/keys"
	"github.com/coffer-dev/coffer/internal/keys/transittest"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/sqlite"
)

// transit returns a vault provider on the Transit test double (Vault and
// OpenBao cannot run on the CI machines; the double speaks the same API with
// real AES-GCM and key versions).
func transit(t *testing.T, srv *transittest.Server) *keys.Vault {
	t.Helper()
	v, err := keys.NewVault("vault", keys.VaultConfig{Address: srv.URL, Token: srv.Token(), TimeoutSeconds: 2}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRotationSecretKeyVaultRoundTrip moves every value from a secret_key
// provider to Vault Transit and back, with values intact, and reports a
// record whose provider is gone while the rest rotate.
func TestRotationSecretKeyVaultRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := transittest.New(t)
	local, gone, vault := key(t, "local", 1), key(t, "gone", 50), transit(t, srv)
	service := func(current string, ps ...envelope.Provider) *secrets.Service {
		ring, err := envelope.NewKeyring(current, ps...)
		if err != nil {
			t.Fatal(err)
		}
		return secrets.NewService(st, ring, secrets.Config{Logger: quiet, RotationBatchSize: 7})
	}
	svc := service("local", local, gone)
	if err := svc.EnsureBuiltins(ctx); err != nil {
		t.Fatal(err)
	}
	createMany(t, svc, 40)
	// One secret on a provider that will be removed.
	orphanSvc := service("gone", gone)
	if _, err := orphanSvc.CreateSecret(ctx, "default", secrets.NewSecret{Name: "orphan", Value: "x"}, nil); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		svc              *secrets.Service
		rotated, skipped int
		failed           int
	}{
		{service("vault", local, vault), 40, 0, 1},
		{service("vault", local, vault), 0, 40, 1},
		{service("local", local, vault), 40, 0, 1},
	}
	for i, step := range steps {
		res, err := step.svc.RotateKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rotated != step.rotated || res.Skipped != step.skipped || res.FailedCount != step.failed ||
			len(res.Failed) != 1 || res.Failed[0] != (secrets.RotationFailure{Workspace: "default", Name: "orphan", Version: 1, Error: "provider 'gone' is not configured"}) {
			t.Errorf("step %d: %+v", i, res)
		}
		for j := range 40 {
			got, _, err := step.svc.AccessSecret(ctx, "default", fmt.Sprintf("s%d", j), 0)
			if err != nil || got != fmt.Sprintf("v%d", j) {
				t.Fatalf("step %d: s%d = %q, %v", i, j, got, err)
			}
		}
	}
	if srv.Requests() == 0 {
		t.Error("the Transit server was never called")
	}
}

// TestVaultOutageRecovers: while Transit is down, create and access fail with
// the fixed texts; when it returns they work again without a restart.
func TestVaultOutageRecovers(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := transittest.New(t)
	ring, err := envelope.NewKeyring("vault", transit(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	svc := secrets.NewService(st, ring, secrets.Config{Logger: quiet})
	svc.EnsureBuiltins(ctx)
	if _, err := svc.CreateSecret(ctx, "default", secrets.NewSecret{Name: "a1", Value: "v"}, nil); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	_, err = svc.CreateSecret(ctx, "default", secrets.NewSecret{Name: "b1", Value: "v"}, nil)
	if err == nil || err.(*secrets.Error).Detail != secrets.MsgCreateFailed {
		t.Errorf("create during outage: %v", err)
	}
	_, _, err = svc.AccessSecret(ctx, "default", "a1", 0)
	if err == nil || err.(*secrets.Error).Detail != secrets.MsgRetrieveFailed {
		t.Errorf("access during outage: %v", err)
	}
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _, err := svc.AccessSecret(ctx, "default", "a1", 0)
		if err == nil && v == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access after recovery: %q, %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
