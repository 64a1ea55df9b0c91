package server

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records what reaches the underlying writer and in how many
// writes.
type countingWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.b.Write(p)
}

func (w *countingWriter) get() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String(), w.writes
}

func TestLogBufferFlushesPromptly(t *testing.T) {
	w := &countingWriter{}
	b := NewLogBuffer(w)
	defer b.Close()
	start := time.Now()
	for i := range 100 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	for {
		if got, _ := w.get(); strings.Count(got, "\n") == 100 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("lines not flushed within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	got, writes := w.get()
	if writes > 10 {
		t.Errorf("100 lines took %d writes; want them batched", writes)
	}
	var want strings.Builder
	for i := range 100 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if got != want.String() {
		t.Errorf("got %q", got)
	}
	// A later line is flushed by a new timer.
	fmt.Fprintf(b, "later\n")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if got, _ := w.get(); strings.HasSuffix(got, "later\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("later line not flushed")
		}
	}
}

func TestLogBufferCloseFlushes(t *testing.T) {
	w := &countingWriter{}
	b := NewLogBuffer(w)
	b.Write([]byte("pending\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.get(); got != "pending\n" {
		t.Fatalf("after Close: %q", got)
	}
	b.Write([]byte("after close\n")) // written through at once
	if got, _ := w.get(); got != "pending\nafter close\n" {
		t.Fatalf("write after Close: %q", got)
	}
}

func TestLogBufferKeepsOrderAcrossSizes(t *testing.T) {
	w := &countingWriter{}
	b := NewLogBuffer(w)
	big := strings.Repeat("x", logBufferSize+1) + "\n"
	var want strings.Builder
	for i := range 3 * logBufferSize / 100 {
		line := fmt.Sprintf("%099d\n", i)[1:] // 99 bytes
		b.Write([]byte(line))
		want.WriteString(line)
		if i == 100 {
			b.Write([]byte(big))
			want.WriteString(big)
		}
	}
	b.Close()
	if got, _ := w.get(); got != want.String() {
		t.Fatal("lines reordered or lost")
	}
}

func TestLogBufferConcurrentWriters(t *testing.T) {
	w := &countingWriter{}
	b := NewLogBuffer(w)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				fmt.Fprintf(b, "g%d line %d\n", g, i)
			}
		})
	}
	wg.Wait()
	b.Close()
	got, _ := w.get()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 8000 {
		t.Fatalf("%d lines, want 8000", len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l] = true
	}
	if len(seen) != 8000 {
		t.Fatalf("%d distinct lines, want 8000", len(seen))
	}
}
