package httpapi

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

func TestListOptions(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	str := func(s string) *string { return &s }
	tests := []struct {
		query string
		want  secrets.ListOptions
	}{
		{"", secrets.ListOptions{Page: 1, PageSize: 10, Sort: "-created_at"}},
		{"sort=name&page=2&page_size=5", secrets.ListOptions{Page: 2, PageSize: 5, Sort: "name"}},
		{"sort=-updated_at&sort=updated_at", secrets.ListOptions{Page: 1, PageSize: 10, Sort: "updated_at"}},
		{"filter[name]=hf", secrets.ListOptions{Page: 1, PageSize: 10, Sort: "-created_at",
			Filter: secrets.Filter{Name: str("hf")}}},
		{"filter[name][$like]=hf-%25&filter[description][$like]=%25face%25", secrets.ListOptions{Page: 1, PageSize: 10,
			Sort: "-created_at", Filter: secrets.Filter{NameLike: str("hf-%"), DescriptionLike: str("%face%")}}},
		{"filter[created_at][gte]=2026-11-01T00:00:00Z&filter[updated_at][$lte]=2026-11-01T01:00:00%2B01:00",
			secrets.ListOptions{Page: 1, PageSize: 10, Sort: "-created_at",
				Filter: secrets.Filter{CreatedFrom: &at, UpdatedTo: &at}}},
		{`filter[name][$like]=a%5C%5C`, secrets.ListOptions{Page: 1, PageSize: 10, Sort: "-created_at",
			Filter: secrets.Filter{NameLike: str(`a\\`)}}},
		{"search=Hugging%20Face&other=ignored", secrets.ListOptions{Page: 1, PageSize: 10, Sort: "-created_at",
			Filter: secrets.Filter{Search: "Hugging Face"}}},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		var is items
		got := listOptions(q, secrets.SecretSorts, "-created_at", &is)
		if len(is) > 0 {
			t.Errorf("%s: items %+v", tt.query, is)
			continue
		}
		if g, w := show(t, got), show(t, tt.want); g != w {
			t.Errorf("%s:\n got %s\nwant %s", tt.query, g, w)
		}
	}
}

func TestListOptionsRefused(t *testing.T) {
	tests := []struct {
		query string
		loc   []any
	}{
		{"sort=size", []any{"query", "sort"}},
		{"sort=-deleted_at", []any{"query", "sort"}},
		{"filter[created_at][gte]=yesterday", []any{"query", "filter", "created_at", "gte"}},
		{"filter[updated_at][lte]=2026-13-01T00:00:00Z", []any{"query", "filter", "updated_at", "lte"}},
		{"filter[owner]=me", []any{"query", "filter", "owner"}},
		{"filter[name][$regex]=x", []any{"query", "filter", "name", "$regex"}},
		{"filter[name", []any{"query", "filter"}},
		{`filter[name][$like]=ab%5C`, []any{"query", "filter", "name", "$like"}},
		{`filter[description][$like]=%5C%5C%5C`, []any{"query", "filter", "description", "$like"}},
		{"page_size=1001", []any{"query", "page_size"}},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		var is items
		listOptions(q, secrets.SecretSorts, "-created_at", &is)
		if len(is) != 1 {
			t.Errorf("%s: %d items, want 1", tt.query, len(is))
			continue
		}
		if g, w := show(t, is[0].Loc), show(t, tt.loc); g != w {
			t.Errorf("%s: loc %s, want %s", tt.query, g, w)
		}
	}
}

func show(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVersionFilters(t *testing.T) {
	q, _ := url.ParseQuery("filter[created_at][gte]=2026-11-01T00:00:00Z&filter[name]=x")
	var is items
	f := queryFilter(q, versionFilterKeys, &is)
	if f.CreatedFrom == nil || f.Name != nil {
		t.Errorf("filter %+v: want only the creation bound", f)
	}
	if len(is) != 1 || show(t, is[0].Loc) != `["query","filter","name"]` {
		t.Fatalf("items %+v, want one at filter.name", is)
	}
	const want = `Unknown filter "filter[name]"; accepted: filter[created_at][gte|lte]`
	if is[0].Msg != want {
		t.Errorf("message %q, want %q", is[0].Msg, want)
	}
}
