//go:build !linux

package loadtest

import (
	"syscall"
	"time"
)

// childAttr has no parent-death signal outside Linux; stop() still cleans up.
func childAttr() *syscall.SysProcAttr { return nil }

// fsType is only implemented on Linux.
func fsType(string) string { return "unknown" }

// selfCPU is only measured on Linux; 0 reads as "not measured".
func selfCPU() time.Duration { return 0 }
