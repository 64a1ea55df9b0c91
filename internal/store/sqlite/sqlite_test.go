package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) secrets.Store { return openTemp(t) })
}

// openTemp opens a store on a new file that is closed when t ends.
func openTemp(t *testing.T) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "coffer.db"))
}

// openAt opens the store at path, closed when t ends.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	st, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}
