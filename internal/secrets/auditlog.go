package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// AuditLog writes the events that do not commit with a write of their own
// (reads, failed writes, denied requests, key rotation) to the store in
// batches, and copies every stored event to the optional JSON-lines sink
// (docs/operations.md, "Audit trail").
//
// One goroutine batches: Enqueue (async) events wait at most the flush
// interval; Write (sync) flushes at once with whatever is queued and
// returns when the batch is durable. While a batch is being written the
// next one gathers, so under load one store transaction holds many events
// (on SQLite AppendAudit is itself one write of the group commit).
type AuditLog struct {
	store    Store
	interval time.Duration
	log      *slog.Logger
	in       chan auditItem
	done     chan struct{}
	sink     *auditSink // nil without a sink

	closeOnce sync.Once
	mu        sync.RWMutex // held to send on in; Lock to close it
	closed    bool

	written, failed atomic.Int64
}

// AuditLogConfig configures an AuditLog.
type AuditLogConfig struct {
	Store         Store
	FlushInterval time.Duration // the longest an async event waits; 10ms when 0
	// Sink, when not nil, receives each stored event as one JSON line,
	// written by a background goroutine: a slow or failing sink never
	// delays a request, its failures are logged and counted.
	Sink   io.Writer
	Logger *slog.Logger
}

// auditBatchMax bounds the events of one AppendAudit.
const auditBatchMax = 1024

type auditItem struct {
	e    AuditEvent
	done chan error // nil for async
}

// NewAuditLog starts an AuditLog; Close stops it.
func NewAuditLog(cfg AuditLogConfig) *AuditLog {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 10 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &AuditLog{store: cfg.Store, interval: cfg.FlushInterval, log: cfg.Logger,
		in: make(chan auditItem, 4*auditBatchMax), done: make(chan struct{})}
	if cfg.Sink != nil {
		l.sink = newAuditSink(cfg.Sink, cfg.Logger)
	}
	go l.run()
	return l
}

// errAuditClosed is returned for an event written after Close.
var errAuditClosed = errors.New("audit log is closed")

// Enqueue stores e within the flush interval, without waiting for it. It
// waits only when the queue is full (the store is behind), so events are
// never dropped while the process runs; a crash loses at most the events
// of the last flush interval.
func (l *AuditLog) Enqueue(ctx context.Context, e AuditEvent) {
	if err := l.send(ctx, auditItem{e: e}); err != nil {
		l.failed.Add(1)
		l.log.Error("audit event not recorded", "action", e.Action, "request_id", e.RequestID, "error", err.Error())
	}
}

// Write stores e and returns once it is durable, or the error that kept
// it from being stored.
func (l *AuditLog) Write(ctx context.Context, e AuditEvent) error {
	done := make(chan error, 1)
	if err := l.send(ctx, auditItem{e: e, done: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stored reports an event a write committed itself (an AuditDraft): it
// goes to the sink and the counters.
func (l *AuditLog) Stored(e AuditEvent) {
	l.written.Add(1)
	l.sink.put(e)
}

// EventsWritten is the number of events stored so far by this process.
func (l *AuditLog) EventsWritten() int64 { return l.written.Load() }

// EventsFailed is the number of events that could not be stored.
func (l *AuditLog) EventsFailed() int64 { return l.failed.Load() }

// SinkFailures is the number of events the sink failed to write or had to
// drop because it was behind.
func (l *AuditLog) SinkFailures() int64 {
	if l.sink == nil {
		return 0
	}
	return l.sink.failures.Load()
}

func (l *AuditLog) send(ctx context.Context, it auditItem) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return errAuditClosed
	}
	if it.e.ID == "" {
		it.e.ID = NewAuditID(it.e.Time)
	}
	select {
	case l.in <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stores the queued events, stops the batcher and flushes the sink.
func (l *AuditLog) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.in)
		l.mu.Unlock()
		<-l.done
		l.sink.close()
	})
	return nil
}

// run gathers batches: a sync event or a full batch flushes at once, else
// the first async event of a batch starts the flush interval.
func (l *AuditLog) run() {
	defer close(l.done)
	var batch []auditItem
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var tick <-chan time.Time
		if len(batch) > 0 {
			tick = timer.C
		}
		select {
		case it, ok := <-l.in:
			if !ok {
				l.flush(batch)
				return
			}
			if len(batch) == 0 && it.done == nil {
				timer.Reset(l.interval)
			}
			batch = append(batch, it)
			if it.done == nil && len(batch) < auditBatchMax {
				continue
			}
			batch = l.drain(batch)
		case <-tick:
		}
		timer.Stop()
		l.flush(batch)
		batch = batch[:0]
	}
}

