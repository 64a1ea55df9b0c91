package loadtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times. It is 100 on
// every Linux architecture Go supports, and reading sysconf would need cgo.
const clockTick = 10 * time.Millisecond

// procCPU is the user+system CPU time pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces and parentheses; fields resume
	// after the last ')'. utime and stime are fields 14 and 15 overall.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// cpuMeter measures how many cores the server and the generator kept busy
// during a phase: on a 2-core box their sum near 2 means the figures are
// CPU-bound and every percent the generator uses is taken from the server.
type cpuMeter struct {
	pid           int
	wall          time.Time
	server, local time.Duration
	serverOK      bool
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid, wall: time.Now(), local: selfCPU()}
	if pid != 0 {
		var err error
		m.server, err = procCPU(pid)
		m.serverOK = err == nil
	}
	return m
}

// stop returns the cores used by the server (nil if unknown) and the generator.
func (m *cpuMeter) stop() (*float64, float64) {
	wall := time.Since(m.wall).Seconds()
	gen := (selfCPU() - m.local).Seconds() / wall
	if !m.serverOK {
		return nil, gen
	}
	now, err := procCPU(m.pid)
	if err != nil {
		return nil, gen
	}
	srv := (now - m.server).Seconds() / wall
	return &srv, gen
}
