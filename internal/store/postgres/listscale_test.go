package postgres

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/postgres/pgtest"
)

// EnvListRows names the number of secrets TestListLargeWorkspace fills one
// workspace with; unset, the test skips (the fill takes a minute).
const EnvListRows = "COFFER_PG_LIST_ROWS"

// TestListLargeWorkspace measures a page of 10 with its total for the list
// query shapes docs/lifecycle.md accepts, on one workspace of
// $COFFER_PG_LIST_ROWS secrets, and fails a shape whose median is a second
// or more (the spec's bound). Run by hand:
//
//	COFFER_PG_LIST_ROWS=1000000 go test -run TestListLargeWorkspace -v -timeout 30m ./internal/store/postgres/
//
// Names are "svc-" and 12 hex digits (md5) then the row number, so a
// pattern of three hex digits such as %abc% matches about 0.25 % of them;
// every other secret has a description, also hex. Secrets are created one
// millisecond apart. Besides the elapsed time it logs the CPU time of the
// server process per query with parallel workers off, when the server is
// local: elapsed times on a busy machine say little on their own.
func TestListLargeWorkspace(t *testing.T) {
	rows, _ := strconv.Atoi(os.Getenv(EnvListRows))
	if rows <= 0 {
		t.Skipf("set %s to a number of secrets to measure list queries at that size", EnvListRows)
	}
	dsn := pgtest.NewDSN(t)
	st := openDSN(t, dsn)
	mustCreate(t, st, "big")
	start := time.Now()
	fillNamed(t, st, "big", rows)
	t.Logf("filled %d secrets in %v; load average %s", rows, time.Since(start).Round(time.Millisecond), loadAverage())
	serial, err := Open(ctx, dsn+"&max_parallel_workers_per_gather=0", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer serial.Close()
	var pid int
	if err := serial.pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}

	for _, c := range largeListCases(rows) {
		c.q.Limit = 10
		var times []time.Duration
		total := 0
		for range 5 {
			start := time.Now()
			_, n, err := st.ListSecrets(ctx, "big", c.q)
			if err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			times, total = append(times, time.Since(start)), n
		}
		slices.Sort(times)
		cpu := "-"
		if before, ok := backendCPU(pid); ok {
			for range 5 {
				if _, _, err := serial.ListSecrets(ctx, "big", c.q); err != nil {
					t.Fatalf("%s: %v", c.what, err)
				}
			}
			after, _ := backendCPU(pid)
			cpu = ((after - before) / 5).String()
		}
		t.Logf("%-42s total %7d: median %8v, best %8v; server CPU %s", c.what, total,
			times[2].Round(10*time.Microsecond), times[0].Round(10*time.Microsecond), cpu)
		if times[2] >= time.Second {
			t.Errorf("%s: median %v, want well under a second", c.what, times[2])
		}
	}
	t.Logf("load average %s", loadAverage())
}

// largeListCase is one query shape TestListLargeWorkspace measures.
type largeListCase struct {
	what string
	q    secrets.SecretQuery
}

// largeListCases are the shapes measured on rows secrets made by fillNamed.
func largeListCases(rows int) []largeListCase {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	from, to := base.Add(time.Duration(rows/2)*time.Millisecond), base.Add(time.Duration(rows/2+10_000)*time.Millisecond)
	str := func(s string) *string { return &s }
	like := func(p string) secrets.Filter { return secrets.Filter{NameLike: &p} }
	return []largeListCase{
		{"no filter", secrets.SecretQuery{}},
		{"no filter, offset 500", secrets.SecretQuery{Offset: 500}},
		{"sort=name", secrets.SecretQuery{Sort: "name"}},
		{"sort=-updated_at", secrets.SecretQuery{Sort: "-updated_at"}},
		{"filter[name][$like]=%abc%", secrets.SecretQuery{Filter: like("%abc%")}},
		{"filter[name][$like]=%abc%, sort=name", secrets.SecretQuery{Sort: "name", Filter: like("%abc%")}},
		{"filter[name][$like]=%ABC%", secrets.SecretQuery{Filter: like("%ABC%")}},
		{"filter[name][$like]=%xyz% (none)", secrets.SecretQuery{Filter: like("%xyz%")}},
		{"filter[name][$like]=svc-abc%", secrets.SecretQuery{Filter: like("svc-abc%")}},
		{"filter[name][$like]=svc-% (all)", secrets.SecretQuery{Filter: like("svc-%")}},
		{"filter[description][$like]=%abc%", secrets.SecretQuery{Filter: secrets.Filter{DescriptionLike: str("%abc%")}}},
		{"search=abc", secrets.SecretQuery{Filter: secrets.Filter{Search: "abc"}}},
		{"search=abc, sort=-updated_at", secrets.SecretQuery{Sort: "-updated_at", Filter: secrets.Filter{Search: "abc"}}},
		{"filter[name]=exact", secrets.SecretQuery{Filter: secrets.Filter{Name: str("svc-c4ca4238a0b9-1")}}},
		{"filter[created_at] 10 s window", secrets.SecretQuery{Filter: secrets.Filter{CreatedFrom: &from, CreatedTo: &to}}},
		{"filter[created_at] gte half", secrets.SecretQuery{Filter: secrets.Filter{CreatedFrom: &from}}},
	}
}

// backendCPU returns the CPU time the server process pid has used, if it
// runs on this machine (Linux /proc; clock ticks of 10 ms, so callers
// measure several queries).
func backendCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which may hold spaces: state is the
	// first, utime the 12th and stime the 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, false
	}
	user, err1 := strconv.ParseInt(f[11], 10, 64)
	sys, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(user+sys) * 10 * time.Millisecond, true
}

// loadAverage is the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// fillNamed inserts n secrets into ws with one statement, as described at
// TestListLargeWorkspace, then vacuums and analyses as autovacuum would
// soon after (the visibility map lets count(*) read the index alone).
func fillNamed(t *testing.T, st *Store, ws string, n int) {
	t.Helper()
	_, err := st.pool.Exec(ctx, `WITH s AS (INSERT INTO secrets (workspace, name, description, created_at,
				updated_at, revision, current_version)
			SELECT $1, 'svc-' || left(md5(i::text), 12) || '-' || i,
				CASE WHEN i % 2 = 0 THEN 'token ' || md5((i * 7)::text) END,
				timestamptz '2026-01-01 00:00:00+00' + i * interval '1 millisecond',
				timestamptz '2026-01-01 00:00:00+00' + i * interval '1 millisecond', 1, 1
			FROM generate_series(1, $2::int) AS i
			RETURNING id)
		INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_dek, provider, format_version, created_at)
		SELECT id, 1, '\x02'::bytea || sha256(id::text::bytea), '\x00'::bytea, 'k1', 2, now() FROM s`, ws, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"secrets", "secret_versions"} {
		if _, err := st.pool.Exec(ctx, `VACUUM (ANALYZE) `+table); err != nil {
			t.Fatal(err)
		}
	}
}
