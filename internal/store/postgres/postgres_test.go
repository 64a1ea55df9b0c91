package postgres

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
	"github.com/coffer-dev/coffer/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) secrets.Store { return openFresh(t) })
}

// openFresh opens a store on a new schema, closed when t ends.
func openFresh(t *testing.T) *Store {
	t.Helper()
	return openDSN(t, pgtest.NewDSN(t))
}

// openDSN opens a store on dsn, closed when t ends.
func openDSN(t *testing.T, dsn string) *Store {
	t.Helper()
	st, err := Open(context.Background(), dsn, 4, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
