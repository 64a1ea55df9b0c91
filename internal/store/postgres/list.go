package postgres

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/listsql"
)

// List queries (docs/lifecycle.md, list queries). A list's SQL depends on
// its shape, the sort and which Filter fields are set, and is built per
// shape with only the terms it needs: a term written as `($n IS NULL OR
// ...)` for every field would keep the planner from using an index for the
// ones that are set (an exact name, a time range in the sort's order),
// because a prepared statement may run a generic plan made before it sees
// the values. pgx caches one prepared statement per shape and connection.

// listCols are a list item's columns; the workspace is the one listed.
const listCols = `s.name, s.description, s.created_at, s.updated_at, s.created_by, s.updated_by, s.current_version`

// deletedCols are a bin entry's columns.
const deletedCols = `s.deleted_id, ` + listCols + `, s.deleted_at, s.deleted_by, s.purge_at`

// queryArgs numbers a query's parameters in the order they are added, so
// that the SQL of a shape and its arguments are built together.
type queryArgs []any

func (a *queryArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// filterTerms returns the AND terms of f on secrets aliased s, adding their
// values to args. ILIKE on the "C" collation folds ASCII letters only, as
// SQLite's LIKE does; NULL ILIKE p is not true, so a secret without a
// description never matches a description pattern.
func filterTerms(f secrets.Filter, args *queryArgs) string {
	var b strings.Builder
	term := func(format string, v any) { fmt.Fprintf(&b, " AND "+format, args.add(v)) }
	if f.Name != nil {
		term("s.name = %s", *f.Name)
	}
	if f.NameLike != nil {
		term(`s.name ILIKE %s ESCAPE '\'`, likePattern(*f.NameLike))
	}
	if f.DescriptionLike != nil {
		term(`s.description ILIKE %s ESCAPE '\'`, likePattern(*f.DescriptionLike))
	}
	timeTerms(&b, args, "s.created_at", f.CreatedFrom, f.CreatedTo)
	timeTerms(&b, args, "s.updated_at", f.UpdatedFrom, f.UpdatedTo)
	if f.Search != "" {
		p := args.add("%" + listsql.EscapeLike(f.Search) + "%")
		fmt.Fprintf(&b, ` AND (s.name ILIKE %[1]s ESCAPE '\' OR s.description ILIKE %[1]s ESCAPE '\')`, p)
	}
	return b.String()
}

// timeTerms adds an inclusive range on col. Stored times are whole
// microseconds, so a bound with a fraction of one is rounded inward: up for
// from, down (ts truncates) for to.
func timeTerms(b *strings.Builder, args *queryArgs, col string, from, to *time.Time) {
	if from != nil {
		t := ts(*from)
		if !t.Equal(*from) {
			t = t.Add(time.Microsecond)
		}
		fmt.Fprintf(b, " AND %s >= %s", col, args.add(t))
	}
	if to != nil {
		fmt.Fprintf(b, " AND %s <= %s", col, args.add(ts(*to)))
	}
}

// likePattern makes a trailing lone '\' match a backslash, as
// secrets.Like does, where PostgreSQL would refuse the pattern.
func likePattern(p string) string {
	n := len(p) - len(strings.TrimRight(p, `\`))
	if n%2 == 1 {
		return p + `\`
	}
	return p
}

// secretListQuery returns the SQL and arguments of a page of ws's live
// secrets. One statement is one snapshot: the total always counts the page
// it comes with. No row means no workspace, one row of NULLs an empty page.
// $1 to $4 are the same in every shape.
func secretListQuery(ws string, q secrets.SecretQuery) (string, []any, error) {
	terms, ok := listsql.SecretOrder[cmp.Or(q.Sort, listsql.DefaultSecretSort)]
	if !ok {
		return "", nil, fmt.Errorf("postgres: unknown secret sort %q", q.Sort)
	}
	args := queryArgs{ws, q.Exclude, int64(max(q.Limit, 0)), int64(max(q.Offset, 0))} // "" excludes no secret
	where := `s.workspace = $1 AND s.deleted_id IS NULL AND s.name <> $2` + filterTerms(q.Filter, &args)
	if q.Filter.Name == nil && q.Filter.NameLike != nil {
		where += prefixTerm(listsql.LikePrefix(*q.Filter.NameLike), &args)
	}
	if !q.Filter.IsZero() {
		return filteredPage(listCols, where, terms), args, nil
	}
	// Unfiltered, the total is the sum of the workspace's trigger-kept count
	// shards (migrations 3 and 4), less the excluded secret if it is live:
	// 16 index entries and one probe, where count(*) would visit every
	// secret of the workspace per page.
	return `WITH page AS (SELECT ` + listCols + ` FROM secrets AS s WHERE ` + where + `
			ORDER BY ` + listsql.OrderBy(terms, "s.") + ` LIMIT $3 OFFSET $4)
		SELECT (SELECT coalesce(sum(n), 0)::bigint FROM secret_counts WHERE workspace = $1)
				- (EXISTS (SELECT 1 FROM secrets AS s WHERE ` + liveByName + `))::int,
			page.*
		FROM workspaces LEFT JOIN page ON true WHERE workspaces.name = $1
		ORDER BY ` + listsql.OrderBy(terms, "page."), args, nil
}

// prefixTerm narrows a name pattern with a literal prefix to the ranges of
// the (workspace, name) index its matches are in (listsql.PrefixRanges): the
// index is in byte order (COLLATE "C") and so cannot serve ILIKE itself, and
// without the ranges a page of a name pattern read every secret of the
// workspace (docs/performance.md, "The filtered list page"). The ILIKE
// still decides. "" for an empty prefix.
func prefixTerm(prefix string, args *queryArgs) string {
	if prefix == "" {
		return ""
	}
	var ors []string
	for _, r := range listsql.PrefixRanges(prefix) {
		ors = append(ors, `s.name >= `+args.add(r.From)+` AND s.name < `+args.add(r.To))
	}
	return ` AND (` + strings.Join(ors, ` OR `) + `)`
}

// deletedListQuery is secretListQuery for the visible entries of ws's bin,
// which has no kept count.
func deletedListQuery(ws string, q secrets.DeletedQuery) (string, []any, error) {
	terms, ok := listsql.DeletedOrder[cmp.Or(q.Sort, listsql.DefaultDeletedSort)]
	if !ok {
		return "", nil, fmt.Errorf("postgres: unknown recycle bin sort %q", q.Sort)
	}
	args := queryArgs{ws, ts(q.Now), int64(max(q.Limit, 0)), int64(max(q.Offset, 0))}
	where := `s.workspace = $1 AND s.deleted_id IS NOT NULL AND s.purge_at > $2` + filterTerms(q.Filter, &args)
	return filteredPage(deletedCols, where, terms), args, nil
}

// probeRows is how many matches make a filter unselective for
// filteredPage: a page of a filter that matches more is read in sort order
// from an index, which reaches a page of it soon.
const probeRows = 10_000

// filteredPage returns the statement of a page (cols of the rows of
// secrets s matching where, in terms order, $3 and $4 the limit and
// offset) and the number of rows matching. A pattern or a search term
// cannot use a btree index, so counting the matches reads every row of the
// workspace once; the statement makes that the only pass for a selective
// filter too, where reading the page in sort order from an index would be
// a second pass that finds few matches, or none, on its way:
//
//   - probe reads matches in any order, up to probeRows + 1;
//   - if it found at most probeRows, it read every row and holds every
//     match: the total is its size and the page is sorted from it;
//   - else the page is read in sort order (an index walk that stops once it
//     has the page) and the matches are counted apart.
//
// Each branch is gated by a one-time filter on the probe's size, so the
// other is never run: every filter costs one pass over the workspace at
// most (TestListLargeWorkspace measures them at 1,000,000 secrets).
func filteredPage(cols, where string, terms []listsql.Term) string {
	k := strconv.Itoa(probeRows)
	return `WITH probe AS MATERIALIZED (SELECT ` + cols + ` FROM secrets AS s WHERE ` + where + `
			LIMIT ` + k + ` + 1)
		, probed AS MATERIALIZED (SELECT count(*) AS n FROM probe)
		, page AS ((SELECT * FROM probe WHERE (SELECT n FROM probed) <= ` + k + `
				ORDER BY ` + listsql.OrderBy(terms, "") + ` LIMIT $3 OFFSET $4)
			UNION ALL
			(SELECT ` + cols + ` FROM secrets AS s WHERE ` + where + ` AND (SELECT n FROM probed) > ` + k + `
				ORDER BY ` + listsql.OrderBy(terms, "s.") + ` LIMIT $3 OFFSET $4))
		SELECT CASE WHEN (SELECT n FROM probed) <= ` + k + ` THEN (SELECT n FROM probed)
				ELSE (SELECT count(*) FROM secrets AS s WHERE ` + where + `) END,
			page.*
		FROM workspaces LEFT JOIN page ON true WHERE workspaces.name = $1
		ORDER BY ` + listsql.OrderBy(terms, "page.")
}

// ListSecrets returns one page of ws's live secrets matching q.Filter in
// q.Sort order and how many match, both without q.Exclude; ErrNoWorkspace
// if the workspace is missing.
func (s *Store) ListSecrets(ctx context.Context, ws string, q secrets.SecretQuery) ([]secrets.Secret, int, error) {
	query, args, err := secretListQuery(ws, q)
	if err != nil {
		return nil, 0, err
	}
	return listPage(ctx, s, query, args, func(rows pgx.Rows, total *int) (secrets.Secret, bool, error) {
		var sec secrets.Secret
		var name *string
		var created, updated *time.Time
		var version *int64
		err := rows.Scan(total, &name, &sec.Description, &created, &updated, &sec.CreatedBy, &sec.UpdatedBy, &version)
		if err != nil || name == nil {
			return sec, false, err
		}
		sec.Name, sec.Workspace, sec.CreatedAt, sec.UpdatedAt, sec.Version = *name, ws, utc(*created), utc(*updated), *version
		return sec, true, nil
	})
}

// ListDeleted returns one page of the entries of ws's recycle bin visible
// at q.Now that match q.Filter, in q.Sort order, and how many match;
// ErrNoWorkspace if the workspace is missing.
func (s *Store) ListDeleted(ctx context.Context, ws string, q secrets.DeletedQuery) ([]secrets.Deleted, int, error) {
	query, args, err := deletedListQuery(ws, q)
	if err != nil {
		return nil, 0, err
	}
	return listPage(ctx, s, query, args, func(rows pgx.Rows, total *int) (secrets.Deleted, bool, error) {
		var d secrets.Deleted
		var id, name *string
		var created, updated, deleted, purge *time.Time
		var version *int64
		err := rows.Scan(total, &id, &name, &d.Description, &created, &updated, &d.CreatedBy, &d.UpdatedBy,
			&version, &deleted, &d.DeletedBy, &purge)
		if err != nil || id == nil {
			return d, false, err
		}
		d.ID, d.Name, d.Workspace, d.Version = *id, *name, ws, *version
		d.CreatedAt, d.UpdatedAt, d.DeletedAt, d.PurgeAt = utc(*created), utc(*updated), utc(*deleted), utc(*purge)
		return d, true, nil
	})
}

// listPage runs a list statement and scans its rows with scan, which
// reports false for the row of NULLs that stands for an empty page. No row
// at all means the workspace is missing.
func listPage[T any](ctx context.Context, s *Store, query string, args []any,
	scan func(rows pgx.Rows, total *int) (T, bool, error)) ([]T, int, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	items := []T{}
	total, found := 0, false
	for rows.Next() {
		item, ok, err := scan(rows, &total)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			items = append(items, item)
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if !found {
		return nil, 0, secrets.ErrNoWorkspace
	}
	return items, total, nil
}
