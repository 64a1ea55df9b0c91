package httpapi

import (
	"net/url"
	"slices"
	"testing"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// FuzzListQuery feeds arbitrary query strings through the list query parser
// of the secrets and recycle-bin lists (docs/lifecycle.md, list queries).
// Whatever the query: no panic, and either it is refused with validation
// items or the options are within the documented bounds (page from 1,
// page_size 1 to 1000, a sort the list accepts).
func FuzzListQuery(f *testing.F) {
	for _, q := range []string{
		"", "page=2&page_size=50", "sort=-name", "sort=bogus", "page=0", "page_size=1001", "page=9223372036854775807",
		"filter[name][$like]=hf-%25", "filter[name]=x&filter[description][$like]=a%5C", "filter[created_at][$gte]=2026-01-01T00:00:00Z",
		"filter[created_at][$lt]=yesterday", "filter[nope]=1", "filter[name][$regex]=.*", "search=token", "filter=1", "filter[]=",
		"filter[name][$like]=%5C", "page=+3", "page= 4 ", "page_size=-1&page=abc",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // net/http answers such a query before any handler runs
		}
		for _, l := range []struct {
			sorts []string
			def   string
		}{{secrets.SecretSorts, "-created_at"}, {deletedSorts, "-deleted_at"}} {
			var is items
			o := listOptions(q, l.sorts, l.def, &is)
			if len(is) > 0 {
				continue
			}
			if o.Page < 1 || o.PageSize < 1 || o.PageSize > 1000 || !slices.Contains(l.sorts, o.Sort) {
				t.Fatalf("%q: accepted page %d, page_size %d, sort %q", raw, o.Page, o.PageSize, o.Sort)
			}
		}
	})
}
