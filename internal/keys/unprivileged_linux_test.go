package keys

import (
	"os"
	"runtime"
	"syscall"
	"testing"
)

// unprivileged runs fn with the permission checks of an ordinary user even
// when the tests run as root (as in CI): fn runs on a locked thread whose
// file-system uid is nobody's, which only that thread's file access uses.
func unprivileged(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		fn()
		return
	}
	runtime.LockOSThread()
	if err := syscall.Setfsuid(65534); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setfsuid: %v", err)
	}
	defer func() {
		syscall.Setfsuid(0) // root may always return to uid 0
		runtime.UnlockOSThread()
	}()
	fn()
}
