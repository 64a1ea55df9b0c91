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

// TestListNamePrefix: a name pattern with a literal prefix
// (prefixListQuery) gives the pages and totals the pattern's meaning says
// (secrets.Like: ASCII case folded, '\' escapes), with few candidates and
// with more than probeCap, and names of either case, escaped wildcards and
// the other allowed characters, in each sort and without an excluded name.
func TestListNamePrefix(t *testing.T) {
	st := openTemp(t)
	mustCreate(t, st, "ws")
	mustCreate(t, st, "other")
	var names []string
	for i := range probeCap + 200 {
		names = append(names, fmt.Sprintf("s%05d", i))
	}
	names = append(names, "S00012x", "Ab_c", "aB%c", "ab.c", "ab-c", "abc", "ABCD", "x_y", "x%y", "xay", "T{", "t~")
	for i, n := range names {
		if _, err := st.writer.Exec(`INSERT INTO secrets (workspace, name, created_at, updated_at, revision, current_version)
			VALUES ('ws', ?1, ?2, ?2, 1, 1)`, n, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.writer.Exec(`INSERT INTO secrets (workspace, name, created_at, updated_at, revision, current_version)
		VALUES ('other', 's00012', 1, 1, 1, 1)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pattern       string
		limit, offset int
		sort, exclude string
	}{
		{"s00012%", 10, 0, "", ""},
		{"s00012%", 4, 3, "name", ""},
		{"s0001%", 10, 2, "-name", ""},
		{"s0001%", 10, 95, "updated_at", ""},
		{"ab%", 10, 0, "-updated_at", "abc"},
		{"s0001%", 10, 0, "", "s00015"},
		{"s%", 10, 1100, "name", ""},
		{"S00012%", 10, 5, "", ""},
		{"s0001%", 7, 3, "", ""},
		{"s%", 10, 1100, "", ""}, // more than probeCap candidates
		{"s0%", 10, 0, "", ""},
		{"ab\\_c", 10, 0, "", ""},
		{"ab\\%c", 10, 0, "", ""},
		{"ab_c", 10, 0, "", ""},
		{"AB%", 10, 0, "", ""},
		{"abcd", 10, 0, "", ""},
		{"x\\%%", 10, 0, "", ""},
		{"x\\_y", 10, 0, "", ""},
		{"t%", 10, 0, "", ""},
		{"s00012", 10, 0, "", ""},
		{"zz%", 10, 0, "", ""},
		{"ab\\", 10, 0, "", ""},
	} {
		t.Run(c.pattern+" "+c.sort+" "+c.exclude, func(t *testing.T) {
			items, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Limit: c.limit, Offset: c.offset,
				Sort: c.sort, Exclude: c.exclude, Filter: secrets.Filter{NameLike: new(c.pattern)}})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(items))
			for i, it := range items {
				got[i] = it.Name
			}
			var all []string
			for i := len(names) - 1; i >= 0; i-- { // newest first: created_at and updated_at are i
				if secrets.Like(names[i], c.pattern) && names[i] != c.exclude {
					all = append(all, names[i])
				}
			}
			switch c.sort {
			case "name":
				slices.Sort(all)
			case "-name":
				slices.Sort(all)
				slices.Reverse(all)
			case "updated_at":
				slices.Reverse(all)
			}
			end := min(c.offset+c.limit, len(all))
			want := all[min(c.offset, end):end]
			if total != len(all) || !slices.Equal(got, want) {
				t.Errorf("total %d, page %v; want %d, %v", total, got, len(all), want)
			}
		})
	}
}
