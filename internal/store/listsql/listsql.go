// Package listsql holds the parts of the list queries (docs/lifecycle.md,
// list queries) that the SQLite and PostgreSQL backends share, so that both
// sort and match alike: the ORDER BY of each accepted sort and LIKE
// escaping. Each backend builds its own statements around them.
package listsql

import "strings"

// Term is one key of an ORDER BY.
type Term struct {
	Col  string
	Desc bool
}

// DefaultSecretSort and DefaultDeletedSort are the sorts of an empty Sort.
const (
	DefaultSecretSort  = "-created_at"
	DefaultDeletedSort = "-deleted_at"
)

// SecretOrder is the ORDER BY of each secrets.SecretSorts value; ties by
// name, which is unique among live secrets.
var SecretOrder = map[string][]Term{
	"name":        {{"name", false}},
	"-name":       {{"name", true}},
	"created_at":  {{"created_at", false}, {"name", false}},
	"-created_at": {{"created_at", true}, {"name", false}},
	"updated_at":  {{"updated_at", false}, {"name", false}},
	"-updated_at": {{"updated_at", true}, {"name", false}},
}

// DeletedOrder is the ORDER BY of each sort the recycle bin takes. Several
// entries may share a name (and a deletion time), so ties go by name, then
// bin id, which makes every order total.
var DeletedOrder = func() map[string][]Term {
	m := map[string][]Term{
		"deleted_at":  {{"deleted_at", false}, {"name", false}},
		"-deleted_at": {{"deleted_at", true}, {"name", false}},
	}
	for sort, terms := range SecretOrder {
		m[sort] = terms
	}
	for sort, terms := range m {
		m[sort] = append(terms[:len(terms):len(terms)], Term{"deleted_id", false})
	}
	return m
}()

// OrderBy renders terms, each column prefixed with prefix.
func OrderBy(terms []Term, prefix string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = prefix + t.Col + " ASC"
		if t.Desc {
			parts[i] = prefix + t.Col + " DESC"
		}
	}
	return strings.Join(parts, ", ")
}

// EscapeLike makes s match itself literally inside a LIKE pattern with
// ESCAPE '\' (a search text is a substring, not a pattern).
func EscapeLike(s string) string {
	return likeEscaper.Replace(s)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
