package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// peakRSS reads VmHWM, the kernel's record of the largest resident set the
// process has had, in bytes. Sampling VmRSS instead would miss short peaks.
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM of pid %d: %w", pid, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// resetPeakRSS starts a new VmHWM window (Linux ≥ 4.0, clear_refs value 5) so
// each phase reports its own peak rather than the run's maximum so far. It
// fails for processes we do not own; then peaks are cumulative.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// mib converts bytes to MiB for the report.
func mib(b int64) float64 { return float64(b) / (1 << 20) }
