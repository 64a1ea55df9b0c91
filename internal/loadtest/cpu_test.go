package loadtest

import (
	"math"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestCPUMeterSeesBusyWork measures this process as both "server" (from
// /proc/<pid>/stat) and generator (getrusage): the two sources must agree,
// and the machine-wide figure must include them. The loop runs until the
// process has used 300 ms of CPU, so a loaded CI machine slows the test
// rather than failing it.
func TestCPUMeterSeesBusyWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux-only")
	}
	m := startCPU(os.Getpid())
	for from := selfCPU(); selfCPU()-from < 300*time.Millisecond; {
		for x := range 100000 {
			_ = x * x
		}
	}
	srv, gen, machine := m.stop()
	if srv == nil || machine == nil {
		t.Fatalf("server %s, machine %s: want both measured", fmtCores(srv), fmtCores(machine))
	}
	// /proc counts in 10 ms ticks: allow a few ticks' disagreement.
	if gen < 0.05 || math.Abs(*srv-gen) > 0.15*gen+0.05 {
		t.Fatalf("server cores %.2f (from /proc) and generator cores %.2f (getrusage) of one busy process disagree", *srv, gen)
	}
	if *machine < *srv-0.1 || *machine > float64(runtime.NumCPU())+0.1 {
		t.Fatalf("machine cores %.2f, but this process alone used %.2f (of %d CPUs)", *machine, *srv, runtime.NumCPU())
	}
}
