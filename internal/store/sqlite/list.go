package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/listsql"
)

// List queries (docs/lifecycle.md, list queries). A list's SQL depends on
// its shape, the sort and which Filter fields are set, and is built per
// shape with only the terms it needs: a term written as `(?N IS NULL OR
// ...)` for every field would keep the planner from using an index for the
// ones that are set (an exact name, a time range in the sort's order),
// because it plans before it sees the values.

// listCols are a list item's columns; the workspace is the one listed.
const listCols = `name, description, created_at, updated_at, created_by, updated_by, current_version`

// deletedCols are a bin entry's columns, each prefixed with prefix.
func deletedCols(prefix string) string {
	cols := []string{"deleted_id", "name", "description", "created_at", "updated_at", "created_by",
		"updated_by", "current_version", "deleted_at", "deleted_by", "purge_at"}
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
}

// queryArgs numbers a query's parameters in the order they are added, so
// that the SQL of a shape and its arguments are built together.
type queryArgs []any

func (a *queryArgs) add(v any) string {
	*a = append(*a, v)
	return "?" + strconv.Itoa(len(*a))
}

// filterTerms returns the AND terms of f, adding their values to args.
//
// A LIKE's pattern is written +?N, not ?N: SQLite's planner reads the value
// bound to a bare parameter on the right of a LIKE (for its LIKE-to-range
// optimization, which never applies here: the indexes compare bytes, LIKE
// folds case) and so marks the statement to be prepared again whenever that
// parameter is bound, which made every filtered page parse and plan its
// statement anew (docs/performance.md, "The filtered list page").
func filterTerms(f secrets.Filter, args *queryArgs) string {
	var b strings.Builder
	term := func(format string, v any) { fmt.Fprintf(&b, " AND "+format, args.add(v)) }
	if f.Name != nil {
		term("name = %s", *f.Name)
	}
	if f.NameLike != nil {
		term(`name LIKE +%s ESCAPE '\'`, *f.NameLike)
	}
	if f.DescriptionLike != nil {
		term(`description LIKE +%s ESCAPE '\'`, *f.DescriptionLike) // NULL LIKE p is not true
	}
	timeTerms(&b, args, "created_at", f.CreatedFrom, f.CreatedTo)
	timeTerms(&b, args, "updated_at", f.UpdatedFrom, f.UpdatedTo)
	if f.Search != "" {
		p := args.add("%" + listsql.EscapeLike(f.Search) + "%")
		fmt.Fprintf(&b, ` AND (name LIKE +%[1]s ESCAPE '\' OR description LIKE +%[1]s ESCAPE '\')`, p)
	}
	return b.String()
}

// timeTerms adds an inclusive range on col. Stored times are whole
// microseconds, so a bound with a fraction of one is rounded inward: up for
// from, down (micros truncates) for to.
func timeTerms(b *strings.Builder, args *queryArgs, col string, from, to *time.Time) {
	if from != nil {
		us := micros(*from)
		if from.Nanosecond()%1000 != 0 {
			us++
		}
		fmt.Fprintf(b, " AND %s >= %s", col, args.add(us))
	}
	if to != nil {
		fmt.Fprintf(b, " AND %s <= %s", col, args.add(micros(*to)))
	}
}

// secretListQuery returns the SQL and arguments of a page of ws's live
// secrets. One statement is one snapshot: the total always counts the page
// it comes with. No row means no workspace, one row of NULLs an empty page.
// ?1 to ?4 are the same in every shape, so the zero-Filter statements are
// prepared once at Open.
func secretListQuery(ws string, q secrets.SecretQuery) (string, []any, error) {
	terms, ok := listsql.SecretOrder[cmp.Or(q.Sort, listsql.DefaultSecretSort)]
	if !ok {
		return "", nil, fmt.Errorf("sqlite: unknown secret sort %q", q.Sort)
	}
	args := queryArgs{}
	args.add(ws)
	args.add(q.Exclude) // "" matches no secret
	args.add(max(q.Limit, 0))
	args.add(max(q.Offset, 0))
	where := `workspace = ?1 AND deleted_id IS NULL AND name <> ?2` + filterTerms(q.Filter, &args)
	// Unfiltered, the total is the workspace's trigger-kept count (migration
	// 3), less the excluded secret if it is live: a unique-index probe,
	// where count(*) would visit every secret of the workspace per page.
	total := `workspaces.secret_count - EXISTS (SELECT 1 FROM secrets WHERE ` + liveByName + `)`
	prefix := ""
	if q.Filter.Name == nil && q.Filter.NameLike != nil {
		prefix = listsql.LikePrefix(*q.Filter.NameLike)
	}
	switch {
	case prefix != "":
		return prefixListQuery(where, terms, prefix, &args), args, nil
	case needsScan(q.Filter):
		return probedListQuery(where, terms), args, nil
	case !q.Filter.IsZero():
		total = `(SELECT count(*) FROM secrets WHERE ` + where + `)`
	}
	return `WITH page AS (SELECT ` + listCols + ` FROM secrets WHERE ` + where + `
			ORDER BY ` + listsql.OrderBy(terms, "") + ` LIMIT ?3 OFFSET ?4)
		SELECT ` + total + `, page.* FROM workspaces LEFT JOIN page ON true WHERE workspaces.name = ?1
		ORDER BY ` + listsql.OrderBy(terms, "page."), args, nil
}

