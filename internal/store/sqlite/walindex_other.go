//go:build !unix

package sqlite

import "errors"

// walIndex is only implemented where SQLite's wal-index can be mapped (see
// walindex_unix.go); elsewhere the read cache stays off.
type walIndex struct{ path string }

func openWALIndex(string) (*walIndex, error) {
	return nil, errors.New("the read cache needs a unix system")
}

func (*walIndex) live() bool            { return false }
func (*walIndex) mark() (walMark, bool) { return walMark{}, false }
func (*walIndex) close() error          { return nil }
