//go:build !linux

package loadtest

import "syscall"

// childAttr has no parent-death signal outside Linux; stop() still cleans up.
func childAttr() *syscall.SysProcAttr { return nil }

// fsType is only implemented on Linux.
func fsType(string) string { return "unknown" }
