//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"runtime/debug"
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
// A reading is only meaningful while the mapped file is the live -shm file:
// when the last connection of all processes closes, SQLite deletes it, and
// the next connection creates a new one that the mapping does not see. The
// store's pinned connection (Store.pin) prevents that, and live checks it
// anyway (docs/storage.md, "Read cache").
type walIndex struct {
	path     string // the -shm file
	mem      []byte
	dev, ino uint64 // of the mapped file; their types differ across systems
}

// openWALIndex maps the header of the wal-index at shmPath. The file exists
// once a connection has read the database in WAL mode.
func openWALIndex(shmPath string) (*walIndex, error) {
	f, err := os.Open(shmPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", shmPath, err)
	}
	if st.Size < walHeaderSize {
		// Mapping past the end of the file would fault on the first read.
		return nil, fmt.Errorf("%s: %d bytes, not an initialised wal-index", shmPath, st.Size)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, walHeaderSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", shmPath, err)
	}
	return &walIndex{path: shmPath, mem: mem, dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// live reports whether the mapped file is still the one at its path (same
// device and inode): a deleted and recreated -shm file is a different file,
// and the mapping of the old one never changes again. One stat(2), about as
// costly as the rest of a cache hit (docs/performance.md).
func (w *walIndex) live() bool {
	var st syscall.Stat_t
	if err := syscall.Stat(w.path, &st); err != nil {
		return false
	}
	return uint64(st.Dev) == w.dev && uint64(st.Ino) == w.ino
}

// mark reads the header. Another process may be rewriting it: a torn read
// differs from both the old and the new header, so it can only cost a
// needless invalidation, and a commit that has returned is fully visible.
//
// ok is false when the read faulted: a file truncated under the mapping
// (SQLite truncates the -shm file when the first connection of all processes
// opens it, which the pinned connection prevents) raises SIGBUS, which here
// drops the cache instead of crashing the server.
func (w *walIndex) mark() (m walMark, ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			ok = false
		}
	}()
	words := (*[len(m)]uint32)(unsafe.Pointer(&w.mem[0]))
	for i := range m {
		m[i] = atomic.LoadUint32(&words[i])
	}
	return m, true
}

// close unmaps the header.
func (w *walIndex) close() error {
	return syscall.Munmap(w.mem)
}