// drain adds what is queued already, up to a full batch.
func (l *AuditLog) drain(batch []auditItem) []auditItem {
	for len(batch) < auditBatchMax {
		select {
		case it, ok := <-l.in:
			if !ok {
				return batch
			}
			batch = append(batch, it)
		default:
			return batch
		}
	}
	return batch
}

// flush stores batch in one AppendAudit and reports to its sync writers.
func (l *AuditLog) flush(batch []auditItem) {
	if len(batch) == 0 {
		return
	}
	es := make([]AuditEvent, len(batch))
	for i, it := range batch {
		es[i] = it.e
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := l.store.AppendAudit(ctx, es)
	cancel()
	if err != nil {
		l.failed.Add(int64(len(es)))
		l.log.Error("audit events not recorded", "events", len(es), "error", err.Error())
	} else {
		l.written.Add(int64(len(es)))
		for _, e := range es {
			l.sink.put(e)
		}
	}
	for _, it := range batch {
		if it.done != nil {
			it.done <- err
		}
	}
}

// auditSink appends events as JSON lines from its own goroutine.
type auditSink struct {
	w        io.Writer
	log      *slog.Logger
	q        chan AuditEvent
	done     chan struct{}
	failures atomic.Int64
}

// auditSinkQueue bounds the events waiting for the sink; beyond it events
// are dropped (and counted) rather than holding up requests.
const auditSinkQueue = 4096

func newAuditSink(w io.Writer, log *slog.Logger) *auditSink {
	s := &auditSink{w: w, log: log, q: make(chan AuditEvent, auditSinkQueue), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *auditSink) put(e AuditEvent) {
	if s == nil {
		return
	}
	select {
	case s.q <- e:
	default:
		s.fail(errors.New("sink queue full, event dropped"))
	}
}

func (s *auditSink) fail(err error) {
	// Logged at most once per 1000 failures: a broken disk must not flood
	// the log in turn.
	if s.failures.Add(1)%1000 == 1 {
		s.log.Error("audit file sink failed", "failures", s.failures.Load(), "error", err.Error())
	}
}

func (s *auditSink) run() {
	defer close(s.done)
	var buf []byte
	for e := range s.q {
		buf = append(AppendAuditJSON(buf[:0], e), '\n')
		// Everything already queued goes out in the same write.
	more:
		for len(buf) < 1<<16 {
			select {
			case e, ok := <-s.q:
				if !ok {
					break more
				}
				buf = append(AppendAuditJSON(buf, e), '\n')
			default:
				break more
			}
		}
		if _, err := s.w.Write(buf); err != nil {
			s.fail(err)
		}
	}
}

func (s *auditSink) close() {
	if s == nil {
		return
	}
	close(s.q)
	<-s.done
}

// AuditJSON is the JSON shape of an event, in the query API and the sink
// (docs/operations.md, "Audit trail").
type AuditJSON struct {
	ID         string `json:"id"`
	Time       string `json:"time"`
	Action     string `json:"action"`
	Outcome    string `json:"outcome"`
	Status     int    `json:"status"`
	Workspace  string `json:"workspace,omitempty"`
	Secret     string `json:"secret,omitempty"`
	Version    int64  `json:"version,omitempty"`
	Principal  string `json:"principal,omitempty"`
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	AuthMethod string `json:"auth_method,omitempty"`
	RequestID  string `json:"request_id,omitempty"`
	RemoteAddr string `json:"remote_addr,omitempty"`
	UserAgent  string `json:"user_agent,omitempty"`
}

// ToJSON returns e's JSON shape; the time in RFC 3339 with microseconds.
func (e AuditEvent) ToJSON() AuditJSON {
	return AuditJSON{ID: e.ID, Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), Action: e.Action,
		Outcome: e.Outcome, Status: e.Status, Workspace: e.Workspace, Secret: e.Secret, Version: e.Version,
		Principal: e.Principal, OnBehalfOf: e.OnBehalfOf, AuthMethod: e.AuthMethod, RequestID: e.RequestID,
		RemoteAddr: e.RemoteAddr, UserAgent: e.UserAgent}
}

// AppendAuditJSON appends e as one JSON object.
func AppendAuditJSON(b []byte, e AuditEvent) []byte {
	out, err := json.Marshal(e.ToJSON())
	if err != nil { // strings and numbers only: cannot happen
		return b
	}
	return append(b, out...)
}
