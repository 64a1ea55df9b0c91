package sqlite

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// TestQueryPlans pins the plans of the queries whose cost must not grow
// with the data: SQLite plans without statistics here, and a partial index
// is used only when a query repeats its WHERE, so a changed statement or
// index can silently fall back to scanning a workspace or a history.
func TestQueryPlans(t *testing.T) {
	st := openTemp(t)
	list := func(q secrets.SecretQuery) string {
		s, _, err := secretListQuery("ws", q)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	bin, _, err := deletedListQuery("ws", secrets.DeletedQuery{})
	if err != nil {
		t.Fatal(err)
	}
	versions, _ := versionListQuery("ws", "s", secrets.VersionQuery{CreatedFrom: new(time.Now())})
	tests := []struct {
		name, sql string
		want      []string // each in the plan
	}{
		{"GetSecret", getSecretSQL, []string{
			"SEARCH s USING INDEX secrets_live_name (workspace=? AND name=?)",
			"SEARCH v USING INTEGER PRIMARY KEY (rowid=?)"}},
		{"prune", pruneSQL, []string{
			"SEARCH secret_versions USING INDEX sqlite_autoindex_secret_versions_1 (secret_id=? AND version>? AND version<?)"}},
		{"ScanVersions", scanVersionsSQL, []string{"SEARCH v USING INDEX sqlite_autoindex_secret_versions_1 ((secret_id,version)>(?,?))"}},
		{"list -created_at", list(secrets.SecretQuery{}), []string{"SEARCH secrets USING INDEX secrets_live_created (workspace=?)"}},
		{"list -updated_at", list(secrets.SecretQuery{Sort: "-updated_at"}), []string{"SEARCH secrets USING INDEX secrets_live_updated (workspace=?)"}},
		{"list name", list(secrets.SecretQuery{Sort: "name"}), []string{"SEARCH secrets USING INDEX secrets_live_name (workspace=?)"}},
		{"list filter[name]", list(secrets.SecretQuery{Filter: secrets.Filter{Name: new("x")}}),
			[]string{"SEARCH secrets USING INDEX secrets_live_name (workspace=? AND name=?)"}},
		{"ListVersions", versions, []string{"SEARCH secret_versions USING INDEX sqlite_autoindex_secret_versions_1 (secret_id=?)"}},
		{"ListDeleted", bin, []string{"SEARCH secrets USING INDEX secrets_bin (workspace=?)"}},
		{"RestoreDeleted", `SELECT id FROM secrets WHERE workspace = ?1 AND deleted_id = ?2 AND purge_at > ?3`,
			[]string{"SEARCH secrets USING INDEX secrets_bin_id (deleted_id=?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := explain(t, st, tt.sql)
			for _, w := range tt.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan lacks %q:\n%s", w, plan)
				}
			}
			// A sort of the rows found is fine when it orders only the ties
			// of an index's order ("FOR LAST TERM OF ORDER BY").
			for _, bad := range []string{"SCAN secrets", "SCAN s\n", "SCAN v\n", "SCAN secret_versions", "TEMP B-TREE FOR ORDER BY"} {
				if strings.Contains(plan+"\n", bad) {
					t.Errorf("plan has %q:\n%s", strings.TrimSpace(bad), plan)
				}
			}
		})
	}
}

// explain returns the plan of query, one step per line.
func explain(t *testing.T, st *Store, query string) string {
	t.Helper()
	params := strings.Count(query, "?") // at least the highest ?N
	args := make([]any, 0, params)
	for i := range params {
		args = append(args, i)
	}
	for ; len(args) > 0; args = args[:len(args)-1] {
		rows, err := st.reader.Query("EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			continue // fewer distinct parameters than ? marks
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			b.WriteString(detail + "\n")
		}
		return b.String()
	}
	t.Fatalf("cannot explain %s", query)
	return ""
}

