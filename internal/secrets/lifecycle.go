package secrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"
)

// Versions and the recycle bin (docs/lifecycle.md).

// restoreAttempts bounds how often a restore under a new name re-reads and
// re-seals an entry that rotation re-wrote in between.
const restoreAttempts = 3

// newBinID returns a recycle-bin id: 16 random bytes in hex.
func newBinID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ListVersions returns one page of a secret's versions: newest first unless
// o.Sort is ascending (created_at or version, which order alike), within
// o.Filter's creation-time bounds (its other fields are ignored).
func (s *Service) ListVersions(ctx context.Context, ws, name string, o ListOptions) ([]Version, Page, error) {
	p := Page{Page: o.Page, PageSize: o.PageSize}
	if s.cfg.NGC.matches(ws, name) || !storable(ws, name) {
		return nil, p, secretNotFound(ws, name)
	}
	vs, total, err := s.store.ListVersions(ctx, ws, name, VersionQuery{Offset: p.Offset(), Limit: o.PageSize,
		Ascending: o.Sort != "" && !strings.HasPrefix(o.Sort, "-"), CreatedFrom: o.Filter.CreatedFrom, CreatedTo: o.Filter.CreatedTo})
	if err != nil {
		return nil, p, secretWriteError(err, ws, name, 0)
	}
	p.TotalResults = total
	return vs, p, nil
}

// RestoreVersion makes a copy of version the new current version.
func (s *Service) RestoreVersion(ctx context.Context, ws, name string, version int64, c Cond, actor *string) (Secret, error) {
	if s.cfg.NGC.matches(ws, name) || !storable(ws, name) {
		return Secret{}, secretNotFound(ws, name)
	}
	rec, err := s.store.RestoreVersion(ctx, ws, name, version, SecretUpdate{
		UpdatedAt: Now(), UpdatedBy: actor, Keep: s.cfg.MaxVersions, Cond: c})
	if err != nil {
		return Secret{}, secretWriteError(err, ws, name, version)
	}
	return rec.meta(), nil
}

// DestroyVersion erases one version's value for good.
func (s *Service) DestroyVersion(ctx context.Context, ws, name string, version int64, c Cond) error {
	if s.cfg.NGC.matches(ws, name) || !storable(ws, name) {
		return secretNotFound(ws, name)
	}
	return secretWriteError(s.store.DestroyVersion(ctx, ws, name, version, c), ws, name, version)
}

// ListDeleted returns one page of a workspace's recycle bin.
func (s *Service) ListDeleted(ctx context.Context, ws string, o ListOptions) ([]Deleted, Page, error) {
	p := Page{Page: o.Page, PageSize: o.PageSize}
	if !storable(ws) {
		return nil, p, workspaceNotFound(ws)
	}
	items, total, err := s.store.ListDeleted(ctx, ws, DeletedQuery{Offset: p.Offset(), Limit: o.PageSize,
		Now: Now(), Sort: o.Sort, Filter: o.Filter})
	if err != nil {
		return nil, p, listError(err, ws)
	}
	p.TotalResults = total
	return items, p, nil
}

// RestoreDeleted brings a recycle-bin entry back, under newName when it is
// not "" (validated by the caller), else under its old name.
func (s *Service) RestoreDeleted(ctx context.Context, ws, id, newName string, actor *string) (Secret, error) {
	if !storable(ws, id) {
		return Secret{}, deletedNotFound(id)
	}
	for attempt := 1; ; attempt++ {
		sec, err := s.restoreDeleted(ctx, ws, id, newName, actor)
		if !errors.Is(err, ErrRevisionChanged) || attempt == restoreAttempts {
			return sec, s.binError(err, ws, id)
		}
	}
}

