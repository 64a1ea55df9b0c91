package storetest

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Lists of secrets and of the recycle bin take a sort and a filter
// (docs/lifecycle.md, list queries); the total counts the filtered set.
var listQueryTests = []test{
	{"ListSorts", testListSorts},
	{"ListFilters", testListFilters},
	{"ListFilterExcludeAndPages", testListFilterExcludeAndPages},
	{"ListUnknownSort", testListUnknownSort},
	{"BinListSorts", testBinListSorts},
	{"BinListFilters", testBinListFilters},
	{"BinListFilterPages", testBinListFilterPages},
}

// queryRow is a secret of the list query fixture: times are minutes after
// t0.
type queryRow struct {
	name                      string
	description               *string
	created, updated, deleted int
}

// queryRows tie on every time, so that each sort has ties broken by name;
// the names differ only in punctuation where byte order decides ('-' <
// '.' < '_' < letters), and the descriptions hold the LIKE wildcards and
// the escape character.
var queryRows = []queryRow{
	{"api-key", ptr("Primary API key"), 0, 5, 10},
	{"api_key", ptr("1000 underscore twin"), 1, 5, 12},
	{"apixkey", nil, 1, 3, 11},
	{"db-main", ptr("Database 100% ready"), 2, 2, 12},
	{"db.replica", ptr(`path C:\db\replica`), 2, 6, 10},
	{"web", ptr(""), 3, 3, 13},
	{"zeta", ptr("LAST one: api"), 3, 4, 11},
}

// queryOrders is every sort of queryRows.
var queryOrders = map[string][]string{
	"name":        {"api-key", "api_key", "apixkey", "db-main", "db.replica", "web", "zeta"},
	"-name":       {"zeta", "web", "db.replica", "db-main", "apixkey", "api_key", "api-key"},
	"created_at":  {"api-key", "api_key", "apixkey", "db-main", "db.replica", "web", "zeta"},
	"-created_at": {"web", "zeta", "db-main", "db.replica", "api_key", "apixkey", "api-key"},
	"updated_at":  {"db-main", "apixkey", "web", "zeta", "api-key", "api_key", "db.replica"},
	"-updated_at": {"db.replica", "api-key", "api_key", "zeta", "apixkey", "web", "db-main"},
	"deleted_at":  {"api-key", "db.replica", "apixkey", "zeta", "api_key", "db-main", "web"},
	"-deleted_at": {"web", "api_key", "db-main", "apixkey", "zeta", "api-key", "db.replica"},
}

