package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Group commit (docs/storage.md).
//
// With synchronous=FULL a COMMIT returns only after the WAL is fsynced, which
// costs far more (about a millisecond on a virtual disk) than the statements of
// a write (microseconds). With one transaction per write, concurrent writers
// queue on the single writer connection and the store completes about one write
// per fsync, however many are waiting.
//
// A committer is the only user of the writer connection. Writes are queued to
// it; it takes everything queued (up to maxBatch writes) and runs it in ONE
// transaction, each write inside its own SAVEPOINT, then commits once. A
// write that fails (a unique violation, not found, the last-admin rule, ...)
// is rolled back to its savepoint alone and reports its own error; the others
// commit. While that COMMIT waits for its fsync the next writes queue up, so
// under load one fsync acknowledges many writes, and a lone write on an idle
// store still commits at once: the committer never waits for company.
//
// Durability is that of one transaction per write: a write's result is
// delivered only after the COMMIT of its transaction returned. If that
// COMMIT fails, every write that ran in the transaction gets the error, and
// none of them is stored.

// A write's audit event (secrets.PendingAudit) is not inserted in its
// savepoint but with the events of the batch's other successful writes, in
// multi-row statements after the last write and before the COMMIT: the
// change and its event still commit together or not at all, and the events
// cost a statement per batch instead of one per write and are not copied
// into each savepoint's journal. If that insert fails (an I/O error; the
// table has no constraint a well-formed event can break), every write of the
// batch gets the error, as with a failed COMMIT, and none of them is stored.

// maxBatch bounds the writes of one transaction, and so the time between the
// first write's statements and its acknowledgement (256 writes run in a few
// milliseconds); a longer queue is committed in several transactions.
const maxBatch = 256

// errClosed is returned for a write submitted after Close.
var errClosed = errors.New("sqlite: store is closed")

// writeFunc is one write: it runs its statements in tx, which is shared with
// the other writes of a batch, and returns the error its caller gets. It
// must not commit or roll back tx.
type writeFunc func(ctx context.Context, tx *sql.Tx) error

// insertFunc inserts audit events in tx (Store.insertAudit), giving each
// one without an id an id.
type insertFunc func(ctx context.Context, tx *sql.Tx, es []secrets.AuditEvent) error

// committer runs queued writes in group transactions on the writer pool.
type committer struct {
	db                             *sql.DB
	savepoint, release, rollbackTo *sql.Stmt

	mu     sync.RWMutex // held to send on queue; Lock to close it
	closed bool
	queue  chan *write
	done   chan struct{} // closed when run returns

	// Counters for tests and benchmarks: transactions committed, and the
	// writes that ran in them (including those that reported their own error).
	commits, writes atomic.Int64
	// onCommit, when set, is told the size and duration of each committed
	// transaction (metrics).
	onCommit func(batch int, d time.Duration)

	// cache, when set, keeps its entries across a transaction whose writes
	// all only appended audit events (readCache.carry).
	cache *readCache

	// insertEvents stores the events of a batch's successful writes.
	insertEvents insertFunc
}

// A write moves from queued to running when the committer starts it, or from
// queued to abandoned when its caller gives up first; never both.
const (
	queued int32 = iota
	running
	abandoned
)

// write is a queued writeFunc and its outcome.
type write struct {
	ctx   context.Context
	fn    writeFunc
	audit bool // it only appends audit events: no cached answer changes
	// draft, when set, is the write's event, stored with it if it succeeds.
	draft *secrets.AuditDraft
	state atomic.Int32
	err   error         // the outcome, set before done is closed
	done  chan struct{} // closed when err is final
}

// writePanic is the outcome of a writeFunc that panicked. The committer
// rolls the write back and do panics with it in the caller's goroutine, as
// the call would have without the committer (net/http recovers a handler's
// panic; a panic in the committer's goroutine would end the process).
type writePanic struct {
	value any
	stack []byte // where it panicked, in the committer's goroutine
}

func (p *writePanic) Error() string {
	return fmt.Sprintf("%v\n\ngoroutine of the write (sqlite committer):\n%s", p.value, p.stack)
}

