package httpapi

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// List queries in the NeMo Platform's conventions (docs/lifecycle.md, list
// queries): sort=[-]field, a deepObject filter (filter[name][$like]=...)
// and search=. Unknown query parameters are ignored as everywhere else;
// an unknown filter field is refused, so a typo never silently lists
// everything.

// listOptions reads page, page_size, sort, filter and search. sorts are the
// accepted sort values, def the default.
func listOptions(q url.Values, sorts []string, def string, is *items) secrets.ListOptions {
	o := secrets.ListOptions{
		Page:     queryInt(q, "page", 1, 0, is),
		PageSize: queryInt(q, "page_size", 10, 1000, is),
		Sort:     querySort(q, sorts, def, is),
		Filter:   queryFilter(q, filterKeys, is),
	}
	if vs := q["search"]; len(vs) > 0 {
		o.Filter.Search = vs[len(vs)-1]
	}
	return o
}

// querySort returns the last sort value, or def; anything but one of sorts
// is an enum item like the workspace list's.
func querySort(q url.Values, sorts []string, def string, is *items) string {
	vs := q["sort"]
	if len(vs) == 0 {
		return def
	}
	sort := vs[len(vs)-1]
	if !slices.Contains(sorts, sort) {
		quoted := make([]string, len(sorts))
		for i, s := range sorts {
			quoted[i] = "'" + s + "'"
		}
		msg := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
		is.add(&item{Type: "enum", Loc: []any{"query", "sort"}, Input: rawString(sort),
			Msg: "Input should be " + msg, Ctx: map[string]string{"expected": msg}})
		return def
	}
	return sort
}

// filterKey is one accepted filter[...] parameter and where it goes.
type filterKey struct {
	field, op string // filter[field][op]; op "" for filter[field]
	text      func(f *secrets.Filter) **string
	time      func(f *secrets.Filter) **time.Time
}

// filterKeys are the filters of secret and recycle-bin lists.
var filterKeys = []filterKey{
	{field: "name", text: func(f *secrets.Filter) **string { return &f.Name }},
	{field: "name", op: "$like", text: func(f *secrets.Filter) **string { return &f.NameLike }},
	{field: "description", op: "$like", text: func(f *secrets.Filter) **string { return &f.DescriptionLike }},
	{field: "created_at", op: "gte", time: func(f *secrets.Filter) **time.Time { return &f.CreatedFrom }},
	{field: "created_at", op: "lte", time: func(f *secrets.Filter) **time.Time { return &f.CreatedTo }},
	{field: "updated_at", op: "gte", time: func(f *secrets.Filter) **time.Time { return &f.UpdatedFrom }},
	{field: "updated_at", op: "lte", time: func(f *secrets.Filter) **time.Time { return &f.UpdatedTo }},
}

// versionFilterKeys are the filters of a version list: a version has only
// its creation time.
var versionFilterKeys = filterKeys[3:5]

// queryFilter reads every filter[...] parameter; keys are those accepted.
// The operators gte and lte are also accepted as $gte and $lte. Keys are
// read in sorted order, so the same request always lists its 422 items in
// the same order.
func queryFilter(q url.Values, keys []filterKey, is *items) secrets.Filter {
	var f secrets.Filter
	if !hasFilter(q) { // the common list: no key slice to sort
		return f
	}
	for _, key := range slices.Sorted(maps.Keys(q)) {
		if !strings.HasPrefix(key, "filter[") {
			continue
		}
		vs := q[key]
		field, op, ok := parseFilterKey(key)
		loc := []any{"query", "filter"}
		if ok {
			loc = append(loc, field)
			if op != "" {
				loc = append(loc, op)
			}
		}
		k, found := lookupFilterKey(keys, field, strings.Replace(op, "$", "", 1), op)
		if !ok || !found {
			is.add(&item{Type: "extra_forbidden", Loc: loc, Input: rawString(vs[len(vs)-1]),
				Msg: "Unknown filter " + strconv.Quote(key) + "; accepted: " + acceptedFilters(keys)})
			continue
		}
		setFilter(&f, k, vs[len(vs)-1], loc, is)
	}
	return f
}

// hasFilter reports whether q has a filter[...] parameter.
func hasFilter(q url.Values) bool {
	for key := range q {
		if strings.HasPrefix(key, "filter[") {
			return true
		}
	}
	return false
}

// parseFilterKey splits filter[field] or filter[field][op].
func parseFilterKey(key string) (field, op string, ok bool) {
	rest := strings.TrimPrefix(key, "filter[")
	field, rest, ok = strings.Cut(rest, "]")
	if !ok || field == "" {
		return "", "", false
	}
	if rest == "" {
		return field, "", true
	}
	if !strings.HasPrefix(rest, "[") || !strings.HasSuffix(rest, "]") || len(rest) < 3 {
		return "", "", false
	}
	return field, rest[1 : len(rest)-1], true
}

// lookupFilterKey finds the accepted key for field and op (also tried
// without its '$', so [$gte] works like [gte]).
func lookupFilterKey(keys []filterKey, field, bare, op string) (filterKey, bool) {
	for _, k := range keys {
		if k.field == field && (k.op == op || k.op == bare) {
			return k, true
		}
	}
	return filterKey{}, false
}

// danglingEscape reports a LIKE pattern whose last '\' escapes nothing,
// which the databases disagree about (no match, an error).
func danglingEscape(p string) bool {
	n := 0
	for i := len(p) - 1; i >= 0 && p[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// acceptedFilters names keys for an error message, e.g. "filter[name],
// filter[created_at][gte|lte]".
func acceptedFilters(keys []filterKey) string {
	var names []string
	for i, k := range keys {
		switch {
		case k.op == "":
			names = append(names, "filter["+k.field+"]")
		case k.op == "lte" && i > 0 && keys[i-1].field == k.field && keys[i-1].op == "gte":
			names[len(names)-1] = "filter[" + k.field + "][gte|lte]"
		default:
			names = append(names, "filter["+k.field+"]["+k.op+"]")
		}
	}
	return strings.Join(names, ", ")
}

func setFilter(f *secrets.Filter, k filterKey, raw string, loc []any, is *items) {
	if k.text != nil {
		if k.op == "$like" && danglingEscape(raw) {
			is.add(&item{Type: "value_error", Loc: loc, Input: rawString(raw),
				Msg: `Value error, the pattern ends with the escape character '\'; write '\\' for a backslash`})
			return
		}
		v := raw
		*k.text(f) = &v
		return
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(raw))
	if err != nil {
		is.add(&item{Type: "datetime_parsing", Loc: loc, Input: rawString(raw),
			Msg: "Input should be a valid datetime (RFC 3339, e.g. 2026-01-31T12:00:00Z)"})
		return
	}
	t = t.UTC()
	*k.time(f) = &t
}