// needsScan reports a Filter that a list can only answer by trying every
// secret of the workspace in its table: one on the description (a pattern,
// Search), which no index holds, and no term an index serves (an exact
// name, a time range) to narrow the secrets down first. A pattern on the
// name alone is tried in the (workspace, name) index, which is faster.
func needsScan(f secrets.Filter) bool {
	return (f.DescriptionLike != nil || f.Search != "") && f.Name == nil && f.CreatedFrom == nil &&
		f.CreatedTo == nil && f.UpdatedFrom == nil && f.UpdatedTo == nil
}

// probeCap is how many matches of a pattern filter one pass collects to
// answer page and total from (probedListQuery).
const probeCap = 1000

// probedListQuery is secretListQuery for a Filter that needsScan. The
// other lists' shape (an index walk for the page, then a count) would make
// that two passes, each slower than a scan of the table, because an index
// walk looks every row up in the table. A search box usually matches a
// few secrets, so one scan of the table (NOT INDEXED) collects up to
// probeCap+1 matching ids first: with at most probeCap, page and total come
// from them; with more, the page comes from the sort's index walk (it finds
// its rows early) and the total from a second scan. The one-row few comes
// first in each arm (CROSS JOIN keeps the order), so the arm that does not
// apply stops before it reads a secret. docs/lifecycle.md asks for well
// under a second at 1,000,000 secrets (BenchmarkListShapes).
func probedListQuery(where string, terms []listsql.Term) string {
	cols := "secrets." + strings.ReplaceAll(listCols, ", ", ", secrets.")
	return `WITH probe AS MATERIALIZED (SELECT id FROM secrets NOT INDEXED WHERE ` + where + `
				LIMIT ` + strconv.Itoa(probeCap+1) + `),
			few AS MATERIALIZED (SELECT count(*) <= ` + strconv.Itoa(probeCap) + ` AS yes FROM probe),
			page AS (SELECT ` + cols + ` FROM few CROSS JOIN secrets
					WHERE few.yes AND secrets.id IN (SELECT id FROM probe)
				UNION ALL
				SELECT ` + cols + ` FROM few CROSS JOIN secrets WHERE NOT few.yes AND ` + where + `
				ORDER BY ` + listsql.OrderBy(terms, "") + ` LIMIT ?3 OFFSET ?4)
		SELECT CASE WHEN (SELECT yes FROM few) THEN (SELECT count(*) FROM probe)
				ELSE (SELECT count(*) FROM secrets NOT INDEXED WHERE ` + where + `) END,
			page.*
		FROM workspaces LEFT JOIN page ON true WHERE workspaces.name = ?1
		ORDER BY ` + listsql.OrderBy(terms, "page.")
}

