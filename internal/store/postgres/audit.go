package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// The audit trail (migration 5, docs/operations.md "Audit trail").
//
// A write whose context carries a pending audit draft runs in a transaction
// (audited) with the draft's event inserted after the write's statements,
// so the change and its event commit together or not at all. Without a
// draft (background jobs, tests) a write keeps its single round trip.

const auditCols = `id, time, action, outcome, status, workspace, secret, version, principal,
	on_behalf_of, auth_method, request_id, remote_addr, user_agent`

// audited runs the write fn on s, or when ctx carries a pending draft, on
// a copy of s bound to a new transaction that then also inserts the
// draft's event; the draft is marked committed after the commit.
func (s *Store) audited(ctx context.Context, fn func(s *Store) error) error {
	d := secrets.PendingAudit(ctx)
	if d == nil || s.db != dbtx(s.pool) {
		return fn(s)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		in := *s
		in.db = flatTx{tx}
		if err := fn(&in); err != nil {
			return err
		}
		if d.Event.ID == "" {
			d.Event.ID = secrets.NewAuditID(d.Event.Time)
		}
		return insertAudit(ctx, tx, []secrets.AuditEvent{d.Event})
	})
	if err == nil {
		d.MarkCommitted()
	}
	return err
}

// flatTx is the transaction of an audited write as the write's own code
// sees it: its Begin returns the same transaction rather than a savepoint,
// and leaves commit and rollback to audited's BeginFunc (an error still
// rolls everything back: it propagates to there). A savepoint would run
// the write's statements in a subtransaction, with its own xid, and qPrune
// recognises the rows the write changed by the top transaction's xid.
type flatTx struct{ pgx.Tx }

// Begin returns t itself: no savepoint.
func (t flatTx) Begin(context.Context) (pgx.Tx, error) { return t, nil }

// Commit leaves the commit to the outer transaction.
func (t flatTx) Commit(context.Context) error { return nil }

// Rollback leaves the rollback to the outer transaction, which the error
// that caused it reaches.
func (t flatTx) Rollback(context.Context) error { return nil }

// insertAudit inserts es in one multi-row INSERT.
func insertAudit(ctx context.Context, db dbtx, es []secrets.AuditEvent) error {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_events (` + auditCols + `) VALUES `)
	args := make([]any, 0, 14*len(es))
	for i, e := range es {
		if e.ID == "" {
			e.ID = secrets.NewAuditID(e.Time)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range 14 {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("$" + strconv.Itoa(len(args)+j+1))
		}
		b.WriteByte(')')
		args = append(args, e.ID, ts(e.Time), e.Action, e.Outcome, e.Status, e.Workspace, e.Secret, e.Version,
			e.Principal, e.OnBehalfOf, e.AuthMethod, e.RequestID, e.RemoteAddr, e.UserAgent)
	}
	_, err := db.Exec(ctx, b.String(), args...)
	return mapErr(err)
}

// AppendAudit stores events in one multi-row INSERT (one transaction).
// PostgreSQL allows 65535 parameters in a statement, so longer batches
// are split; each part is durable when the call returns.
func (s *Store) AppendAudit(ctx context.Context, events []secrets.AuditEvent) error {
	const perStatement = 65535 / 14
	for len(events) > 0 {
		n := min(len(events), perStatement)
		if err := insertAudit(ctx, s.db, events[:n]); err != nil {
			return err
		}
		events = events[n:]
	}
	return nil
}

// ListAudit returns one page of events, newest first, and how many match,
// in one statement (one snapshot): a count window over the filtered rows.
func (s *Store) ListAudit(ctx context.Context, q secrets.AuditQuery) ([]secrets.AuditEvent, int, error) {
	var args queryArgs
	var terms []string
	eq := func(col, v string) {
		if v != "" {
			terms = append(terms, col+" = "+args.add(v))
		}
	}
	eq("workspace", q.Workspace)
	eq("secret", q.Secret)
	eq("principal", q.Principal)
	eq("action", q.Action)
	eq("outcome", q.Outcome)
	if q.From != nil {
		terms = append(terms, "id >= "+args.add(secrets.AuditIDFloor(*q.From)))
	}
	if q.To != nil {
		terms = append(terms, "id < "+args.add(secrets.AuditIDFloor(q.To.Add(time.Microsecond))))
	}
	where := ""
	if len(terms) > 0 {
		where = " WHERE " + strings.Join(terms, " AND ")
	}
	var total int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM audit_events`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit, offset := args.add(int64(max(q.Limit, 0))), args.add(int64(max(q.Offset, 0)))
	rows, err := s.db.Query(ctx, `SELECT `+auditCols+` FROM audit_events`+where+
		` ORDER BY id DESC LIMIT `+limit+` OFFSET `+offset, args...)
	if err != nil {
		return nil, 0, err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (secrets.AuditEvent, error) {
		var e secrets.AuditEvent
		err := row.Scan(&e.ID, &e.Time, &e.Action, &e.Outcome, &e.Status, &e.Workspace, &e.Secret, &e.Version,
			&e.Principal, &e.OnBehalfOf, &e.AuthMethod, &e.RequestID, &e.RemoteAddr, &e.UserAgent)
		e.Time = utc(e.Time)
		return e, err
	})
	if err != nil {
		return nil, 0, err
	}
	if items == nil {
		items = []secrets.AuditEvent{}
	}
	return items, total, nil
}