func minutes(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

// queryFixture creates queryRows in "ws" with noise around them: the same
// names in another workspace, and an entry of ws's bin whose name and
// description would match most filters.
func queryFixture(t *testing.T, st secrets.Store) {
	t.Helper()
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateWorkspace(t, st, "other", t0)
	for _, row := range queryRows {
		for _, ws := range []string{"ws", "other"} {
			r := newRecord(ws, row.name, minutes(row.created))
			r.Description, r.UpdatedAt = row.description, minutes(row.updated)
			mustCreateRecord(t, st, r)
		}
	}
	binned := newRecord("ws", "api-binned", minutes(2))
	binned.Description = ptr("api key 100% _ \\ in the bin")
	mustBin(t, st, mustCreateRecord(t, st, binned), "bin-1", minutes(3))
}

// binQueryFixture puts queryRows into the bin of "ws", each deleted at its
// own time, with noise around them: live secrets of the same names, an
// expired entry and another workspace's bin. It returns the time to list
// at.
func binQueryFixture(t *testing.T, st secrets.Store) time.Time {
	t.Helper()
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateWorkspace(t, st, "other", t0)
	for _, row := range queryRows {
		for _, ws := range []string{"ws", "other"} {
			r := newRecord(ws, row.name, minutes(row.created))
			r.Description, r.UpdatedAt = row.description, minutes(row.updated)
			mustCreateRecord(t, st, r)
			if err := st.DeleteSecret(ctx, ws, row.name, binDelete("bin-"+ws+"-"+row.name, minutes(row.deleted), minutes(row.deleted).Add(retention))); err != nil {
				t.Fatalf("DeleteSecret(%s/%s) to the bin: %v", ws, row.name, err)
			}
		}
		mustCreateSecret(t, st, "ws", row.name, minutes(row.created))
	}
	expired := newRecord("ws", "api-expired", minutes(2))
	expired.Description = ptr("api key 100% _ \\ expired")
	mustCreateRecord(t, st, expired)
	wantErr(t, "DeleteSecret", st.DeleteSecret(ctx, "ws", "api-expired", binDelete("bin-expired", minutes(3), minutes(30))), nil)
	return minutes(30)
}

// filterCase is a filter and the names of queryRows it matches.
type filterCase struct {
	what string
	f    secrets.Filter
	want []string
}

var filterCases = []filterCase{
	{"none", secrets.Filter{}, queryOrders["name"]},

	{"name", secrets.Filter{Name: ptr("api_key")}, []string{"api_key"}},
	{"name is exact, not a pattern", secrets.Filter{Name: ptr("api%")}, nil},
	{"name is exact, not a prefix", secrets.Filter{Name: ptr("api")}, nil},
	{"name is exact in case", secrets.Filter{Name: ptr("WEB")}, nil},

	{"name like a prefix", secrets.Filter{NameLike: ptr("api%")}, []string{"api-key", "api_key", "apixkey"}},
	{"name like, another case", secrets.Filter{NameLike: ptr("API%")}, []string{"api-key", "api_key", "apixkey"}},
	{"name like with _", secrets.Filter{NameLike: ptr("api_key")}, []string{"api-key", "api_key", "apixkey"}},
	{"name like with \\_", secrets.Filter{NameLike: ptr(`api\_key`)}, []string{"api_key"}},
	{"name like a suffix", secrets.Filter{NameLike: ptr("%KEY")}, []string{"api-key", "api_key", "apixkey"}},
	{"name like inside", secrets.Filter{NameLike: ptr("%.%")}, []string{"db.replica"}},
	{"name like without wildcards", secrets.Filter{NameLike: ptr("Web")}, []string{"web"}},
	{"name like three characters", secrets.Filter{NameLike: ptr("___")}, []string{"web"}},
	{"name like everything", secrets.Filter{NameLike: ptr("%")}, queryOrders["name"]},
	{"name like nothing", secrets.Filter{NameLike: ptr("x%")}, nil},
	// A literal prefix narrows to ranges of the name index, one per case
	// variant of its first three letters (docs/performance.md, "The
	// filtered list page"); the pattern still decides.
	{"name like, a prefix in mixed case", secrets.Filter{NameLike: ptr("aPiX%")}, []string{"apixkey"}},
	{"name like, a prefix past three letters", secrets.Filter{NameLike: ptr("APIXK%")}, []string{"apixkey"}},
	{"name like, a prefix with punctuation", secrets.Filter{NameLike: ptr("DB.%")}, []string{"db.replica"}},
	{"name like, a prefix with another punctuation", secrets.Filter{NameLike: ptr("db-%")}, []string{"db-main"}},
	{"name like, a prefix with \\_", secrets.Filter{NameLike: ptr(`api\_%`)}, []string{"api_key"}},
	{"name like, a prefix with \\%", secrets.Filter{NameLike: ptr(`api\%%`)}, nil},
	{"name like, a prefix then _", secrets.Filter{NameLike: ptr("db_m%")}, []string{"db-main"}},
	{"name like, a whole name as prefix", secrets.Filter{NameLike: ptr("Zeta%")}, []string{"zeta"}},
	{"name like, a prefix between names", secrets.Filter{NameLike: ptr("c%")}, nil},
	{"name like, a prefix and a suffix", secrets.Filter{NameLike: ptr("a%Y")}, []string{"api-key", "api_key", "apixkey"}},

	{"description like anything", secrets.Filter{DescriptionLike: ptr("%")}, []string{"api-key", "api_key", "db-main", "db.replica", "web", "zeta"}},
	{"description like empty", secrets.Filter{DescriptionLike: ptr("")}, []string{"web"}},
	{"description like, another case", secrets.Filter{DescriptionLike: ptr("%primary api%")}, []string{"api-key"}},
	{"description like api", secrets.Filter{DescriptionLike: ptr("%API%")}, []string{"api-key", "zeta"}},
	{"description like with %", secrets.Filter{DescriptionLike: ptr("%100%")}, []string{"api_key", "db-main"}},
	{"description like with \\%", secrets.Filter{DescriptionLike: ptr(`%100\%%`)}, []string{"db-main"}},
	{"description like with \\\\", secrets.Filter{DescriptionLike: ptr(`%:\\db\\%`)}, []string{"db.replica"}},

	{"created from", secrets.Filter{CreatedFrom: ptr(minutes(2))}, []string{"db-main", "db.replica", "web", "zeta"}},
	{"created to", secrets.Filter{CreatedTo: ptr(minutes(1))}, []string{"api-key", "api_key", "apixkey"}},
	{"created at one time", secrets.Filter{CreatedFrom: ptr(minutes(2)), CreatedTo: ptr(minutes(2))}, []string{"db-main", "db.replica"}},
	{"created between instants", secrets.Filter{CreatedFrom: ptr(minutes(2).Add(time.Microsecond)), CreatedTo: ptr(minutes(3).Add(-time.Microsecond))}, nil},
	{"updated from", secrets.Filter{UpdatedFrom: ptr(minutes(5))}, []string{"api-key", "api_key", "db.replica"}},
	{"updated to", secrets.Filter{UpdatedTo: ptr(minutes(3))}, []string{"apixkey", "db-main", "web"}},
	{"updated from after to", secrets.Filter{UpdatedFrom: ptr(minutes(4)), UpdatedTo: ptr(minutes(3))}, nil},
	{"times in another zone", secrets.Filter{CreatedFrom: ptr(minutes(3).In(time.FixedZone("X", 3600)))}, []string{"web", "zeta"}},

	{"search", secrets.Filter{Search: "api"}, []string{"api-key", "api_key", "apixkey", "zeta"}},
	{"search, another case", secrets.Filter{Search: "API"}, []string{"api-key", "api_key", "apixkey", "zeta"}},
	{"search in descriptions", secrets.Filter{Search: "ready"}, []string{"db-main"}},
	{"search _ literally", secrets.Filter{Search: "_"}, []string{"api_key"}},
	{"search % literally", secrets.Filter{Search: "%"}, []string{"db-main"}},
	{"search \\ literally", secrets.Filter{Search: `\`}, []string{"db.replica"}},
	{"search 100% literally", secrets.Filter{Search: "100%"}, []string{"db-main"}},
	{"search across name and description", secrets.Filter{Search: "key primary"}, nil},
	{"search nothing", secrets.Filter{Search: "zzz"}, nil},

	{"name like and description like and created to", secrets.Filter{NameLike: ptr("api%"), DescriptionLike: ptr("%KEY%"), CreatedTo: ptr(t0)}, []string{"api-key"}},
	{"name like and updated from", secrets.Filter{NameLike: ptr("db%"), UpdatedFrom: ptr(minutes(3))}, []string{"db.replica"}},
	{"name and search", secrets.Filter{Name: ptr("zeta"), Search: "api"}, []string{"zeta"}},
	{"name and search, no match", secrets.Filter{Name: ptr("web"), Search: "api"}, nil},
	{"created from and updated to", secrets.Filter{CreatedFrom: ptr(minutes(1)), UpdatedTo: ptr(minutes(3))}, []string{"apixkey", "db-main", "web"}},
	{"search and description like", secrets.Filter{Search: "key", DescriptionLike: ptr("%twin")}, []string{"api_key"}},
}

// inOrder returns the names of set in the order of sort.
func inOrder(sort string, set []string) []string {
	var out []string
	for _, name := range queryOrders[sort] {
		if slices.Contains(set, name) {
			out = append(out, name)
		}
	}
	return out
}

func testListSorts(t *testing.T, st secrets.Store) {
	queryFixture(t, st)
	for _, sort := range append([]string{""}, secrets.SecretSorts...) {
		got, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Sort: sort, Limit: 100})
		wantErr(t, "ListSecrets sort "+sort, err, nil)
		want := queryOrders[sort]
		if sort == "" {
			want = queryOrders["-created_at"]
		}
		if g := names(got, secName); !slices.Equal(g, want) || total != len(want) {
			t.Errorf("sort %q: got %q total %d, want %q total %d", sort, g, total, want, len(want))
		}
	}
}

func testListFilters(t *testing.T, st secrets.Store) {
	queryFixture(t, st)
	for _, c := range filterCases {
		for _, sort := range secrets.SecretSorts {
			got, total, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Sort: sort, Limit: 100, Filter: c.f})
			wantErr(t, c.what+": ListSecrets", err, nil)
			want := inOrder(sort, c.want)
			if g := names(got, secName); !slices.Equal(g, want) || total != len(want) {
				t.Errorf("%s, sort %s: got %q total %d, want %q total %d", c.what, sort, g, total, want, len(want))
			}
		}
	}
}

func testListFilterExcludeAndPages(t *testing.T, st secrets.Store) {
	queryFixture(t, st)
	api := secrets.Filter{NameLike: ptr("api%")}
	for _, c := range []struct {
		what  string
		q     secrets.SecretQuery
		want  []string
		total int
	}{
		{"first page", secrets.SecretQuery{Limit: 2, Filter: api}, []string{"api_key", "apixkey"}, 3},
		{"last page", secrets.SecretQuery{Offset: 2, Limit: 2, Filter: api}, []string{"api-key"}, 3},
		{"after the last page", secrets.SecretQuery{Offset: 3, Limit: 2, Filter: api}, nil, 3},
		{"far after", secrets.SecretQuery{Offset: math.MaxInt, Limit: 2, Filter: api}, nil, 3},
		{"sorted by name", secrets.SecretQuery{Offset: 1, Limit: 1, Filter: api, Sort: "name"}, []string{"api_key"}, 3},
		{"excluding a match", secrets.SecretQuery{Limit: 10, Filter: api, Exclude: "apixkey"}, []string{"api_key", "api-key"}, 2},
		{"excluding a match, paged", secrets.SecretQuery{Offset: 1, Limit: 1, Filter: api, Exclude: "api_key"}, []string{"api-key"}, 2},
		{"excluding a secret that does not match", secrets.SecretQuery{Limit: 10, Filter: api, Exclude: "web"}, []string{"api_key", "apixkey", "api-key"}, 3},
		{"excluding the only match", secrets.SecretQuery{Limit: 10, Filter: secrets.Filter{Search: "ready"}, Exclude: "db-main"}, nil, 0},
	} {
		got, total, err := st.ListSecrets(ctx, "ws", c.q)
		wantErr(t, c.what+": ListSecrets", err, nil)
		if g := names(got, secName); !slices.Equal(g, c.want) || total != c.total {
			t.Errorf("%s: got %q total %d, want %q total %d", c.what, g, total, c.want, c.total)
		}
	}
	// The items of a filtered list are the secrets' metadata as GetSecret
	// answers it.
	got, _, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Limit: 10, Filter: secrets.Filter{Name: ptr("db.replica")}})
	wantErr(t, "ListSecrets", err, nil)
	sameList(t, "filtered item", showSecret, got, []secrets.Secret{mustGetSecret(t, st, "ws", "db.replica").Secret})
	_, _, err = st.ListSecrets(ctx, "missing", secrets.SecretQuery{Limit: 10, Filter: api})
	wantErr(t, "filtered ListSecrets of a missing workspace", err, secrets.ErrNoWorkspace)
}

// testListUnknownSort lists with sorts the store does not know: an error
// rather than some order (the service validates sorts first).
func testListUnknownSort(t *testing.T, st secrets.Store) {
	mustCreateWorkspace(t, st, "ws", t0)
	mustCreateSecret(t, st, "ws", "s", t0)
	for _, sort := range []string{"deleted_at", "-deleted_at", "description", "name; DROP TABLE secrets", "NAME"} {
		if _, _, err := st.ListSecrets(ctx, "ws", secrets.SecretQuery{Sort: sort, Limit: 10}); err == nil {
			t.Errorf("ListSecrets accepted the sort %q", sort)
		}
	}
	if _, _, err := st.ListDeleted(ctx, "ws", secrets.DeletedQuery{Sort: "description", Limit: 10, Now: t0}); err == nil {
		t.Error("ListDeleted accepted the sort \"description\"")
	}
}

// binNames is the names of bin entries.
func binNames(ds []secrets.Deleted) []string {
	return names(ds, func(d secrets.Deleted) string { return d.Name })
}

func testBinListSorts(t *testing.T, st secrets.Store) {
	now := binQueryFixture(t, st)
	for _, sort := range append(append([]string{""}, secrets.SecretSorts...), secrets.DeletedSorts...) {
		got, total, err := st.ListDeleted(ctx, "ws", secrets.DeletedQuery{Sort: sort, Limit: 100, Now: now})
		wantErr(t, "ListDeleted sort "+sort, err, nil)
		want := queryOrders[sort]
		if sort == "" {
			want = queryOrders["-deleted_at"]
		}
		if g := binNames(got); !slices.Equal(g, want) || total != len(want) {
			t.Errorf("sort %q: got %q total %d, want %q total %d", sort, g, total, want, len(want))
		}
	}
}

func testBinListFilters(t *testing.T, st secrets.Store) {
	now := binQueryFixture(t, st)
	for _, c := range filterCases {
		for _, sort := range append(slices.Clone(secrets.SecretSorts), secrets.DeletedSorts...) {
			got, total, err := st.ListDeleted(ctx, "ws", secrets.DeletedQuery{Sort: sort, Limit: 100, Now: now, Filter: c.f})
			wantErr(t, c.what+": ListDeleted", err, nil)
			want := inOrder(sort, c.want)
			if g := binNames(got); !slices.Equal(g, want) || total != len(want) {
				t.Errorf("%s, sort %s: got %q total %d, want %q total %d", c.what, sort, g, total, want, len(want))
			}
		}
	}
}

func testBinListFilterPages(t *testing.T, st secrets.Store) {
	now := binQueryFixture(t, st)
	api := secrets.Filter{Search: "api"} // api-key, api_key, apixkey, zeta
	for _, c := range []struct {
		q     secrets.DeletedQuery
		want  []string
		total int
	}{
		{secrets.DeletedQuery{Limit: 2, Filter: api}, []string{"api_key", "apixkey"}, 4},
		{secrets.DeletedQuery{Offset: 2, Limit: 2, Filter: api}, []string{"zeta", "api-key"}, 4},
		{secrets.DeletedQuery{Offset: 4, Limit: 2, Filter: api}, nil, 4},
		{secrets.DeletedQuery{Offset: 1, Limit: 2, Filter: api, Sort: "name"}, []string{"api_key", "apixkey"}, 4},
		// At the PurgeAt of the entries deleted at minute 10 (api-key among
		// them) only the later ones are visible and counted.
		{secrets.DeletedQuery{Limit: 10, Filter: api, Now: minutes(10).Add(retention)}, []string{"api_key", "apixkey", "zeta"}, 3},
	} {
		if c.q.Now.IsZero() {
			c.q.Now = now
		}
		got, total, err := st.ListDeleted(ctx, "ws", c.q)
		wantErr(t, "ListDeleted", err, nil)
		if g := binNames(got); !slices.Equal(g, c.want) || total != c.total {
			t.Errorf("%+v: got %q total %d, want %q total %d", c.q, g, total, c.want, c.total)
		}
	}
	_, _, err := st.ListDeleted(ctx, "missing", secrets.DeletedQuery{Limit: 10, Now: now, Filter: api})
	wantErr(t, "filtered ListDeleted of a missing workspace", err, secrets.ErrNoWorkspace)
}
