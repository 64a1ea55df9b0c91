package sqlite

import (
	"fmt"
	"slices"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// TestListScanBranches: a list filtered on the description is answered
// from the matches one scan collects when there are at most probeCap of
// them, and by an index walk and a second scan when there are more
// (probedListQuery). The conformance suite's workspaces are small, so only
// this test reaches the second branch; both must give the same pages and
// totals as the plain shape.
func TestListScanBranches(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")
	const n = 2 * probeCap
	// Secret i has created_at n-i; two in three have "hit" in their
	// description, more than probeCap.
	_, err := st.writer.Exec(`WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
		INSERT INTO secrets (workspace, name, description, created_at, updated_at, revision, current_version)
		SELECT 'ws', printf('s%05d', i), CASE WHEN i % 3 <> 0 THEN 'a HIT here' ELSE 'other' END, ?1 - i, ?1 - i, 1, 1
		FROM seq`, n)
	if err != nil {
		t.Fatal(err)
	}
	want := func(match func(i int) bool, limit, offset int) ([]string, int) {
		var all []string
		for i := 1; i <= n; i++ { // newest first: created_at n-i
			if match(i) {
				all = append(all, fmt.Sprintf("s%05d", i))
			}
		}
		end := min(offset+limit, len(all))
		return all[min(offset, end):end], len(all)
	}
	for _, c := range []struct {
		name          string
		filter        secrets.Filter
		match         func(i int) bool
		limit, offset int
	}{
		{"few matches", secrets.Filter{Search: "s0012"}, func(i int) bool { return i/10 == 12 }, 5, 2},
		{"many matches", secrets.Filter{Search: "hit"}, func(i int) bool { return i%3 != 0 }, 10, 400},
		{"many matches, description", secrets.Filter{DescriptionLike: new("%hit%")}, func(i int) bool { return i%3 != 0 }, 7, 0},
		{"just under probeCap", secrets.Filter{Search: "s00"}, func(i int) bool { return i < 1000 }, 10, 990},
		{"all match", secrets.Filter{DescriptionLike: new("%")}, func(int) bool { return true }, 10, n - 5},
		{"none", secrets.Filter{Search: "nowhere"}, func(int) bool { return false }, 10, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			items, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Limit: c.limit, Offset: c.offset, Filter: c.filter})
			if err != nil {
				t.Fatal(err)
			}
			names := make([]string, len(items))
			for i, it := range items {
				names[i] = it.Name
			}
			wantNames, wantTotal := want(c.match, c.limit, c.offset)
			if total != wantTotal || !slices.Equal(names, wantNames) {
				t.Errorf("total %d, page %v; want %d, %v", total, names, wantTotal, wantNames)
			}
		})
	}
}
