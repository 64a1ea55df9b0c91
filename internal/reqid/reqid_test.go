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
