package server

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/reqid"
)

// NewLogger returns the logger described by coffer.log. A line logged with
// a request's context ends with that request's id (request_id), so the
// lines of one request can be found from the X-Request-Id a client saw.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(requestIDHandler{slog.NewJSONHandler(w, opts)})
	}
	return slog.New(requestIDHandler{slog.NewTextHandler(w, opts)})
}

// requestIDHandler adds the request id a record's context carries.
type requestIDHandler struct{ slog.Handler }

// Handle adds request_id to r when ctx carries one. r is the handler's own
// copy (slog passes records by value and its callers do not reuse them).
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := reqid.From(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the request id on loggers derived with With.
func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

// WithGroup keeps the request id on loggers derived with WithGroup.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// LogFlushInterval is the longest a line waits in a LogBuffer.
const LogFlushInterval = 10 * time.Millisecond

// logBufferSize is how many bytes a LogBuffer holds before it writes at once.
const logBufferSize = 64 << 10

// LogBuffer batches log lines into few writes. Every /access writes an audit
// line, and one write system call per line was a measurable part of the
// access path's CPU; batched, a busy server writes about every
// LogFlushInterval instead of once per request. A line reaches w at most
// LogFlushInterval after it was logged (sooner when 64 KiB are pending), and
// Close writes whatever is pending: `coffer serve` closes it on its way out,
// after shutdown. What a crash loses is at most the last LogFlushInterval of
// lines. It is safe for concurrent use.
type LogBuffer struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte      // pending lines; the timer runs while it is not empty
	timer  *time.Timer // flushes LogFlushInterval after buf stopped being empty
	closed bool        // writes go straight to w
}

// NewLogBuffer returns a LogBuffer writing to w.
func NewLogBuffer(w io.Writer) *LogBuffer {
	b := &LogBuffer{w: w, buf: make([]byte, 0, logBufferSize)}
	b.timer = time.AfterFunc(time.Hour, func() { b.Flush() })
	b.timer.Stop()
	return b
}

// Write queues p, a whole line as slog writes it.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(b.buf) {
			return b.w.Write(p)
		}
	}
	if len(b.buf) == 0 {
		b.timer.Reset(LogFlushInterval)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes the pending lines now.
func (b *LogBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

// Close flushes and makes later writes go straight to w.
func (b *LogBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.timer.Stop()
	return b.flushLocked()
}

func (b *LogBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}
