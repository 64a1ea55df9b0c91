package loadtest

import (
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Phase is the outcome of driving one operation at one concurrency.
type Phase struct {
	Requests        uint64        // completed in the measured window, any status
	HTTPErrors      uint64        // responses outside 2xx
	TransportErrors uint64        // no response at all (refused, reset, timeout)
	FirstError      string        // one example, to make a failed run diagnosable
	Elapsed         time.Duration // measured window, first start to last finish
	Latency         Histogram
}

// RPS is completed requests per second over the measured window.
func (p *Phase) RPS() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Requests) / p.Elapsed.Seconds()
}

// worker is one connection's closed loop; its counters are private until the
// phase ends, so the hot path takes no locks.
type worker struct {
	client *http.Client
	op     opFunc
	rng    *mrand.Rand
	p      Phase
	last   time.Time
	halted *atomic.Bool
}

// drive runs op on conc connections: warmup first (discarded: it opens the
// connections and lets the server's caches and the Go runtimes settle), then
// the measured duration. A request started before the end is waited for.
func drive(ctx context.Context, client *http.Client, op opFunc, conc int, warmup, duration time.Duration, seed uint64) *Phase {
	var halted atomic.Bool // cheaper per request than ctx.Err(), which locks
	defer context.AfterFunc(ctx, func() { halted.Store(true) })()
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	workers := make([]*worker, conc)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{client: client, op: op, rng: mrand.New(mrand.NewPCG(seed, uint64(i))), halted: &halted}
		workers[i] = w
		wg.Go(func() { w.run(measureFrom, end) })
	}
	wg.Wait()
	return mergeWorkers(workers, measureFrom)
}

func (w *worker) run(measureFrom, end time.Time) {
	for {
		t0 := time.Now()
		if !t0.Before(end) || w.halted.Load() {
			return
		}
		status, err := w.once()
		t1 := time.Now()
		if t0.Before(measureFrom) {
			continue
		}
		w.last = t1
		w.count(status, err, t1.Sub(t0))
		if err != nil {
			time.Sleep(10 * time.Millisecond) // a dead server must not become a busy loop
		}
	}
}

// once sends one request and drains the body, so the connection is reusable
// and the latency includes the whole response.
func (w *worker) once() (int, error) {
	resp, err := w.client.Do(w.op(w.rng))
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

func (w *worker) count(status int, err error, d time.Duration) {
	switch {
	case err != nil:
		w.p.TransportErrors++
		if w.p.FirstError == "" {
			w.p.FirstError = err.Error()
		}
		return
	case status < 200 || status > 299:
		w.p.HTTPErrors++
		if w.p.FirstError == "" {
			w.p.FirstError = fmt.Sprintf("HTTP status %d", status)
		}
	}
	w.p.Requests++
	w.p.Latency.Record(d)
}

func mergeWorkers(workers []*worker, measureFrom time.Time) *Phase {
	out := &Phase{}
	last := measureFrom
	for _, w := range workers {
		out.Requests += w.p.Requests
		out.HTTPErrors += w.p.HTTPErrors
		out.TransportErrors += w.p.TransportErrors
		if out.FirstError == "" {
			out.FirstError = w.p.FirstError
		}
		out.Latency.Merge(&w.p.Latency)
		if w.last.After(last) {
			last = w.last
		}
	}
	out.Elapsed = last.Sub(measureFrom)
	return out
}
