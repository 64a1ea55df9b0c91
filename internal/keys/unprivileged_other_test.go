//go:build !linux

package keys

import (
	"os"
	"testing"
)

// unprivileged runs fn; only Linux can drop root's file permissions for one
// thread, so elsewhere root skips the test.
func unprivileged(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Skip("root reads files regardless of mode")
	}
	fn()
}
