package main

import (
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	quarter := func() float64 { return 0.25 }
	tests := []struct {
		name     string
		what     string
		total    int64
		fraction func() float64
		done     int64
		after    time.Duration
		want     string
	}{
		{"counted", "import-env", 10, nil, 5, 2 * time.Second, "import-env: 5/10, 2.5/s, ETA 2s, 2s elapsed"},
		{"share of the input", "import", 0, quarter, 100, 10 * time.Second, "import: 100 (25% of the input), 10.0/s, ETA 30s, 10s elapsed"},
		{"one request", "rotation", 0, nil, 0, 3 * time.Second, "rotation: waiting for the server, 3s elapsed"},
		{"nothing done yet", "import-env", 4, nil, 0, time.Second, "import-env: 0/4, 1s elapsed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &progress{what: tt.what, start: start, total: tt.total, fraction: tt.fraction}
			p.done.Store(tt.done)
			if got := p.line(start.Add(tt.after)); got != tt.want {
				t.Errorf("line = %q, want %q", got, tt.want)
			}
		})
	}
}
