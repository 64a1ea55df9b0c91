//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// walIndex is a read-only view of the header of SQLite's wal-index, the
// "-shm" file that every connection to a WAL-mode database maps and that
// SQLite rewrites as the last step of every commit, whichever process makes
// it (https://www.sqlite.org/walformat.html, "The WAL-Index Header"). Its
// first copy is 48 bytes; a commit always changes it (the frame count and
// the running checksum, or the salts when the WAL restarts), so two equal
// readings mean no transaction committed in between.
//
// The mapping must not outlive the store's connections: SQLite truncates the
// file only when the first connection of any process opens it, which cannot
// happen while ours are open.
type walIndex struct {
	mem []byte
}

// openWALIndex maps the header of dbPath's wal-index. The file exists once a
// connection has read the database in WAL mode.
func openWALIndex(dbPath string) (*walIndex, error) {
	f, err := os.Open(dbPath + "-shm")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < walHeaderSize {
		// Mapping past the end of the file would fault on the first read.
		return nil, fmt.Errorf("%s: %d bytes, not an initialised wal-index", f.Name(), fi.Size())
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, walHeaderSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", f.Name(), err)
	}
	return &walIndex{mem: mem}, nil
}

// mark reads the header. Another process may be rewriting it: a torn read
// differs from both the old and the new header, so it can only cost a
// needless invalidation, and a commit that has returned is fully visible.
func (w *walIndex) mark() walMark {
	var m walMark
	words := (*[len(m)]uint32)(unsafe.Pointer(&w.mem[0]))
	for i := range m {
		m[i] = atomic.LoadUint32(&words[i])
	}
	return m
}

// close unmaps the header.
func (w *walIndex) close() error {
	return syscall.Munmap(w.mem)
}
