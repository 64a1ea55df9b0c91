package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/envelope"
	"github.com/coffer-dev/coffer/internal/secrets"
)

// Secrets and their versions (migration 4): a secrets row holds the
// metadata and current_version, each value is a row of secret_versions.
// The hot paths (create, get, update, delete without a Cond) are one round
// trip; a write that must read the secret first (a Cond, a version check)
// is a transaction that locks the secret's row first (withLive).

// createSecret inserts r as a live secret with its version 1 and returns
// the stored record (revision 1, Version 1). With d, d's event is inserted
// in the same round trip and implicit transaction (queueEvent).
func (s *Store) createSecret(ctx context.Context, r secrets.Record, d *secrets.AuditDraft) (secrets.Record, error) {
	rec := secrets.Record{Secret: r.Secret, Sealed: r.Sealed, Revision: 1}
	rec.CreatedAt, rec.UpdatedAt = utc(ts(r.CreatedAt)), utc(ts(r.UpdatedAt))
	rec.Version, rec.ETag = 1, ""
	args := []any{r.Workspace, r.Name, r.Description, ts(r.CreatedAt),
		ts(r.UpdatedAt), r.CreatedBy, r.UpdatedBy, blob(r.Sealed.Ciphertext), blob(r.Sealed.WrappedDEK),
		r.Sealed.Provider, r.Sealed.Format}
	var err error
	if d == nil {
		err = s.db.QueryRow(ctx, qCreateSecret, args...).Scan(&rec.ID)
	} else {
		b := &pgx.Batch{}
		b.Queue(qCreateSecret, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&rec.ID) })
		queueEvent(b, r.Workspace, r.Name, d)
		err = s.db.SendBatch(ctx, b).Close()
	}
	if err != nil {
		return secrets.Record{}, mapErr(err)
	}
	return rec, nil
}

// GetSecret returns a live secret with its current version's sealed value,
// or ErrNotFound.
func (s *Store) GetSecret(ctx context.Context, ws, name string) (secrets.Record, error) {
	rec, err := scanSealedRecord(s.db.QueryRow(ctx, qGetSecret, ws, name))
	return rec, notFound(err)
}

// GetVersion returns a live secret with version's sealed value in place of
// the current one; ErrNotFound without a live secret, ErrVersionNotFound
// when the version never existed or was erased.
func (s *Store) GetVersion(ctx context.Context, ws, name string, version int64) (secrets.Record, error) {
	rec, err := scanSealedRecord(s.db.QueryRow(ctx, qGetVersion, ws, name, version))
	if errors.Is(err, errErased) {
		return secrets.Record{}, secrets.ErrVersionNotFound
	}
	return rec, notFound(err)
}

// updateSecret applies u to a live secret, increments its revision and,
// with u.Sealed, adds the next version and prunes to u.Keep. It returns the
// record without its sealed value. Without a Cond it is one round trip: the
// update, and with a value qPrune, and with d d's event (queueEvent),
// pipelined in one implicit transaction. d must be nil with a Cond.
func (s *Store) updateSecret(ctx context.Context, ws, name string, u secrets.SecretUpdate, d *secrets.AuditDraft) (secrets.Record, error) {
	var rec secrets.Record
	b := &pgx.Batch{}
	scan := func(row pgx.Row) (err error) {
		rec, err = scanRecord(row)
		return notFound(err)
	}
	if u.Sealed == nil {
		b.Queue(qUpdateMeta, ws, name, ts(u.UpdatedAt), u.UpdatedBy, u.Description).QueryRow(scan)
	} else {
		v := u.Sealed
		b.Queue(qUpdateValue, ws, name, ts(u.UpdatedAt), u.UpdatedBy, u.Description,
			blob(v.Ciphertext), blob(v.WrappedDEK), v.Provider, v.Format).QueryRow(scan)
		b.Queue(qPrune, ws, name, keep(u.Keep))
	}
	if d != nil {
		queueEvent(b, ws, name, d)
	}
	var err error
	if !u.Cond.Set {
		err = s.db.SendBatch(ctx, b).Close()
	} else {
		err = s.withLive(ctx, qLockLive, ws, name, u.Cond, func(tx pgx.Tx, _ live) error {
			return tx.SendBatch(ctx, b).Close()
		})
	}
	if err != nil {
		return secrets.Record{}, mapErr(err)
	}
	return rec, nil
}

