package listsql

import (
	"slices"
	"testing"
)

// TestLikePrefix: the literal prefix a pattern's ranges come from.
func TestLikePrefix(t *testing.T) {
	for _, c := range []struct{ pattern, want string }{
		{"s0001%", "s0001"},
		{"abcdef%", "abc"},
		{"a1b2c3d4", "a1b2c3"},
		{"%abc", ""},
		{"_abc", ""},
		{"ab\\_c%", "ab_c"},
		{"ab\\%%", "ab%"},
		{"ab\\", "ab"},
		{"0-9.x%", "0-9.x"},
		{"ab\xc3\xa9%", "ab"},
		{"a~\x7fb%", "a~"},
	} {
		if got := LikePrefix(c.pattern); got != c.want {
			t.Errorf("LikePrefix(%q) = %q, want %q", c.pattern, got, c.want)
		}
	}
}

// TestPrefixRanges: one range per case variant of the prefix's letters,
// each up to the prefix with its last byte incremented.
func TestPrefixRanges(t *testing.T) {
	want := []Range{{"A1B", "A1C"}, {"A1b", "A1c"}, {"a1B", "a1C"}, {"a1b", "a1c"}}
	if got := PrefixRanges("a1B"); !slices.Equal(got, want) {
		t.Errorf("PrefixRanges(a1B) = %q, want %q", got, want)
	}
	if got := PrefixRanges("x~"); !slices.Equal(got, []Range{{"X~", "X\x7f"}, {"x~", "x\x7f"}}) {
		t.Errorf("PrefixRanges(x~) = %q", got)
	}
}
