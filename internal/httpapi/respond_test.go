package httpapi

import (
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// jsonStrings covers every escaping rule of encoding/json: quotes,
// backslashes, control characters (named and \u00XX), '<>&' (not escaped:
// marshal turns HTML escaping off), invalid UTF-8, U+2028/U+2029 and other
// non-ASCII text.
var jsonStrings = []string{
	"", "hf-token", "default", "a.b_c-d", `quo"te`, `back\slash`, "nl\nl", "tab\tcr\r",
	"\b\f\x00\x01\x1f\x7f", "<script>&amp;</script>", "bad \xff utf8 \xc3", "line\u2028sep\u2029",
	"é日本語🙂", "hf_example_token_0123456789abcdef", "ends with \\", "\"",
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonStrings {
		want, err := marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendString(%q) = %s, want x%s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestAppendSecretMatchesEncodingJSON(t *testing.T) {
	desc := "Hugging Face <token> \"quoted\"\n"
	empty := ""
	created := time.Date(2026, 11, 26, 1, 2, 3, 456789000, time.UTC)
	// Not UTC and with nanoseconds: encoded as UTC, six fractional digits.
	updated := time.Date(2026, 11, 26, 3, 4, 5, 999999999, time.FixedZone("X", 3600))
	cases := []secrets.Secret{
		{Name: "hf-token", Workspace: "default", Description: &desc, CreatedAt: created, UpdatedAt: updated},
		{Name: "n", Workspace: "w", Description: &empty, CreatedAt: created, UpdatedAt: created},
		{Name: "ngc-api-key", Workspace: "system", Description: &desc}, // virtual NGC secret: no timestamps
		{Name: "x", Workspace: "y", CreatedAt: created, UpdatedAt: created},
		{Name: "v", Workspace: "y", CreatedAt: created, UpdatedAt: created, Version: 12345678901},
	}
	for _, s := range jsonStrings {
		cases = append(cases, secrets.Secret{Name: s, Workspace: s, Description: &s, CreatedAt: created, UpdatedAt: updated})
	}
	for _, sec := range cases {
		want, err := marshal(toSecretJSON(sec))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSecret(nil, sec, false); string(got) != string(want) {
			t.Errorf("appendSecret(%+v)\n got %s\nwant %s", sec, got, want)
		}
	}
	// A list page of the same secrets, and an empty one.
	for _, list := range [][]secrets.Secret{cases, nil} {
		pg := secrets.Page{Page: 2, PageSize: 10, TotalResults: 27}
		out := secretPageJSON{Data: make([]secretItemJSON, len(list)), Pagination: toPagination(pg, len(list))}
		for i, sec := range list {
			out.Data[i] = secretItemJSON(toSecretJSON(sec))
		}
		want, err := marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSecretPage(nil, list, pg); string(got) != string(want) {
			t.Errorf("appendSecretPage(%d items)\n got %s\nwant %s", len(list), got, want)
		}
	}
}

func TestAppendSecretValueMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonStrings {
		for _, v := range []secretValueJSON{{Name: "hf-token", Workspace: "default", Value: s}, {Name: s, Workspace: s, Value: "v"}} {
			want, err := marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendSecretValue(nil, v.Name, v.Workspace, v.Value); string(got) != string(want) {
				t.Errorf("appendSecretValue(%+v)\n got %s\nwant %s", v, got, want)
			}
		}
	}
}

// TestAppendTimeMatchesAppendFormat: the hand-written formatter gives what
// the layout gives, across zones, fractions that truncate, and years the
// fast path leaves to AppendFormat.
func TestAppendTimeMatchesAppendFormat(t *testing.T) {
	zone := time.FixedZone("X", -(9*3600 + 30*60))
	tests := []time.Time{
		time.Date(2026, 11, 26, 1, 2, 3, 456789000, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 999, zone), // the day before in UTC; sub-µs truncated
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(0, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 15, 8, 9, 10, 0, time.UTC),
		time.Unix(1_764_633_600, 123456789).In(zone),
	}
	for _, tm := range tests {
		want := tm.UTC().AppendFormat([]byte("x"), timeLayout)
		if got := appendTime([]byte("x"), tm); string(got) != string(want) {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2026, 11, 26, 1, 2, 3, 456789000, time.UTC)
	buf := make([]byte, 0, 64)
	b.Run("appendTime", func(b *testing.B) {
		for b.Loop() {
			buf = appendTime(buf[:0], tm)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = tm.UTC().AppendFormat(buf[:0], timeLayout)
		}
	})
}
