package secrets

import (
	"strings"
	"testing"
)

func TestCheckSecretName(t *testing.T) {
	tests := []struct {
		name string
		want NameCheck
	}{
		{"hf-token", NameOK}, {"my.key_1", NameOK}, {"ab", NameOK}, {"wandb-api-key", NameOK},
		{"a" + strings.Repeat("b", 62), NameOK},
		{"my key", NameBadChars}, {"team/key", NameBadChars}, {"key!", NameBadChars},
		{"x@y", NameBadChars}, {"a+b", NameBadChars}, {"key#1", NameBadChars},
		{"", NameBadChars}, {"abc\n", NameBadChars},
		{"My-Key", NameBadShape}, {"API-KEY", NameBadShape}, {"openai-Key", NameBadShape},
		{"a", NameBadShape}, {"a" + strings.Repeat("b", 63), NameBadShape}, {"a--b", NameBadShape},
		{"ab-", NameBadShape}, {"1abc", NameBadShape}, {"_ab", NameBadShape}, {"émile", NameBadShape},
	}
	for _, tt := range tests {
		if got := CheckSecretName(tt.name); got != tt.want {
			t.Errorf("CheckSecretName(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestValidWorkspaceName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"ml", true}, {"team@corp.com", true}, {"a+b_c.d-e", true}, {"default", true},
		{"a", false}, {"Ab", false}, {"a--b", false}, {"ab-", false}, {"1ab", false},
		{"ab\n", false}, {"a b", false}, {"a/b", false}, {"a" + strings.Repeat("b", 63), false},
	}
	for _, tt := range tests {
		if got := ValidWorkspaceName(tt.name); got != tt.want {
			t.Errorf("ValidWorkspaceName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
