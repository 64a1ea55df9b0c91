package loadtest

import (
	"fmt"
	"syscall"
	"time"
)

// childAttr makes the kernel SIGTERM our children if the bench process dies
// (even by SIGKILL), so no server is left holding a port and a temp dir.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// fsType names the filesystem holding dir: write latencies on tmpfs (no real
// fsync) are not comparable with a disk, so the report says which it was.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	names := map[int64]string{
		0x01021994: "tmpfs", 0xEF53: "ext4", 0x58465342: "xfs", 0x9123683E: "btrfs",
		0x794c7630: "overlayfs", 0x6969: "nfs", 0x2fc12fc1: "zfs",
	}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return fmt.Sprintf("filesystem type 0x%x", st.Type)
}

// selfCPU is the generator's own CPU time, with rusage's µs resolution.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