// newCommitter prepares the savepoint statements on db and starts the
// committer goroutine; onCommit and cache may be nil.
func newCommitter(ctx context.Context, db *sql.DB, onCommit func(batch int, d time.Duration), cache *readCache,
	insertEvents insertFunc) (*committer, error) {
	c := &committer{db: db, queue: make(chan *write, maxBatch), done: make(chan struct{}), onCommit: onCommit,
		cache: cache, insertEvents: insertEvents}
	// One name serves all: a batch's writes run one after the other, and a
	// failed write's savepoint is released after being rolled back to.
	err := prepareAll(ctx, db, map[**sql.Stmt]string{
		&c.savepoint:  `SAVEPOINT write`,
		&c.release:    `RELEASE write`,
		&c.rollbackTo: `ROLLBACK TO write`,
	})
	if err != nil {
		c.closeStmts()
		return nil, err
	}
	go c.run()
	return c, nil
}

// do runs fn in the next group transaction and returns its error once that
// transaction has committed (or the commit's error). If ctx is done before
// fn starts, fn never runs and do returns ctx.Err(); once fn has started its
// outcome stands, and do waits for it. fn's context carries ctx's values but
// is never cancelled: the driver interrupts a statement whose context ends,
// and an interrupted statement rolls back the whole shared transaction.
func (c *committer) do(ctx context.Context, fn writeFunc) error {
	return c.run1(ctx, &write{ctx: ctx, fn: fn, done: make(chan struct{})})
}

// doWithEvent is do for a write whose event d is stored in the same
// transaction when fn succeeds; d.Event.ID is set then. The caller marks d
// committed once this returned nil.
func (c *committer) doWithEvent(ctx context.Context, fn writeFunc, d *secrets.AuditDraft) error {
	return c.run1(ctx, &write{ctx: ctx, fn: fn, draft: d, done: make(chan struct{})})
}

// doAudit is do for a write that only appends audit events: a transaction
// of such writes alone leaves the read cache valid.
func (c *committer) doAudit(ctx context.Context, fn writeFunc) error {
	return c.run1(ctx, &write{ctx: ctx, fn: fn, audit: true, done: make(chan struct{})})
}

// run1 queues w and waits for its outcome (do).
func (c *committer) run1(ctx context.Context, w *write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.enqueue(ctx, w); err != nil {
		return err
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		if w.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err() // the committer will skip it
		}
		<-w.done // it has started: report its outcome
	}
	if p, ok := w.err.(*writePanic); ok {
		panic(p)
	}
	return w.err
}

// enqueue hands w to the committer unless the store is closed.
func (c *committer) enqueue(ctx context.Context, w *write) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return errClosed
	}
	select {
	case c.queue <- w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops accepting writes, waits until those already queued are
// committed, and closes the statements.
func (c *committer) close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	<-c.done
	return c.closeStmts()
}

func (c *committer) closeStmts() error {
	return closeAll(c.savepoint, c.release, c.rollbackTo)
}

// run commits batches until the queue is closed and drained. It waits only
// for the first write of a batch; the rest is whatever is queued by then.
func (c *committer) run() {
	defer close(c.done)
	batch := make([]*write, 0, maxBatch)
	for first := range c.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case w, ok := <-c.queue:
				if !ok {
					break fill
				}
				batch = append(batch, w)
			default:
				break fill
			}
		}
		c.commit(batch)
	}
}

