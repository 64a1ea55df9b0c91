package secrets

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// NameCheck is the outcome of checking a secret name (docs/api.md §3.1).
type NameCheck int

// Outcomes of CheckSecretName, in the order the checks run.
const (
	NameOK       NameCheck = iota
	NameBadChars           // check 1: characters outside letters, numbers, _ - .
	NameBadShape           // check 2: fails the lower-case shape rule
)

// SecretNamePattern is the shape rule as clients display it. Go's regexp has
// no look-around, so the rule itself is implemented in code.
const SecretNamePattern = `^[a-z](?!.*--)[a-z0-9._-]{1,62}(?<!-)$`

// WorkspaceNamePattern is the reference's workspace rule, kept so that
// workspaces exported from NeMo Platform import unchanged.
const WorkspaceNamePattern = `^[a-z](?!.*--)[a-z0-9\-@.+_]{1,62}(?<!-)$`

// CheckSecretName runs the two checks of docs/api.md §3.1 in order.
func CheckSecretName(name string) NameCheck {
	if name == "" || !utf8.ValidString(name) {
		return NameBadChars
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '_' && r != '-' && r != '.' {
			return NameBadChars
		}
	}
	if !validShape(name, "._-") {
		return NameBadShape
	}
	return NameOK
}

// ValidWorkspaceName reports whether name satisfies docs/api.md §3.2.
func ValidWorkspaceName(name string) bool { return validShape(name, "-@.+_") }

// validShape checks: first byte a-z, length 2–63, only a-z, 0-9 and extra,
// no "--", last byte not '-'.
func validShape(name, extra string) bool {
	if len(name) < 2 || len(name) > 63 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	if strings.Contains(name, "--") || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}