// prefixListQuery is secretListQuery for a name pattern with a literal
// prefix. SQLite does not narrow such a LIKE to a range of the (workspace,
// name) index (its LIKE folds ASCII case, the index is in byte order), so
// the general shape walked every secret of the workspace twice, for the
// page and for the count: 5 ms of CPU per request at 10,000 secrets
// (docs/performance.md, "Reads, round two"). A name the pattern matches
// starts with one of the case variants of the prefix (listsql.PrefixRanges), so
// the matches are in those ranges of the index (at most 8 range scans);
// where, the LIKE included, then decides on each candidate, on the index
// entry before the row is read.
//
// Every part reads only the ranges, whatever their size, so a page costs
// at most two passes over its candidates (docs/performance.md, "The
// filtered list page"): hits reads the sort keys of the matches and keeps
// the page's ids (a sorter that holds limit+offset rows per range), page
// reads the rows of those ids only, and the total counts the matches on
// the index entries alone. The earlier shape's fallback for more than
// probeCap candidates (a walk of the whole workspace) cost 430 ms for a
// prefix with 10,000 matches among 1,000,000 secrets; sorting the matches
// costs 9 ms.
func prefixListQuery(where string, terms []listsql.Term, prefix string, args *queryArgs) string {
	keys := "id"
	for _, t := range terms {
		keys += ", " + t.Col
	}
	var ranges []string // each is a FROM and WHERE, for SELECT keys and SELECT 1
	for _, r := range listsql.PrefixRanges(prefix) {
		ranges = append(ranges, ` FROM secrets WHERE `+where+` AND name >= `+args.add(r.From)+` AND name < `+args.add(r.To))
	}
	cols := "secrets." + strings.ReplaceAll(listCols, ", ", ", secrets.")
	return `WITH hits AS (SELECT ` + keys + strings.Join(ranges, ` UNION ALL SELECT `+keys) + `
				ORDER BY ` + listsql.OrderBy(terms, "") + ` LIMIT ?3 OFFSET ?4),
			page AS (SELECT ` + cols + ` FROM hits CROSS JOIN secrets WHERE secrets.id = hits.id)
		SELECT (SELECT count(*) FROM (SELECT 1` + strings.Join(ranges, ` UNION ALL SELECT 1`) + `)), page.*
		FROM workspaces LEFT JOIN page ON true WHERE workspaces.name = ?1
		ORDER BY ` + listsql.OrderBy(terms, "page.")
}

// deletedListQuery returns the SQL and arguments of a page of ws's bin as
// visible at q.Now, shaped like secretListQuery's.
func deletedListQuery(ws string, q secrets.DeletedQuery) (string, []any, error) {
	terms, ok := listsql.DeletedOrder[cmp.Or(q.Sort, listsql.DefaultDeletedSort)]
	if !ok {
		return "", nil, fmt.Errorf("sqlite: unknown recycle bin sort %q", q.Sort)
	}
	args := queryArgs{}
	args.add(ws)
	args.add(micros(q.Now))
	args.add(max(q.Limit, 0))
	args.add(max(q.Offset, 0))
	where := `workspace = ?1 AND deleted_id IS NOT NULL AND purge_at > ?2` + filterTerms(q.Filter, &args)
	return `WITH page AS (SELECT ` + deletedCols("") + ` FROM secrets WHERE ` + where + `
			ORDER BY ` + listsql.OrderBy(terms, "") + ` LIMIT ?3 OFFSET ?4)
		SELECT (SELECT count(*) FROM secrets WHERE ` + where + `), page.*
		FROM workspaces LEFT JOIN page ON true WHERE workspaces.name = ?1
		ORDER BY ` + listsql.OrderBy(terms, "page."), args, nil
}

// ListSecrets returns one page of a workspace's live secrets matching
// q.Filter in q.Sort order, and how many match; both without q.Exclude.
// ErrNoWorkspace if the workspace is missing. Pages come from the read
// cache like GetSecret's records: the unfiltered list every console and
// CLI shows, and filtered ones, which cost 10 times as much to read (a
// search box sends the same few prefixes again and again;
// docs/performance.md, "The filtered list page").
func (s *Store) ListSecrets(ctx context.Context, ws string, q secrets.SecretQuery) ([]secrets.Secret, int, error) {
	key := pageKey{ws: ws, exclude: q.Exclude, sort: cmp.Or(q.Sort, listsql.DefaultSecretSort),
		filter: filterKey(q.Filter), limit: max(q.Limit, 0), offset: max(q.Offset, 0)}
	read := func() ([]secrets.Secret, int, error) {
		if key.filter == "" {
			return s.listSecrets(ctx, key)
		}
		return s.listFiltered(ctx, ws, q)
	}
	p, err := cached(s.cache, &s.cache.pages, key, func() (cachedPage, error) {
		items, total, err := read()
		return cachedPage{items: items[:len(items):len(items)], total: total}, err
	})
	return p.items, p.total, err
}

// listSecrets is the query of an unfiltered ListSecrets, one prepared
// statement per sort.
func (s *Store) listSecrets(ctx context.Context, k pageKey) ([]secrets.Secret, int, error) {
	st, ok := s.r.listSecrets[k.sort]
	if !ok {
		return nil, 0, fmt.Errorf("sqlite: unknown secret sort %q", k.sort)
	}
	rows, err := st.QueryContext(ctx, k.ws, k.exclude, k.limit, k.offset)
	return scanSecretPage(rows, err, k.ws)
}