// commit runs batch in one transaction and delivers each write's outcome
// after the COMMIT. Writes abandoned by their callers are skipped.
func (c *committer) commit(batch []*write) {
	start := time.Now()
	// Not a caller's context: database/sql rolls a transaction back when the
	// context given to BeginTx ends, and this one is shared.
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		for _, w := range batch {
			if w.state.CompareAndSwap(queued, running) {
				w.finish(err)
			}
		}
		return
	}
	// Read with the write lock held (BEGIN IMMEDIATE): until COMMIT no other
	// connection can commit, so what moves the header from here on is this
	// transaction (readCache.carry).
	auditOnly := true
	for _, w := range batch {
		auditOnly = auditOnly && w.audit
	}
	var before stamp
	if auditOnly {
		before = c.cache.holdAudit()
		defer c.cache.release()
	}
	sp := c.bind(tx)
	ran := make([]*write, 0, len(batch))
	for i, w := range batch {
		if !w.state.CompareAndSwap(queued, running) {
			continue // abandoned: its caller has returned ctx.Err()
		}
		if err := w.ctx.Err(); err != nil {
			w.finish(err) // it never ran
			continue
		}
		ran = append(ran, w)
		var txErr error
		if w.err, txErr = sp.apply(tx, w); txErr != nil {
			// SQLite rolled the transaction back (an I/O error, a full
			// disk): the writes that ran are lost. Those not started yet
			// get a transaction of their own.
			tx.Rollback()
			finishAll(ran, txErr)
			if rest := batch[i+1:]; len(rest) > 0 {
				c.commit(rest)
			}
			return
		}
	}
	if len(ran) == 0 {
		tx.Rollback() // nothing written: nothing to sync
		return
	}
	if err := c.insertDrafts(tx, ran); err != nil {
		tx.Rollback()
		finishAll(ran, err)
		return
	}
	if err := tx.Commit(); err != nil { // the driver rolls back a failed COMMIT
		finishAll(ran, err)
		return
	}
	if auditOnly {
		c.cache.carry(before) // before the callers learn of the commit
	}
	c.commits.Add(1)
	c.writes.Add(int64(len(ran)))
	if c.onCommit != nil {
		c.onCommit(len(ran), time.Since(start))
	}
	for _, w := range ran {
		w.finish(w.err)
	}
}

// insertDrafts inserts the events of the writes in ran that succeeded, in
// their order, and sets their ids.
func (c *committer) insertDrafts(tx *sql.Tx, ran []*write) error {
	var es []secrets.AuditEvent
	for _, w := range ran {
		if w.err == nil && w.draft != nil {
			es = append(es, w.draft.Event)
		}
	}
	if len(es) == 0 {
		return nil
	}
	if err := c.insertEvents(context.Background(), tx, es); err != nil {
		return err
	}
	for _, w := range ran {
		if w.err == nil && w.draft != nil {
			w.draft.Event.ID, es = es[0].ID, es[1:]
		}
	}
	return nil
}

// savepoints are the committer's savepoint statements, those every write
// runs bound to one transaction once per batch rather than once per write
// (binding allocates and locks); ROLLBACK TO, rarely needed, is bound when
// it is.
type savepoints struct {
	open, release, rollbackTo *sql.Stmt
}

// bind binds the savepoint statements to tx.
func (c *committer) bind(tx *sql.Tx) savepoints {
	return savepoints{open: tx.Stmt(c.savepoint), release: tx.Stmt(c.release), rollbackTo: c.rollbackTo}
}

// apply runs w in its own savepoint of tx, which sp is bound to. opErr is
// w's outcome; txErr reports that tx itself is no longer usable.
func (sp savepoints) apply(tx *sql.Tx, w *write) (opErr, txErr error) {
	ctx := context.WithoutCancel(w.ctx)
	if _, err := sp.open.ExecContext(ctx); err != nil {
		return err, err
	}
	if opErr = w.call(ctx, tx); opErr == nil {
		_, txErr = sp.release.ExecContext(ctx)
		return txErr, txErr
	}
	// ROLLBACK TO undoes the write but keeps its savepoint open; RELEASE
	// then removes it, which commits nothing on its own. Either fails only
	// when SQLite has already rolled the whole transaction back.
	if _, err := tx.StmtContext(ctx, sp.rollbackTo).ExecContext(ctx); err != nil {
		return opErr, err
	}
	if _, err := sp.release.ExecContext(ctx); err != nil {
		return opErr, err
	}
	return opErr, nil
}

// call runs w.fn, turning a panic into a *writePanic outcome.
func (w *write) call(ctx context.Context, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &writePanic{value: p, stack: debug.Stack()}
		}
	}()
	return w.fn(ctx, tx)
}

// finish delivers err as w's outcome.
func (w *write) finish(err error) {
	w.err = err
	close(w.done)
}

// finishAll delivers err to every write in ws.
func finishAll(ws []*write, err error) {
	for _, w := range ws {
		w.finish(err)
	}
}
