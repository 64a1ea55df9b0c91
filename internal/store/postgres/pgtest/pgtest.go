// Package pgtest gives each test its own empty PostgreSQL schema, so tests
// that share one server never see each other's rows and can run in parallel.
//
// The server is named by COFFER_TEST_POSTGRES_DSN (default DefaultDSN). When
// it cannot be reached, tests skip, or fail if COFFER_REQUIRE_POSTGRES=1 (CI
// sets it so that a broken database cannot turn the PostgreSQL tests green
// by skipping them).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by NewDSN.
const (
	EnvDSN     = "COFFER_TEST_POSTGRES_DSN"
	EnvRequire = "COFFER_REQUIRE_POSTGRES"
)

// DefaultDSN is the server used when EnvDSN is unset: a local PostgreSQL
// with trust authentication and a database named test.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// NewDSN creates a uniquely named schema, drops it (with everything in it)
// when t ends, and returns a DSN whose search_path is that schema.
func NewDSN(t testing.TB) string {
	t.Helper()
	base := BaseDSN()
	schema := "coffer_test_" + randomHex(8)
	if err := exec(base, `CREATE SCHEMA `+schema); err != nil {
		unreachable(t, base, err)
		return "" // only reached with a fake testing.TB
	}
	t.Cleanup(func() {
		if err := exec(base, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(base, schema)
}

// BaseDSN returns the DSN of the test server.
func BaseDSN() string {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// WithSearchPath returns dsn with its search_path set to schema; pgx sends
// unknown DSN parameters as run-time parameters at connection start, so
// every pooled connection gets it. dsn may be a URL or keyword/value pairs.
func WithSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

// unreachable skips or fails t, naming the server without its password.
func unreachable(t testing.TB, dsn string, err error) {
	t.Helper()
	where := redact(dsn)
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("pgtest: PostgreSQL at %s is required (%s=1) but unusable: %v", where, EnvRequire, err)
		return
	}
	t.Skipf("pgtest: skipping, PostgreSQL at %s is unusable (%v); set %s to a reachable server, "+
		"or %s=1 to fail instead of skipping", where, err, EnvDSN, EnvRequire)
}

// redact describes dsn as user@host:port/database.
func redact(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "(unparsable " + EnvDSN + ")"
	}
	return cfg.User + "@" + cfg.Host + ":" + strconv.Itoa(int(cfg.Port)) + "/" + cfg.Database
}

// exec runs one statement on a short-lived connection.
func exec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
