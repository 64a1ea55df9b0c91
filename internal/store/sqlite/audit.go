package sqlite

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The audit trail (migration 5, docs/operations.md "Audit trail").
//
// A write's event is inserted by write (sqlite.go) inside the write's own
// savepoint, after the write's statements: the committer then commits both
// or neither. Events of reads and of failed writes come in batches through
// AppendAudit, which is one more write of the committer, so they join the
// group commit of whatever else is being written.

const auditCols = `id, time, action, outcome, status, workspace, secret, version, principal,
	on_behalf_of, auth_method, request_id, remote_addr, user_agent`

// auditInsertLevels is the number of multi-row insert statements:
// insertAudit[k] inserts 1<<k events (1 to 32). One statement for many
// events costs far less than one run per event (each run is a round
// through database/sql and the driver), and the events of a group commit
// (committer.go) arrive in any number.
const auditInsertLevels = 6

// insertAuditSQL inserts n events.
func insertAuditSQL(n int) string {
	row := "(" + strings.Repeat("?, ", 13) + "?)"
	rows := make([]string, n)
	for i := range rows {
		rows[i] = row
	}
	return `INSERT INTO audit_events (` + auditCols + `) VALUES ` + strings.Join(rows, ", ")
}

// insertAudit inserts es in tx, one statement per set bit of len(es)
// (runs of 32 for the rest). Events without an id get one.
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, es []secrets.AuditEvent) error {
	const most = 1 << (auditInsertLevels - 1)
	args := make([]any, 0, 14*min(len(es), most))
	for len(es) > 0 {
		k := min(bits.Len(uint(len(es)))-1, auditInsertLevels-1)
		args = args[:0]
		for i := range es[:1<<k] {
			args = appendAuditArgs(args, &es[i])
		}
		if _, err := tx.StmtContext(ctx, s.w.insertAudit[k]).ExecContext(ctx, args...); err != nil {
			return err
		}
		es = es[1<<k:]
	}
	return nil
}

// appendAuditArgs appends e's columns in auditCols order, giving e an id
// when it has none.
func appendAuditArgs(args []any, e *secrets.AuditEvent) []any {
	if e.ID == "" {
		e.ID = secrets.NewAuditID(e.Time)
	}
	return append(args, e.ID, micros(e.Time), e.Action, e.Outcome, e.Status, e.Workspace, e.Secret, e.Version,
		e.Principal, e.OnBehalfOf, e.AuthMethod, e.RequestID, e.RemoteAddr, e.UserAgent)
}

// AppendAudit stores events in one write of the committer.
func (s *Store) AppendAudit(ctx context.Context, events []secrets.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	return s.commit.doAudit(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.insertAudit(ctx, tx, events)
	})
}

// ListAudit returns one page of events, newest first, and how many match.
func (s *Store) ListAudit(ctx context.Context, q secrets.AuditQuery) ([]secrets.AuditEvent, int, error) {
	where, args := auditWhere(q)
	var total int
	rows, err := s.r.lists.query(ctx, `SELECT count(*) FROM audit_events`+where, args)
	if err != nil {
		return nil, 0, err
	}
	for rows.Next() {
		if err := rows.Scan(&total); err != nil {
			rows.Close()
			return nil, 0, err
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, 0, err
	}
	args = append(args, int64(max(q.Limit, 0)), int64(max(q.Offset, 0)))
	rows, err = s.r.lists.query(ctx, auditPageSQL(where), args)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	items := []secrets.AuditEvent{}
	for rows.Next() {
		var e secrets.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.Outcome, &e.Status, &e.Workspace, &e.Secret, &e.Version,
			&e.Principal, &e.OnBehalfOf, &e.AuthMethod, &e.RequestID, &e.RemoteAddr, &e.UserAgent); err != nil {
			return nil, 0, err
		}
		e.Time = fromMicros(at)
		items = append(items, e)
	}
	return items, total, rows.Err()
}

// auditPageSQL selects a page of the events where selects, newest first:
// a range of the primary key or of an index ending in id, read backwards
// (TestAuditQueryPlans).
func auditPageSQL(where string) string {
	return `SELECT ` + auditCols + ` FROM audit_events` + where + ` ORDER BY id DESC LIMIT ? OFFSET ?`
}

// closeRows closes rows and returns their error.
func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// auditWhere is the WHERE clause of q with its arguments (positional).
// Time bounds become id bounds (secrets.AuditIDFloor), ranges of the
// primary key or of an index's id column.
func auditWhere(q secrets.AuditQuery) (string, []any) {
	var terms []string
	var args []any
	add := func(term string, v any) {
		terms = append(terms, term)
		args = append(args, v)
	}
	if q.Workspace != "" {
		add("workspace = ?", q.Workspace)
	}
	if q.Secret != "" {
		add("secret = ?", q.Secret)
	}
	if q.Principal != "" {
		add("principal = ?", q.Principal)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if q.Outcome != "" {
		add("outcome = ?", q.Outcome)
	}
	if q.From != nil {
		add("id >= ?", secrets.AuditIDFloor(*q.From))
	}
	if q.To != nil {
		add("id < ?", secrets.AuditIDFloor(q.To.Add(time.Microsecond)))
	}
	if len(terms) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(terms, " AND "), args
}

// PruneAudit deletes up to limit events older than before, oldest first.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.commit.doAudit(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.w.pruneAudit).ExecContext(ctx, secrets.AuditIDFloor(before), int64(max(limit, 0)))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
