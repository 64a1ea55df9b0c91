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

// machineCPU is the busy time of all CPUs so far (everything but idle and
// iowait in /proc/stat's first line).
func machineCPU() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line")
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is already in user
			busy += n
		}
	}
	return time.Duration(busy) * clockTick, nil
}

// cpuMeter measures how many cores the servers, the generator and the whole
// machine kept busy during a phase: on a 2-core box a machine figure near 2
// means the figures are CPU-bound and every percent the generator uses is
// taken from the server. The machine figure also shows what a database
// server (PostgreSQL) used, which the per-process figures leave out.
type cpuMeter struct {
	pids                   []int
	wall                   time.Time
	server, local, machine time.Duration
	child                  time.Duration // a generator process's CPU (wrk)
	serverOK, machineOK    bool
}

// addGenerator counts a child generator's CPU time (wrk's, known once it
// exited) as the generator's.
func (m *cpuMeter) addGenerator(d time.Duration) { m.child += d }

// startCPU starts measuring; pids are the server processes (0s are ignored).
func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{wall: time.Now(), local: selfCPU()}
	for _, p := range pids {
		if p != 0 {
			m.pids = append(m.pids, p)
		}
	}
	var err error
	m.server, err = sumCPU(m.pids)
	m.serverOK = err == nil && len(m.pids) > 0
	m.machine, err = machineCPU()
	m.machineOK = err == nil
	return m
}

func sumCPU(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, p := range pids {
		d, err := procCPU(p)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}

// stop returns the cores used by the servers together (nil if unknown), the
// generator, and the machine (nil if unknown).
func (m *cpuMeter) stop() (server *float64, gen float64, machine *float64) {
	wall := time.Since(m.wall).Seconds()
	gen = (selfCPU() - m.local + m.child).Seconds() / wall
	if now, err := sumCPU(m.pids); err == nil && m.serverOK {
		v := (now - m.server).Seconds() / wall
		server = &v
	}
	if now, err := machineCPU(); err == nil && m.machineOK {
		v := (now - m.machine).Seconds() / wall
		machine = &v
	}
	return server, gen, machine
}
