package reqid

import (
	"context"
	"strings"
	"testing"
)

func TestEnsure(t *testing.T) {
	tests := []struct {
		name, in string
		keep     bool
	}{
		{"plain", "abc-123_X.y", true},
		{"max length", strings.Repeat("a", 128), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"newline", "abc\ninjected", false},
		{"space", "a b", false},
		{"quote", `a"b`, false},
		{"unicode", "abcé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Ensure(tt.in)
			if tt.keep && got != tt.in {
				t.Fatalf("Ensure(%q) = %q, want the client's id kept", tt.in, got)
			}
			if !tt.keep && (got == tt.in || !Valid(got) || len(got) != 26) {
				t.Fatalf("Ensure(%q) = %q, want a new 26-character id", tt.in, got)
			}
		})
	}
}

func TestNewIsUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if seen[id] {
			t.Fatalf("New returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if From(ctx) != "" {
		t.Fatal("an empty context carries an id")
	}
	if got := From(With(ctx, "r1")); got != "r1" {
		t.Fatalf("From(With(r1)) = %q", got)
	}
}

type otherKey struct{}

// TestContextChain: the id context passes other values and cancellation
// through, an inner id wins, and WithHeader's slice is the id.
func TestContextChain(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "v"))
	ctx, hdr := WithHeader(parent, "r1")
	if len(hdr) != 1 || hdr[0] != "r1" || From(ctx) != "r1" {
		t.Fatalf("WithHeader: %q, From %q", hdr, From(ctx))
	}
	if ctx.Value(otherKey{}) != "v" {
		t.Error("a parent's value is lost")
	}
	inner, stop := context.WithCancel(With(ctx, "r2"))
	defer stop()
	if From(inner) != "r2" {
		t.Errorf("inner id = %q", From(inner))
	}
	cancel()
	<-inner.Done() // cancellation reaches through the id context
	if ctx.Err() == nil {
		t.Error("the id context is not cancelled with its parent")
	}
}

func BenchmarkWithHeader(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, _ := WithHeader(ctx, "abc")
		if From(c) != "abc" {
			b.Fatal("lost")
		}
	}
}
