package loadtest

import (
	"os"
	"runtime"
	"testing"
)

func TestPeakRSSOfSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux-only")
	}
	before, err := peakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before < 1<<20 {
		t.Fatalf("peak RSS %d bytes is implausibly small", before)
	}
	if err := resetPeakRSS(os.Getpid()); err != nil {
		t.Logf("reset not permitted here: %v", err)
	}
	if _, err := peakRSS(1 << 30); err == nil {
		t.Fatal("a missing process must be an error")
	}
}
