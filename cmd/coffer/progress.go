package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often a progress line is redrawn at most.
const progressEvery = 250 * time.Millisecond

// progress draws one self-overwriting line on a terminal while a long
// operation runs: done / total, the rate and the time left. On anything but
// a terminal it draws nothing, so logs and pipes get only the final summary
// line that the commands print in any case.
type progress struct {
	w     io.Writer // nil: not a terminal
	what  string
	start time.Time
	done  atomic.Int64
	// total is the number of items, or 0 when unknown; fraction, when set,
	// gives the share done when the total is not a count (bytes read).
	total    int64
	fraction func() float64

	mu    sync.Mutex
	drawn time.Time
	stop  chan struct{}
	ended sync.WaitGroup
}

// newProgress starts a progress line on w (stderr) if it is a terminal; it
// is redrawn by add and, for operations that report nothing while they run,
// every second until finish.
func newProgress(w io.Writer, what string, total int64, fraction func() float64) *progress {
	p := &progress{what: what, start: time.Now(), total: total, fraction: fraction, stop: make(chan struct{})}
	if !isTerminalWriter(w) {
		return p
	}
	p.w = w
	p.ended.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw(true)
			}
		}
	})
	return p
}

// add counts n more items done.
func (p *progress) add(n int) {
	p.done.Add(int64(n))
	p.draw(false)
}

// finish stops redrawing and clears the line, so that what follows (the
// summary) starts on a clean line.
func (p *progress) finish() {
	close(p.stop)
	p.ended.Wait()
	if p.w != nil {
		p.mu.Lock()
		fmt.Fprint(p.w, "\r\x1b[K")
		p.mu.Unlock()
	}
}

// clear erases the line (before other output on the terminal); the next
// add draws it again.
func (p *progress) clear() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\x1b[K")
	p.drawn = time.Time{}
}

// elapsed is the time since the start, rounded for a summary line.
func (p *progress) elapsed() time.Duration {
	return time.Since(p.start).Round(100 * time.Millisecond)
}

func (p *progress) draw(force bool) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !force && now.Sub(p.drawn) < progressEvery {
		return
	}
	p.drawn = now
	fmt.Fprint(p.w, "\r\x1b[K"+p.line(now))
}

// line is the text of the progress line at now.
func (p *progress) line(now time.Time) string {
	done := p.done.Load()
	secs := now.Sub(p.start).Seconds()
	if done == 0 && p.total == 0 && p.fraction == nil {
		// One request that reports only when it ends (rotation).
		return fmt.Sprintf("%s: waiting for the server, %s elapsed", p.what, time.Duration(secs*float64(time.Second)).Round(time.Second))
	}
	text := fmt.Sprintf("%s: %d", p.what, done)
	share := -1.0
	switch {
	case p.total > 0:
		text += fmt.Sprintf("/%d", p.total)
		share = float64(done) / float64(p.total)
	case p.fraction != nil:
		share = p.fraction()
		text += fmt.Sprintf(" (%.0f%% of the input)", 100*share)
	}
	if done > 0 && secs > 0 {
		text += fmt.Sprintf(", %.1f/s", float64(done)/secs)
	}
	if share > 0 && share < 1 {
		left := time.Duration(secs * (1 - share) / share * float64(time.Second))
		text += ", ETA " + left.Round(time.Second).String()
	}
	return text + fmt.Sprintf(", %s elapsed", time.Duration(secs*float64(time.Second)).Round(time.Second))
}

// isTerminalWriter treats a character device as a terminal, as isTerminal
// does for stdin.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&fs.ModeCharDevice != 0
}

// countingReader counts the bytes read through it, for the share of an
// input consumed.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
