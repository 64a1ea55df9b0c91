//go:build !unix

package sqlite

import "errors"

// walIndex is only implemented where SQLite's wal-index can be mapped (see
// walindex_unix.go); elsewhere the read cache stays off.
type walIndex struct{}

func openWALIndex(string) (*walIndex, error) {
	return nil, errors.New("the read cache needs a unix system")
}

func (*walIndex) mark() walMark { return walMark{} }
func (*walIndex) close() error  { return nil }
