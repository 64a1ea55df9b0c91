package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// Secrets and their versions (migration 4): a secrets row holds the
// metadata and current_version, each value is a row of secret_versions.
// Every write below is one write of the committer, so what it reads inside
// its transaction (a live secret's revision for a Cond, its current
// version) cannot change before it commits.

// CreateSecret inserts r as a live secret with its version 1 and returns
// the stored record (revision 1, Version 1).
func (s *Store) CreateSecret(ctx context.Context, r secrets.Record) (secrets.Record, error) {
	rec := secrets.Record{Secret: r.Secret, Sealed: stored(r.Sealed), Revision: 1}
	rec.CreatedAt, rec.UpdatedAt = fromMicros(micros(r.CreatedAt)), fromMicros(micros(r.UpdatedAt))
	rec.Version, rec.ETag = 1, ""
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.w.createSecret).ExecContext(ctx, r.Workspace, r.Name, r.Description,
			micros(r.CreatedAt), micros(r.UpdatedAt), r.CreatedBy, r.UpdatedBy)
		if err != nil {
			return mapErr(err)
		}
		if rec.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		secrets.SetAuditVersion(ctx, 1)
		_, err = tx.StmtContext(ctx, s.w.createVersion).ExecContext(ctx, rec.ID, blob(r.Sealed.Ciphertext),
			blob(r.Sealed.WrappedDEK), r.Sealed.Provider, r.Sealed.Format, micros(r.CreatedAt), r.CreatedBy)
		return err
	})
	if err != nil {
		return secrets.Record{}, err
	}
	return rec, nil
}

// ImportSecret inserts r as version 1 with revision 1, or when a live
// secret has the name and replace is set overwrites its metadata and adds
// r.Sealed as its next version, pruned to keep, like UpdateSecret. stored
// is false when an existing secret was kept.
func (s *Store) ImportSecret(ctx context.Context, r secrets.Record, replace bool, keep int) (bool, error) {
	stored := false
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		l := live{}
		var version, prunedThrough int64
		err := tx.StmtContext(ctx, s.w.importSecret).QueryRowContext(ctx, r.Workspace, r.Name, r.Description,
			micros(r.CreatedAt), micros(r.UpdatedAt), r.CreatedBy, r.UpdatedBy, replace, max(keep, 1)).Scan(
			&l.id, &l.revision, &version, &prunedThrough)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil // a live secret has the name and replace is off
		case err != nil:
			return mapErr(err)
		}
		stored = true
		at, by := r.UpdatedAt, r.UpdatedBy // a replace: the next version
		if version == 1 {
			at, by = r.CreatedAt, r.CreatedBy
		}
		if err := s.firstVersion(ctx, tx, l, version, r.Sealed, at, by); err != nil {
			return err
		}
		// The upsert returns the new mark only: prune from the start,
		// which visits the secret's whole history, fine for an import.
		return s.prune(ctx, tx, l.id, 0, prunedThrough)
	})
	return stored && err == nil, err
}

// firstVersion adds version n of the secret l just wrote as current
// (ImportSecret) and makes it the current row.
func (s *Store) firstVersion(ctx context.Context, tx *sql.Tx, l live, n int64, sealed envelope.Sealed, at time.Time, by *string) error {
	row, ok, err := s.addVersion(ctx, tx, l, n, sealed, at, by)
	if err == nil && !ok {
		err = errChangedInWrite
	}
	if err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, s.w.setCurrentRow).ExecContext(ctx, l.id, row)
	return err
}

// GetSecret returns a live secret with its current version's sealed value,
// or ErrNotFound, from the read cache when no transaction has committed
// since it was last read (cache.go).
func (s *Store) GetSecret(ctx context.Context, ws, name string) (secrets.Record, error) {
	return s.cache.record(ws, name, func() (secrets.Record, error) {
		return s.getSecret(ctx, ws, name)
	})
}