// restoreDeleted is one attempt of RestoreDeleted. It returns the storage
// error as it is (binError maps it) or an *Error.
func (s *Service) restoreDeleted(ctx context.Context, ws, id, newName string, actor *string) (Secret, error) {
	now := Now()
	r := BinRestore{UpdatedAt: now, UpdatedBy: actor, Now: now}
	d, versions, err := s.store.GetDeleted(ctx, ws, id, now)
	if err != nil {
		return Secret{}, err
	}
	name := d.Name
	if newName != "" && newName != d.Name {
		name, r.Name = newName, newName
		if r.Reseals, err = s.resealAs(ctx, versions, ws, newName); err != nil {
			return Secret{}, err
		}
	}
	if s.cfg.NGC.matches(ws, name) {
		return Secret{}, errf(KindForbidden, msgNGCCreate)
	}
	rec, err := s.store.RestoreDeleted(ctx, ws, id, r)
	if errors.Is(err, ErrAlreadyExists) {
		return Secret{}, secretExists(ws, name)
	}
	if err != nil {
		return Secret{}, err
	}
	return rec.meta(), nil
}

// resealAs seals every stored version afresh under ws/name, the associated
// data of its new name; the old ciphertext guards each write.
func (s *Service) resealAs(ctx context.Context, versions []StoredVersion, ws, name string) ([]Reseal, error) {
	rs := make([]Reseal, len(versions))
	for i, v := range versions {
		value, err := s.keys.Open(ctx, v.Workspace, v.Name, v.Sealed)
		if err != nil {
			s.logCrypto("decrypt", v.Workspace, v.Name, v.Sealed.Provider, err)
			return nil, internal(MsgUnexpected, err)
		}
		sealed, err := s.keys.Seal(ctx, ws, name, value)
		clear(value)
		if err != nil {
			s.logCrypto("encrypt", ws, name, s.keys.Current(), err)
			return nil, internal(MsgUnexpected, err)
		}
		rs[i] = Reseal{VersionKey: v.VersionKey, Old: v.Sealed.Ciphertext, Sealed: sealed}
	}
	return rs, nil
}

// PurgeDeleted erases a recycle-bin entry for good.
func (s *Service) PurgeDeleted(ctx context.Context, ws, id string) error {
	if !storable(ws, id) {
		return deletedNotFound(id)
	}
	return s.binError(s.store.PurgeDeleted(ctx, ws, id, Now()), ws, id)
}

// binError maps the storage errors of a recycle-bin operation.
func (s *Service) binError(err error, ws, id string) error {
	var de *Error
	switch {
	case err == nil || errors.As(err, &de):
		return err
	case errors.Is(err, ErrNotFound):
		return deletedNotFound(id)
	}
	return internal(MsgUnexpected, err)
}

// purgeBatch is how many expired entries one PurgeExpired statement erases,
// so a pass never holds the write lock long.
const purgeBatch = 500

// PurgeExpired erases every recycle-bin entry past its retention, in
// batches, and returns how many it erased. Any replica may run it at any
// time; concurrent runs split the work.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.store.PurgeExpired(ctx, Now(), purgeBatch)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

// Like reports whether s matches the SQL LIKE pattern p as the stores
// evaluate Filter patterns: '%' any run, '_' one character, '\' escapes the
// next one, ASCII letters compared case-insensitively.
func Like(s, p string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '%':
			for i := 0; i <= len(s); i++ {
				if Like(s[i:], p[1:]) {
					return true
				}
			}
			return false
		case '_':
			if s == "" {
				return false
			}
			_, n := utf8.DecodeRuneInString(s)
			s, p = s[n:], p[1:]
			continue
		case '\\':
			if len(p) > 1 {
				p = p[1:]
			}
		}
		if s == "" || lowerASCII(s[0]) != lowerASCII(p[0]) {
			return false
		}
		s, p = s[1:], p[1:]
	}
	return s == ""
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// containsFold reports whether sub is in s, ASCII letters compared
// case-insensitively, as the stores compare Filter.Search.
func containsFold(s, sub string) bool {
	return strings.Contains(lowerASCIIString(s), lowerASCIIString(sub))
}

func lowerASCIIString(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}
