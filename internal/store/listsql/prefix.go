package listsql

// A name pattern's literal prefix narrows a list to ranges of the
// (workspace, name) index, which both backends keep in byte order, while
// their LIKE and ILIKE fold ASCII case: a name the pattern matches starts
// with one of the prefix's case variants (docs/performance.md, "The
// filtered list page").

// maxPrefixLetters bounds the letters of a pattern's prefix that
// PrefixRanges turns into ranges: each letter doubles them (either case),
// so at most 8.
const maxPrefixLetters = 3

// LikePrefix is the literal start of a LIKE pattern with ESCAPE '\' (the
// part before its first wildcard), cut before its (maxPrefixLetters+1)-th
// ASCII letter and before any byte past '~' (DEL, whose successor is no
// valid text, and non-ASCII bytes, compared exactly by LIKE and never in a
// valid name); a shorter prefix only narrows less.
func LikePrefix(p string) string {
	var b []byte
	letters := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '%', '_':
			return string(b)
		case '\\':
			if i+1 == len(p) {
				return string(b)
			}
			i++
			c = p[i]
		}
		if c > '~' {
			return string(b)
		}
		if isASCIILetter(c) {
			if letters == maxPrefixLetters {
				return string(b)
			}
			letters++
		}
		b = append(b, c)
	}
	return string(b)
}

// Range is the names from From (included) to To (excluded), in byte order.
type Range struct{ From, To string }

// PrefixRanges returns the ranges of the names that start with a case
// variant of prefix, which must not be empty: one per variant.
func PrefixRanges(prefix string) []Range {
	variants := caseVariants(prefix)
	out := make([]Range, len(variants))
	for i, v := range variants {
		out[i] = Range{v, v[:len(v)-1] + string([]byte{v[len(v)-1] + 1})}
	}
	return out
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// caseVariants returns s with every combination of cases of its ASCII
// letters.
func caseVariants(s string) []string {
	out := []string{""}
	for i := 0; i < len(s); i++ {
		c := s[i]
		next := make([]string, 0, 2*len(out))
		for _, v := range out {
			if isASCIILetter(c) {
				next = append(next, v+string([]byte{c &^ 0x20}), v+string([]byte{c | 0x20}))
			} else {
				next = append(next, v+string([]byte{c}))
			}
		}
		out = next
	}
	return out
}