// getSecret is GetSecret's query. It is the access and get path, so it runs
// without the caller's cancellation: with a cancellable context (every HTTP
// request has one) database/sql and the driver each start a goroutine per
// query to watch it, which costs more than these two index lookups, which a
// cancellation could not usefully shorten. A reader never waits for the
// writer in WAL mode; any other lock wait is still bounded by busy_timeout.
//
// The statement does not select workspace and name: they are the lookup
// keys, and the row found holds exactly those bytes. Every column costs the
// driver and database/sql work and allocations on each read.
func (s *Store) getSecret(ctx context.Context, ws, name string) (secrets.Record, error) {
	r := secrets.Record{Secret: secrets.Secret{Workspace: ws, Name: name}}
	var created, updated int64
	err := s.r.getSecret.QueryRowContext(context.WithoutCancel(ctx), ws, name).Scan(&r.ID, &r.Description,
		&r.Sealed.Ciphertext, &r.Sealed.WrappedDEK, &r.Sealed.Provider, &r.Sealed.Format, &created, &updated,
		&r.CreatedBy, &r.UpdatedBy, &r.Revision, &r.Version)
	if err != nil {
		return secrets.Record{}, notFound(err)
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	r.Sealed = stored(r.Sealed)
	return r, nil
}

// GetVersion returns a live secret with version's sealed value;
// ErrNotFound without a live secret, ErrVersionNotFound if the version
// never existed or was erased.
func (s *Store) GetVersion(ctx context.Context, ws, name string, version int64) (secrets.Record, error) {
	r := secrets.Record{Secret: secrets.Secret{Workspace: ws, Name: name}}
	var v nullSealed
	var created, updated int64
	err := s.r.getVersion.QueryRowContext(ctx, ws, name, version).Scan(&r.ID, &r.Description,
		&v.ciphertext, &v.dek, &v.provider, &v.format, &created, &updated,
		&r.CreatedBy, &r.UpdatedBy, &r.Revision, &r.Version)
	if err != nil {
		return secrets.Record{}, notFound(err)
	}
	var ok bool
	if r.Sealed, ok = v.sealed(); !ok {
		return secrets.Record{}, secrets.ErrVersionNotFound
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

// UpdateSecret applies u to a live secret, increments its revision and,
// with u.Sealed, adds the next version and prunes to u.Keep. It returns the
// record without Sealed.
//
// The committer runs writes one at a time, so what a write does there
// bounds the store's write throughput. The row is therefore read first on
// the reader pool, in the caller's goroutine, and the write only updates
// it, guarded by the id and revision read: every change of what the record
// returns increments the revision, so when the guard holds the row is as
// read. When it does not (a write came in between), or the row read does
// not satisfy u.Cond, the write reads the row again itself.
func (s *Store) UpdateSecret(ctx context.Context, ws, name string, u secrets.SecretUpdate) (secrets.Record, error) {
	guess, guessed := s.peekLive(ctx, ws, name)
	var rec secrets.Record
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		rec, err = s.updateFrom(ctx, tx, guess, guessed, ws, name, u)
		secrets.SetAuditVersion(ctx, rec.Version)
		return err
	})
	if err != nil {
		return secrets.Record{}, err
	}
	return rec, nil
}

// updateFrom is UpdateSecret's write, starting from the row read before it
// (guess, when guessed).
func (s *Store) updateFrom(ctx context.Context, tx *sql.Tx, guess live, guessed bool, ws, name string, u secrets.SecretUpdate) (secrets.Record, error) {
	if guessed && u.Cond.Holds(true, guess.id, guess.revision) {
		if rec, ok, err := s.applyUpdate(ctx, tx, guess, u); err != nil || ok {
			return rec, err
		}
	}
	l, err := s.liveSecret(ctx, tx, ws, name, u.Cond)
	if err != nil {
		return secrets.Record{}, err
	}
	rec, ok, err := s.applyUpdate(ctx, tx, l, u)
	if err == nil && !ok {
		err = errChangedInWrite
	}
	return rec, err
}

// applyUpdate applies u to secret l if it still has l's revision: its new
// version first, if any, then the secret's row, which makes it current and
// prunes. ok is false, and nothing written, when the row has changed since
// l was read.
func (s *Store) applyUpdate(ctx context.Context, tx *sql.Tx, l live, u secrets.SecretUpdate) (secrets.Record, bool, error) {
	var row *int64
	if u.Sealed != nil {
		id, ok, err := s.addVersion(ctx, tx, l, l.version+1, *u.Sealed, u.UpdatedAt, u.UpdatedBy)
		if err != nil || !ok {
			return secrets.Record{}, false, err
		}
		row = &id
	}
	return s.updateMeta(ctx, tx, l, u, row)
}

// errChangedInWrite reports a row that changed between a write's read and
// its update, which the single writer rules out: a bug, never a conflict.
var errChangedInWrite = errors.New("sqlite: a secret read in a write changed before its update")

// peekLive reads ws/name's live secret on the reader pool, for a write to
// start from; ok is false when there is none (or the read failed: the
// write then reads for itself). Like getSecret it runs without the
// caller's cancellation, which would cost a goroutine per query.
func (s *Store) peekLive(ctx context.Context, ws, name string) (l live, ok bool) {
	l = live{ws: ws, name: name}
	err := s.r.peekLive.QueryRowContext(context.WithoutCancel(ctx), ws, name).Scan(l.dest()...)
	return l, err == nil
}

// DeleteSecret moves a live secret to the recycle bin under d.BinID, or
// without one deletes it with its versions (the foreign key cascades).
func (s *Store) DeleteSecret(ctx context.Context, ws, name string, d secrets.SecretDelete) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if d.Cond.Set {
			if _, err := s.liveSecret(ctx, tx, ws, name, d.Cond); err != nil {
				return err
			}
		}
		if d.BinID == "" {
			return affected(tx.StmtContext(ctx, s.w.deleteSecret).ExecContext(ctx, ws, name))
		}
		res, err := tx.StmtContext(ctx, s.w.binSecret).ExecContext(ctx, ws, name, d.BinID,
			micros(d.DeletedAt), d.DeletedBy, micros(d.PurgeAt))
		return mapErr(affected(res, err))
	})
}

