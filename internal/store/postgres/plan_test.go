package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// TestQueryPlans pins the plans of the per-request statements on a
// workspace of 20,000 secrets, a fifth of them in the bin: each reaches
// its rows through the index meant for it, never by reading a whole table. A statement is explained
// as it runs in production, a prepared statement executed a few times
// first (PostgreSQL then settles on a generic plan or keeps planning each
// call), inside a transaction that is rolled back.
func TestQueryPlans(t *testing.T) {
	st := openFresh(t)
	mustCreate(t, st, "ws")
	fillSecrets(t, st, "ws", 20_000)
	_, err := st.pool.Exec(ctx, `UPDATE secrets SET deleted_id = 'bin-' || id, deleted_at = now(),
			purge_at = now() + id * interval '1 second'
		WHERE id % 5 = 0;
		ANALYZE secrets`)
	if err != nil {
		t.Fatal(err)
	}
	list := func(q secrets.SecretQuery) string {
		sql, _, err := secretListQuery("ws", q)
		if err != nil {
			t.Fatal(err)
		}
		return sql
	}
	bin, _, err := deletedListQuery("ws", secrets.DeletedQuery{})
	if err != nil {
		t.Fatal(err)
	}
	versions, _ := versionListQuery("ws", "f000000001", secrets.VersionQuery{})
	const (
		byName  = `'ws', 'f000000001'`
		sealed  = `'\x01', '\x02', 'k1', 2`
		listArg = `'ws', '', 10, 0`
	)
	tests := []struct {
		name, sql, args string
		want            []string // each in the plan
	}{
		{"GetSecret", qGetSecret, byName, []string{"secrets_live_name on secrets s", "secret_versions_pkey on secret_versions v"}},
		{"GetVersion", qGetVersion, byName + `, 1`, []string{"secrets_live_name", "secret_versions_pkey"}},
		{"lock", qLockLive, byName, []string{"secrets_live_name"}},
		{"UpdateSecret", qUpdateValue, byName + `, now(), NULL, NULL, ` + sealed, []string{"secrets_live_name"}},
		{"prune", qPrune, byName + `, 10`, []string{"secrets_live_name", "secret_versions_stored"}},
		{"ScanVersions", qScanVersions, `0, 0, 100`, []string{"secret_versions_stored", "secrets_pkey"}},
		{"GetStoredVersion", qGetStoredVersion, `1, 1`, []string{"secrets_pkey"}},
		{"list -created_at", list(secrets.SecretQuery{}), listArg, []string{"secrets_live_created"}},
		{"list created_at", list(secrets.SecretQuery{Sort: "created_at"}), listArg, []string{"secrets_live_created"}},
		{"list -updated_at", list(secrets.SecretQuery{Sort: "-updated_at"}), listArg, []string{"secrets_live_updated"}},
		{"list name", list(secrets.SecretQuery{Sort: "-name"}), listArg, []string{"secrets_live_name"}},
		{"list filter[name]", list(secrets.SecretQuery{Filter: secrets.Filter{Name: new("f000000002")}}),
			listArg + `, 'f000000002'`, []string{"secrets_live_name"}},
		{"list filter[name][$like] prefix", list(secrets.SecretQuery{Filter: secrets.Filter{NameLike: new("f00000001%")}}),
			listArg + `, 'f00000001%', 'F00000001', 'F00000002', 'f00000001', 'f00000002'`, []string{"secrets_live_name"}},
		{"ListVersions", versions, byName + `, 10, 0`, []string{"secrets_live_name", "secret_versions_pkey"}},
		{"ListDeleted", bin, `'ws', now(), 10, 0`, []string{"secrets_bin_"}}, // list, or purge for the visible ones
		{"GetDeleted", qGetDeleted, `'ws', 'bin-1', now()`, []string{"secrets_bin_id"}},
		{"PurgeExpired", qPickExpired, `now(), 100`, []string{"secrets_bin_purge"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := explainPrepared(t, st, fmt.Sprint("plan", i), tt.sql, tt.args)
			for _, w := range tt.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan lacks %q:\n%s", w, plan)
				}
			}
			if strings.Contains(plan, "Seq Scan on secret") {
				t.Errorf("plan reads a whole table:\n%s", plan)
			}
		})
	}
}

// explainPrepared prepares sql as name, executes it with args (SQL
// literals) six times and returns the plan of a seventh execution, all in
// a transaction it rolls back.
func explainPrepared(t *testing.T, st *Store, name, sql, args string) string {
	t.Helper()
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `PREPARE `+name+` AS `+sql); err != nil {
		t.Fatal(err)
	}
	execute := `EXECUTE ` + name + `(` + args + `)`
	for range 6 {
		if _, err := tx.Exec(ctx, execute); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, `EXPLAIN `+execute)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `DEALLOCATE `+name); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