// listFiltered is the query of a filtered ListSecrets.
func (s *Store) listFiltered(ctx context.Context, ws string, q secrets.SecretQuery) ([]secrets.Secret, int, error) {
	query, args, err := secretListQuery(ws, q)
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.r.lists.query(ctx, query, args)
	return scanSecretPage(rows, err, ws)
}

// scanSecretPage reads a secretListQuery answer.
func scanSecretPage(rows *sql.Rows, err error, ws string) ([]secrets.Secret, int, error) {
	return scanPage(rows, err, func(total *int) (secrets.Secret, bool, error) {
		var sec secrets.Secret
		var name sql.NullString
		var created, updated, version sql.NullInt64
		err := rows.Scan(total, &name, &sec.Description, &created, &updated, &sec.CreatedBy, &sec.UpdatedBy, &version)
		if err != nil || !name.Valid {
			return sec, false, err
		}
		sec.Name, sec.Workspace, sec.Version = name.String, ws, version.Int64
		sec.CreatedAt, sec.UpdatedAt = fromMicros(created.Int64), fromMicros(updated.Int64)
		return sec, true, nil
	})
}

// ListDeleted returns one page of a workspace's recycle bin as visible at
// q.Now, and how many entries match; ErrNoWorkspace if the workspace is
// missing.
func (s *Store) ListDeleted(ctx context.Context, ws string, q secrets.DeletedQuery) ([]secrets.Deleted, int, error) {
	query, args, err := deletedListQuery(ws, q)
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.r.lists.query(ctx, query, args)
	return scanPage(rows, err, func(total *int) (secrets.Deleted, bool, error) {
		var r deletedRow
		if err := rows.Scan(append([]any{total}, r.dest()...)...); err != nil {
			return secrets.Deleted{}, false, err
		}
		d, ok := r.entry(ws)
		return d, ok, nil
	})
}

// deletedRow receives the deletedCols columns, which are all NULL in the
// row of an empty list page.
type deletedRow struct {
	id, name                                      sql.NullString
	created, updated, version, deletedAt, purgeAt sql.NullInt64
	d                                             secrets.Deleted
}

func (r *deletedRow) dest() []any {
	return []any{&r.id, &r.name, &r.d.Description, &r.created, &r.updated, &r.d.CreatedBy,
		&r.d.UpdatedBy, &r.version, &r.deletedAt, &r.d.DeletedBy, &r.purgeAt}
}

// entry returns the bin entry of ws scanned, or false for a NULL row.
func (r *deletedRow) entry(ws string) (secrets.Deleted, bool) {
	if !r.id.Valid {
		return secrets.Deleted{}, false
	}
	d := r.d
	d.ID, d.Name, d.Workspace, d.Version = r.id.String, r.name.String, ws, r.version.Int64
	d.CreatedAt, d.UpdatedAt = fromMicros(r.created.Int64), fromMicros(r.updated.Int64)
	d.DeletedAt, d.PurgeAt = fromMicros(r.deletedAt.Int64), fromMicros(r.purgeAt.Int64)
	return d, true
}

// scanPage reads the rows of a list statement: each has the total, then a
// page item or, for an empty page, NULLs (scan returns ok false). No row at
// all means the workspace is missing.
func scanPage[T any](rows *sql.Rows, err error, scan func(total *int) (T, bool, error)) ([]T, int, error) {
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	items := []T{}
	total, found := 0, false
	for rows.Next() {
		item, ok, err := scan(&total)
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

// stmtCache keeps the prepared statements of the list shapes met so far,
// by SQL text. A shape is a sort and a set of filter fields, so there are
// a few hundred at most; past maxListStmts a shape runs unprepared, which
// bounds memory whatever the requests ask for.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// maxListStmts bounds the statements a stmtCache keeps (each is prepared
// again on every reader connection that runs it).
const maxListStmts = 128

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// query runs q with args, prepared once when there is room.
func (c *stmtCache) query(ctx context.Context, q string, args []any) (*sql.Rows, error) {
	st, err := c.get(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.db.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

// get returns q's statement, preparing it if there is room, or nil.
func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	if len(c.m) >= maxListStmts {
		return nil, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare a list query: %w", err)
	}
	c.m[q] = st
	return st, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []*sql.Stmt
	for _, st := range c.m {
		all = append(all, st)
	}
	c.m = map[string]*sql.Stmt{}
	return closeAll(all...)
}