// deleteSecret moves a live secret to the recycle bin (d.BinID) or erases
// it; ErrNotFound without a live secret, ErrPreconditionFailed if d.Cond
// does not hold.
func (s *Store) deleteSecret(ctx context.Context, ws, name string, d secrets.SecretDelete) error {
	query, args, lock := qEraseSecret, []any{ws, name}, qLockLiveForDelete
	if d.BinID != "" {
		query, lock = qBinSecret, qLockLive
		args = append(args, d.BinID, ts(d.DeletedAt), d.DeletedBy, ts(d.PurgeAt))
	}
	if !d.Cond.Set {
		return mapErr(affected(s.db.Exec(ctx, query, args...)))
	}
	return s.withLive(ctx, lock, ws, name, d.Cond, func(tx pgx.Tx, _ live) error {
		return mapErr(affected(tx.Exec(ctx, query, args...)))
	})
}

// importSecret inserts r as version 1 with revision 1, or when a live
// secret has the name and replace is set overwrites its metadata and adds
// r.Sealed as its next version, pruned to keep; stored is false when an
// existing secret was kept. One round trip: the upsert and qPrune
// pipelined in one implicit transaction.
func (s *Store) importSecret(ctx context.Context, r secrets.Record, replace bool, keepN int) (bool, error) {
	var stored int64
	b := &pgx.Batch{}
	b.Queue(qImportSecret, r.Workspace, r.Name, r.Description, ts(r.CreatedAt), ts(r.UpdatedAt),
		r.CreatedBy, r.UpdatedBy, blob(r.Sealed.Ciphertext), blob(r.Sealed.WrappedDEK), r.Sealed.Provider,
		r.Sealed.Format, replace).QueryRow(func(row pgx.Row) error { return row.Scan(&stored) })
	b.Queue(qPrune, r.Workspace, r.Name, keep(keepN))
	if err := s.db.SendBatch(ctx, b).Close(); err != nil {
		return false, mapErr(err)
	}
	return stored > 0, nil
}

// live is a live secret as qLockLive read it, with its row locked.
type live struct {
	id, revision, version int64
}

// withLive runs fn in a transaction, after locking the live secret ws/name
// with lock (qLockLive or qLockLiveForDelete) and checking cond against it:
// ErrPreconditionFailed when cond does not hold (also when there is no
// live secret), else ErrNotFound without a live secret.
func (s *Store) withLive(ctx context.Context, lock, ws, name string, cond secrets.Cond,
	fn func(tx pgx.Tx, l live) error) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var l live
		err := tx.QueryRow(ctx, lock, ws, name).Scan(&l.id, &l.revision, &l.version)
		exists := err == nil
		switch {
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return err
		case !cond.Holds(exists, l.id, l.revision):
			return secrets.ErrPreconditionFailed
		case !exists:
			return secrets.ErrNotFound
		}
		return fn(tx, l)
	})
}

// keep is the number of versions a write keeps their values: at least
// the new one.
func keep(n int) int64 { return int64(max(n, 1)) }

// errErased is scanSealedRecord's "the version's value is erased".
var errErased = errors.New("postgres: version erased")

// scanRecord reads the recordCols columns.
func scanRecord(row pgx.Row) (secrets.Record, error) {
	var r secrets.Record
	err := row.Scan(&r.ID, &r.Workspace, &r.Name, &r.Description, &r.CreatedAt, &r.UpdatedAt,
		&r.CreatedBy, &r.UpdatedBy, &r.Revision, &r.Version)
	if err != nil {
		return secrets.Record{}, err
	}
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	return r, nil
}

// scanSealedRecord reads the recordCols and valueCols columns; errErased
// when the value columns are NULL.
func scanSealedRecord(row pgx.Row) (secrets.Record, error) {
	var r secrets.Record
	var v nullableValue
	err := row.Scan(&r.ID, &r.Workspace, &r.Name, &r.Description, &r.CreatedAt, &r.UpdatedAt,
		&r.CreatedBy, &r.UpdatedBy, &r.Revision, &r.Version, &v.ciphertext, &v.dek, &v.provider, &v.format)
	if err != nil {
		return secrets.Record{}, err
	}
	if r.Sealed, err = v.sealed(); err != nil {
		return secrets.Record{}, err
	}
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	return r, nil
}

// nullableValue receives the valueCols columns.
type nullableValue struct {
	ciphertext, dek []byte
	provider        *string
	format          *int
}

// sealed returns the value, or errErased when the version has none.
func (v nullableValue) sealed() (envelope.Sealed, error) {
	if v.provider == nil || v.format == nil {
		return envelope.Sealed{}, errErased
	}
	return envelope.Sealed{Ciphertext: blob(v.ciphertext), WrappedDEK: blob(v.dek), Provider: *v.provider,
		Format: *v.format}, nil
}
