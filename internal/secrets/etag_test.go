package secrets

import "testing"

func TestETagChangesWithIDAndRevision(t *testing.T) {
	tags := map[string]string{}
	for _, c := range []struct{ id, rev int64 }{{1, 1}, {1, 2}, {2, 1}, {12, 1}, {1, 21}} {
		tag := ETag(c.id, c.rev)
		if tag != ETag(c.id, c.rev) {
			t.Fatalf("ETag(%d, %d) is not deterministic", c.id, c.rev)
		}
		if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			t.Fatalf("ETag(%d, %d) = %s, want a quoted strong tag", c.id, c.rev, tag)
		}
		if prev, dup := tags[tag]; dup {
			t.Fatalf("ETag(%d, %d) = ETag of %s", c.id, c.rev, prev)
		}
		tags[tag] = tag
	}
}

func TestCondHolds(t *testing.T) {
	cur := ETag(7, 3)
	tests := []struct {
		name    string
		header  []string
		exists  bool
		want    bool
		wantSet bool
	}{
		{"no header", nil, true, true, false},
		{"no header, missing secret", nil, false, true, false},
		{"current tag", []string{cur}, true, true, true},
		{"stale tag", []string{ETag(7, 2)}, true, false, true},
		{"tag of another secret", []string{ETag(8, 3)}, true, false, true},
		{"one of a list", []string{ETag(7, 2) + ", " + cur}, true, true, true},
		{"one of several headers", []string{ETag(7, 2), cur}, true, true, true},
		{"weak tag never matches", []string{"W/" + cur}, true, false, true},
		{"star on an existing secret", []string{"*"}, true, true, true},
		{"star on a missing secret", []string{"*"}, false, false, true},
		{"current tag on a missing secret", []string{cur}, false, false, true},
		{"unquoted tag", []string{cur[1 : len(cur)-1]}, true, false, true},
		{"empty header value", []string{""}, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ParseIfMatch(tt.header)
			if c.Set != tt.wantSet {
				t.Fatalf("Set = %v, want %v", c.Set, tt.wantSet)
			}
			if got := c.Holds(tt.exists, 7, 3); got != tt.want {
				t.Fatalf("Holds = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchesNone(t *testing.T) {
	cur := ETag(1, 1)
	tests := []struct {
		header []string
		want   bool
	}{
		{[]string{cur}, true},
		{[]string{"W/" + cur}, true}, // If-None-Match compares weakly
		{[]string{`"x", ` + cur}, true},
		{[]string{"*"}, true},
		{[]string{ETag(1, 2)}, false},
		{[]string{""}, false},
	}
	for _, tt := range tests {
		if got := MatchesNone(tt.header, cur); got != tt.want {
			t.Errorf("MatchesNone(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestLike(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"hf-token", "hf-token", true},
		{"hf-token", "HF-TOKEN", true},
		{"hf-token", "hf%", true},
		{"hf-token", "%token", true},
		{"hf-token", "%-%", true},
		{"hf-token", "hf_token", true},
		{"hf-token", "hf_", false},
		{"hf-token", "%x%", false},
		{"a%b", `a\%b`, true},
		{"axb", `a\%b`, false},
		{"a_b", `a\_b`, true},
		{"axb", `a\_b`, false},
		{"", "%", true},
		{"", "_", false},
		{"é", "_", true}, // one character, not one byte
		{"abc", "", false},
	}
	for _, tt := range tests {
		if got := Like(tt.s, tt.p); got != tt.want {
			t.Errorf("Like(%q, %q) = %v, want %v", tt.s, tt.p, got, tt.want)
		}
	}
}
