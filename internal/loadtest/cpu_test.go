package loadtest

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestCPUMeterSeesBusyWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux-only")
	}
	m := startCPU(os.Getpid())
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x // keep one core busy
	}
	srv, gen := m.stop()
	if srv == nil || *srv < 0.3 || *srv > float64(runtime.NumCPU())+0.5 {
		t.Fatalf("server cores %v for a busy loop", srv)
	}
	if gen < 0.5 || gen > float64(runtime.NumCPU())+0.5 {
		t.Fatalf("generator cores %.2f for a busy loop", gen)
	}
}
