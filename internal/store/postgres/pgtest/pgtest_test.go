package pgtest

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Cleanup(func())               {}
func (r *recorder) Skipf(f string, args ...any)  { r.skipped = fmt.Sprintf(f, args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.failed = fmt.Sprintf(f, args...) }

func TestUnreachableServer(t *testing.T) {
	t.Setenv(EnvDSN, "postgres://postgres:hunter2@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	for _, require := range []string{"", "1"} {
		t.Setenv(EnvRequire, require)
		r := &recorder{TB: t}
		if dsn := NewDSN(r); dsn != "" {
			t.Errorf("require=%q: DSN %q, want none", require, dsn)
		}
		msg, other := r.skipped, r.failed
		if require == "1" {
			msg, other = r.failed, r.skipped
		}
		if msg == "" || other != "" || !strings.Contains(msg, "127.0.0.1:1/test") || strings.Contains(msg, "hunter2") {
			t.Errorf("require=%q: skipped %q, failed %q", require, r.skipped, r.failed)
		}
		if require == "" && !strings.Contains(msg, EnvDSN) {
			t.Errorf("skip message %q does not name %s", msg, EnvDSN)
		}
	}
}

func TestWithSearchPath(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u@h:5432/db?sslmode=disable": "postgres://u@h:5432/db?search_path=s1&sslmode=disable",
		"postgresql://u@h/db":                    "postgresql://u@h/db?search_path=s1",
		"host=h user=u dbname=db":                "host=h user=u dbname=db search_path=s1",
	} {
		if got := WithSearchPath(in, "s1"); got != want {
			t.Errorf("WithSearchPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewDSNIsolates(t *testing.T) {
	a, b := NewDSN(t), NewDSN(t)
	if a == b {
		t.Fatalf("two calls returned the same DSN %q", a)
	}
	if err := exec(a, `CREATE TABLE t (x int)`); err != nil {
		t.Fatal(err)
	}
	if err := exec(b, `CREATE TABLE t (x int)`); err != nil {
		t.Fatalf("a table of one schema is visible in the other: %v", err)
	}
}