// live is a live secret's row as a write reads it, before changing it.
type live struct {
	ws, name                             string
	id, revision, version, prunedThrough int64
	description, createdBy               *string
	createdAt                            int64
}

// dest is where a read of liveCols goes.
func (l *live) dest() []any {
	return []any{&l.id, &l.revision, &l.version, &l.prunedThrough, &l.description, &l.createdAt, &l.createdBy}
}

// liveSecret reads ws/name's live secret in tx and checks cond against it:
// ErrPreconditionFailed when cond is set and does not hold (also when there
// is no such secret), else ErrNotFound when there is none. The single
// writer makes the read and the write after it atomic.
func (s *Store) liveSecret(ctx context.Context, tx *sql.Tx, ws, name string, cond secrets.Cond) (live, error) {
	l := live{ws: ws, name: name}
	err := tx.StmtContext(ctx, s.w.liveSecret).QueryRowContext(ctx, ws, name).Scan(l.dest()...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return live{}, err
	}
	found := err == nil
	if !cond.Holds(found, l.id, l.revision) {
		return live{}, secrets.ErrPreconditionFailed
	}
	if !found {
		return live{}, secrets.ErrNotFound
	}
	return l, nil
}

// updateMeta updates secret l for u if it still has l's revision:
// description (when set), updated_at/by and revision, and when row is set
// (the new version, inserted just before) current_version and current_row
// too, then prunes to u.Keep (at least 1: the new version always stays).
// It returns the record as it now is, without Sealed, and whether the row
// was updated.
func (s *Store) updateMeta(ctx context.Context, tx *sql.Tx, l live, u secrets.SecretUpdate, row *int64) (secrets.Record, bool, error) {
	step, pruned := int64(0), l.prunedThrough
	if row != nil {
		step, pruned = 1, max(pruned, l.version+1-int64(max(u.Keep, 1)))
	}
	res, err := tx.StmtContext(ctx, s.w.updateSecret).ExecContext(ctx, l.id, u.Description,
		micros(u.UpdatedAt), u.UpdatedBy, step, pruned, l.revision, row)
	if err := affected(res, err); errors.Is(err, secrets.ErrNotFound) {
		return secrets.Record{}, false, nil
	} else if err != nil {
		return secrets.Record{}, false, err
	}
	if err := s.prune(ctx, tx, l.id, l.prunedThrough, pruned); err != nil {
		return secrets.Record{}, false, err
	}
	r := secrets.Record{ID: l.id, Revision: l.revision + 1, Secret: secrets.Secret{
		Workspace: l.ws, Name: l.name, Description: cmp.Or(u.Description, l.description),
		CreatedAt: fromMicros(l.createdAt), CreatedBy: l.createdBy,
		UpdatedAt: fromMicros(micros(u.UpdatedAt)), UpdatedBy: u.UpdatedBy,
		Version: l.version + step,
	}}
	return r, true, nil
}

// prune erases the values of secret id's versions above from up to to,
// the range a write's new pruned_through adds (migration 4).
func (s *Store) prune(ctx context.Context, tx *sql.Tx, id, from, to int64) error {
	if to <= from {
		return nil
	}
	_, err := tx.StmtContext(ctx, s.w.prune).ExecContext(ctx, id, from, to)
	return err
}

// addVersion inserts version n of secret l, holding sealed, created at at
// by by, if l is still live at its revision, and returns the new row's id;
// ok is false, and nothing inserted, when it is not.
func (s *Store) addVersion(ctx context.Context, tx *sql.Tx, l live, n int64, sealed envelope.Sealed, at time.Time, by *string) (row int64, ok bool, err error) {
	res, err := tx.StmtContext(ctx, s.w.addVersion).ExecContext(ctx, l.id, n, blob(sealed.Ciphertext),
		blob(sealed.WrappedDEK), sealed.Provider, sealed.Format, micros(at), by, l.revision)
	if err := affected(res, err); errors.Is(err, secrets.ErrNotFound) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	row, err = res.LastInsertId()
	return row, err == nil, err
}

// nullSealed receives a version's value columns, NULL once it is erased
// (and in an outer join that found no version).
type nullSealed struct {
	ciphertext, dek []byte
	provider        sql.NullString
	format          sql.NullInt64
}

// sealed returns the value, or false when there is none. The provider
// tells: it is NULL exactly when the value is (migration 4's CHECK), while
// a zero-length ciphertext may scan as nil.
func (v nullSealed) sealed() (envelope.Sealed, bool) {
	if !v.provider.Valid {
		return envelope.Sealed{}, false
	}
	return stored(envelope.Sealed{Ciphertext: v.ciphertext, WrappedDEK: v.dek,
		Provider: v.provider.String, Format: int(v.format.Int64)}), true
}

// stored returns s as the store returns it: empty blobs are never nil.
func stored(s envelope.Sealed) envelope.Sealed {
	s.Ciphertext, s.WrappedDEK = blob(s.Ciphertext), blob(s.WrappedDEK)
	return s
}