// PruneAudit deletes up to limit of the oldest events older than before.
// Replicas pruning at once take disjoint rows (SKIP LOCKED), so none waits
// for another or deletes a row twice.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events
		WHERE id < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`, secrets.AuditIDFloor(before), int64(max(limit, 0)))
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// The write methods of secrets.Store, each audited (the implementations
// are the unexported methods of the same name).

// CreateWorkspace inserts w (workspaces.go).
func (s *Store) CreateWorkspace(ctx context.Context, w secrets.Workspace, admin string) error {
	return s.audited(ctx, func(s *Store) error { return s.createWorkspace(ctx, w, admin) })
}

// UpdateWorkspace applies u (workspaces.go).
func (s *Store) UpdateWorkspace(ctx context.Context, name string, u secrets.WorkspaceUpdate) (w secrets.Workspace, err error) {
	err = s.audited(ctx, func(s *Store) error { w, err = s.updateWorkspace(ctx, name, u); return err })
	return w, err
}

// DeleteWorkspace removes a workspace (workspaces.go).
func (s *Store) DeleteWorkspace(ctx context.Context, name string) error {
	return s.audited(ctx, func(s *Store) error { return s.deleteWorkspace(ctx, name) })
}

// CreateSecret inserts a secret (secrets.go), its event pipelined with it
// (pipelined).
func (s *Store) CreateSecret(ctx context.Context, r secrets.Record) (rec secrets.Record, err error) {
	if d := s.pipelined(ctx); d != nil {
		rec, err = s.createSecret(ctx, r, d)
		return rec, committed(d, rec, err)
	}
	err = s.audited(ctx, func(s *Store) error {
		rec, err = s.createSecret(ctx, r, nil)
		secrets.SetAuditVersion(ctx, rec.Version)
		return err
	})
	return rec, err
}

// UpdateSecret changes a secret (secrets.go); without a Cond its event is
// pipelined with it (pipelined).
func (s *Store) UpdateSecret(ctx context.Context, ws, name string, u secrets.SecretUpdate) (rec secrets.Record, err error) {
	if d := s.pipelined(ctx); d != nil && !u.Cond.Set {
		rec, err = s.updateSecret(ctx, ws, name, u, d)
		return rec, committed(d, rec, err)
	}
	err = s.audited(ctx, func(s *Store) error {
		rec, err = s.updateSecret(ctx, ws, name, u, nil)
		secrets.SetAuditVersion(ctx, rec.Version)
		return err
	})
	return rec, err
}

// pipelined returns the pending draft of a write that can send its event
// in its own round trip (queueEvent) rather than in a transaction of its
// own (audited): three round trips fewer (BEGIN, the event, COMMIT), which
// cost an audited write about a third of its throughput. nil when there is
// no draft, or s is already bound to a transaction.
func (s *Store) pipelined(ctx context.Context) *secrets.AuditDraft {
	if d := secrets.PendingAudit(ctx); d != nil && s.db == dbtx(s.pool) {
		return d
	}
	return nil
}

// committed completes the draft of a pipelined write that returned rec
// and err: on success it records the version written and marks the draft
// committed. It returns err.
func committed(d *secrets.AuditDraft, rec secrets.Record, err error) error {
	if err == nil {
		d.Event.Version = rec.Version
		d.MarkCommitted()
	}
	return err
}

// qAuditWrite inserts the event of the write queued before it in the same
// implicit transaction (one pipelined batch) on the live secret $1/$2, with
// the version the secret now has. Like qPrune it acts only on a row this
// transaction wrote (xmin): a write that found no secret leaves no event
// (its caller records the failure), and a failed statement rolls back the
// whole batch, event included. Parameters are cast: an INSERT … SELECT does
// not infer their types from the columns.
const qAuditWrite = `INSERT INTO audit_events (` + auditCols + `)
	SELECT $3::text, $4::timestamptz, $5::text, $6::text, $7::integer, $8::text, $9::text, s.current_version,
		$10::text, $11::text, $12::text, $13::text, $14::text, $15::text
	FROM secrets AS s WHERE ` + liveByName + ` AND s.xmin = pg_current_xact_id_if_assigned()::xid`

// queueEvent queues d's event after the write on the live secret ws/name
// already queued in b, giving the event its id.
func queueEvent(b *pgx.Batch, ws, name string, d *secrets.AuditDraft) {
	e := &d.Event
	if e.ID == "" {
		e.ID = secrets.NewAuditID(e.Time)
	}
	b.Queue(qAuditWrite, ws, name, e.ID, ts(e.Time), e.Action, e.Outcome, e.Status, e.Workspace, e.Secret,
		e.Principal, e.OnBehalfOf, e.AuthMethod, e.RequestID, e.RemoteAddr, e.UserAgent)
}

// DeleteSecret bins or erases a secret (secrets.go).
func (s *Store) DeleteSecret(ctx context.Context, ws, name string, d secrets.SecretDelete) error {
	return s.audited(ctx, func(s *Store) error { return s.deleteSecret(ctx, ws, name, d) })
}

// ImportSecret stores an imported record (secrets.go).
func (s *Store) ImportSecret(ctx context.Context, r secrets.Record, replace bool, keepN int) (stored bool, err error) {
	err = s.audited(ctx, func(s *Store) error { stored, err = s.importSecret(ctx, r, replace, keepN); return err })
	return stored, err
}

// RestoreVersion copies a version into a new one (versions.go).
func (s *Store) RestoreVersion(ctx context.Context, ws, name string, version int64, u secrets.SecretUpdate) (rec secrets.Record, err error) {
	err = s.audited(ctx, func(s *Store) error {
		rec, err = s.restoreVersion(ctx, ws, name, version, u)
		secrets.SetAuditVersion(ctx, rec.Version)
		return err
	})
	return rec, err
}

// DestroyVersion erases one version's value (versions.go).
func (s *Store) DestroyVersion(ctx context.Context, ws, name string, version int64, cond secrets.Cond) error {
	return s.audited(ctx, func(s *Store) error { return s.destroyVersion(ctx, ws, name, version, cond) })
}

// RestoreDeleted makes a bin entry live again (bin.go).
func (s *Store) RestoreDeleted(ctx context.Context, ws, id string, r secrets.BinRestore) (rec secrets.Record, err error) {
	err = s.audited(ctx, func(s *Store) error { rec, err = s.restoreDeleted(ctx, ws, id, r); return err })
	return rec, err
}

// PurgeDeleted erases a bin entry (bin.go).
func (s *Store) PurgeDeleted(ctx context.Context, ws, id string, now time.Time) error {
	return s.audited(ctx, func(s *Store) error { return s.purgeDeleted(ctx, ws, id, now) })
}

// GrantRoles adds roles (bindings.go).
func (s *Store) GrantRoles(ctx context.Context, ws, principal string, roles []string, by *string, at time.Time) error {
	return s.audited(ctx, func(s *Store) error { return s.grantRoles(ctx, ws, principal, roles, by, at) })
}

// SetRoles makes a principal's roles exactly roles (bindings.go).
func (s *Store) SetRoles(ctx context.Context, ws, principal string, roles []string, by *string, at time.Time) error {
	return s.audited(ctx, func(s *Store) error { return s.setRoles(ctx, ws, principal, roles, by, at) })
}

// RemoveMember deletes a principal's roles (bindings.go).
func (s *Store) RemoveMember(ctx context.Context, ws, principal string) (n int, err error) {
	err = s.audited(ctx, func(s *Store) error { n, err = s.removeMember(ctx, ws, principal); return err })
	return n, err
}