// TestPrefixListPlan: a name pattern with a literal prefix reads its
// matches from ranges of the (workspace, name) index (one per case variant
// of the prefix), twice: once for the page's sort keys and once, on the
// index entries alone, for the total; it looks up by rowid only the rows of
// the page. Nothing walks the whole workspace, however many candidates the
// ranges hold. Its page sorts what it found, which TestQueryPlans forbids
// for the other shapes. (The shape before had one rowid lookup per
// candidate for the total too, and a fallback past probeCap candidates
// that walked the workspace: docs/performance.md, "The filtered list page".)
func TestPrefixListPlan(t *testing.T) {
	st := openTemp(t)
	tests := []struct {
		pattern string
		sort    string
		ranges  int
	}{
		{"s0001%", "", 2},
		{"0001%", "", 1},
		{"ab_%", "", 4},
		{"abcdef%", "", 8}, // three letters at most: 8 ranges
		{"s0001%", "name", 2},
		{"s0001%", "-updated_at", 2},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.sort, func(t *testing.T) {
			sql, _, err := secretListQuery("ws", secrets.SecretQuery{Sort: tt.sort, Filter: secrets.Filter{NameLike: new(tt.pattern)}})
			if err != nil {
				t.Fatal(err)
			}
			plan := explain(t, st, sql)
			rng := "SEARCH secrets USING INDEX secrets_live_name (workspace=? AND name>? AND name<?)"
			if n := strings.Count(plan, rng); n != 2*tt.ranges {
				t.Errorf("%d range scans, want %d (page and total):\n%s", n, 2*tt.ranges, plan)
			}
			if n := strings.Count(plan, "SEARCH secrets USING INTEGER PRIMARY KEY (rowid=?)"); n != 1 {
				t.Errorf("%d rowid lookups, want 1 (the page's rows):\n%s", n, plan)
			}
			for _, bad := range []string{"(workspace=?)\n", "SCAN secrets"} {
				if strings.Contains(plan, bad) {
					t.Errorf("plan has %q:\n%s", strings.TrimSpace(bad), plan)
				}
			}
		})
	}
}

// TestLikePatternNotBare: no list statement has a bare parameter right of a
// LIKE. SQLite reads such a parameter's value while planning and marks the
// statement to be prepared again each time it is bound, so every filtered
// page would parse and plan its statement anew (filterTerms).
func TestLikePatternNotBare(t *testing.T) {
	bare := regexp.MustCompile(`LIKE \?`)
	f := secrets.Filter{NameLike: new("ab%"), DescriptionLike: new("%x%"), Search: "y"}
	for _, q := range []secrets.SecretQuery{
		{Filter: f},
		{Filter: secrets.Filter{NameLike: new("s0001%")}},
		{Filter: secrets.Filter{Search: "y"}},
	} {
		sql, _, err := secretListQuery("ws", q)
		if err != nil {
			t.Fatal(err)
		}
		if bare.MatchString(sql) {
			t.Errorf("%+v: a LIKE has a bare parameter:\n%s", q.Filter, sql)
		}
	}
	sql, _, err := deletedListQuery("ws", secrets.DeletedQuery{Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	if bare.MatchString(sql) {
		t.Errorf("bin: a LIKE has a bare parameter:\n%s", sql)
	}
}

// TestCreateSeeksLastVersionRow: the create's max(id) of secret_versions
// must be SQLite's seek to the table's last entry, not a scan of every
// version. EXPLAIN QUERY PLAN says "SEARCH" for both, so the opcodes are
// checked: the seek opens the table and jumps to its end (Last); the scan
// would start at its beginning (Rewind) and visit every row.
func TestCreateSeeksLastVersionRow(t *testing.T) {
	st := openTemp(t)
	rows, err := st.writer.Query("EXPLAIN "+createSecretSQL, 1, 2, 3, 4, 5, 6, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ops []string
	for rows.Next() {
		var addr, p1, p2, p3 int
		var op string
		var p4, p5, comment any
		if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	if prog := strings.Join(ops, " "); !strings.Contains(prog, "OpenRead Last Rowid") {
		t.Errorf("createSecretSQL does not seek the last version row:\n%s", prog)
	}
}
