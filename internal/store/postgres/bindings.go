package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Role bindings. Each method is one statement, except SetRoles and
// RemoveMember, which first lock the workspace row (qLockWorkspace) and
// send both statements in one batch: pgx pipelines a batch and ends it with
// a single Sync, so the two run in one implicit transaction and cost one
// round trip.

// RolesOf returns each of principals' roles in ws in grant order.
func (s *Store) RolesOf(ctx context.Context, ws string, principals []string) (map[string][]string, error) {
	roles := map[string][]string{}
	principals = storable(principals)
	if len(principals) == 0 || !secrets.StorableText(ws) {
		return roles, nil
	}
	rows, err := s.db.Query(ctx, qRolesOf, ws, principals)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var principal, role string
		if err := rows.Scan(&principal, &role); err != nil {
			return nil, err
		}
		roles[principal] = append(roles[principal], role)
	}
	return roles, rows.Err()
}

// WorkspacesOf returns the sorted names of the workspaces where any of
// principals holds a role.
func (s *Store) WorkspacesOf(ctx context.Context, principals []string) ([]string, error) {
	names := []string{}
	principals = storable(principals)
	if len(principals) == 0 {
		return names, nil
	}
	rows, err := s.db.Query(ctx, qWorkspacesOf, principals)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, rows.Err()
}

// ListBindings returns every binding of ws in members-list order, or
// ErrNotFound.
func (s *Store) ListBindings(ctx context.Context, ws string) ([]secrets.Binding, error) {
	if !secrets.StorableText(ws) {
		return nil, secrets.ErrNotFound
	}
	rows, err := s.db.Query(ctx, qListBindings, ws)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	bindings := []secrets.Binding{}
	found := false
	for rows.Next() {
		found = true
		var principal, role, by *string
		var at *time.Time
		if err := rows.Scan(&principal, &role, &by, &at); err != nil {
			return nil, err
		}
		if principal != nil { // else the one row of a workspace without bindings
			bindings = append(bindings, secrets.Binding{Workspace: ws, Principal: *principal,
				Role: *role, GrantedBy: by, GrantedAt: utc(*at)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, secrets.ErrNotFound
	}
	return bindings, nil
}

// grantRoles adds the roles principal lacks in ws.
func (s *Store) grantRoles(ctx context.Context, ws, principal string, roles []string, by *string, at time.Time) error {
	if err := checkText(ws, principal, roles); err != nil {
		return err
	}
	var found int
	err := s.db.QueryRow(ctx, qGrantRoles, ws, principal, nonNil(roles), by, ts(at)).Scan(&found)
	if err != nil {
		return bindingErr(err)
	}
	if found == 0 {
		return secrets.ErrNotFound
	}
	return nil
}

// setRoles makes principal's roles in ws exactly roles, refusing to remove
// the last Admin.
func (s *Store) setRoles(ctx context.Context, ws, principal string, roles []string, by *string, at time.Time) error {
	if err := checkText(ws, principal, roles); err != nil {
		return err
	}
	var found, refused bool
	err := s.afterLock(ctx, ws, func(row pgx.Row) error { return row.Scan(&found, &refused) },
		qSetRoles, ws, principal, nonNil(roles), by, ts(at), secrets.RoleAdmin)
	switch {
	case err != nil:
		return bindingErr(err)
	case !found:
		return secrets.ErrNotFound
	case refused:
		return secrets.ErrLastAdmin
	}
	return nil
}

// removeMember deletes all of principal's roles in ws, refusing to remove
// the last Admin.
func (s *Store) removeMember(ctx context.Context, ws, principal string) (int, error) {
	if !secrets.StorableText(ws) || !secrets.StorableText(principal) {
		return 0, secrets.ErrNotFound // it cannot hold a role there
	}
	var removed int
	var refused bool
	err := s.afterLock(ctx, ws, func(row pgx.Row) error { return row.Scan(&removed, &refused) },
		qRemoveMember, ws, principal, secrets.RoleAdmin)
	switch {
	case err != nil:
		return 0, err
	case refused:
		return 0, secrets.ErrLastAdmin
	case removed == 0:
		return 0, secrets.ErrNotFound
	}
	return removed, nil
}

// Seed records key and inserts b unless key was recorded before. A read
// comes first, so that a seeded database (every start but the first, of
// every replica) answers without a write: seed rows are never deleted, so
// a key seen recorded stays recorded and qSeed could only answer false too.
func (s *Store) Seed(ctx context.Context, key string, b secrets.Binding) (bool, error) {
	if err := checkText(b.Workspace, b.Principal, []string{b.Role, key}); err != nil {
		return false, err
	}
	var found, seeded bool
	if err := s.db.QueryRow(ctx, qSeeded, b.Workspace, key).Scan(&found, &seeded); err != nil {
		return false, err
	}
	if found && seeded {
		return false, nil
	}
	err := s.db.QueryRow(ctx, qSeed, key, b.Workspace, b.Principal, b.Role, b.GrantedBy,
		ts(b.GrantedAt)).Scan(&found, &seeded)
	switch {
	case err != nil:
		return false, bindingErr(err)
	case !found:
		return false, secrets.ErrNotFound
	}
	return seeded, nil
}

// afterLock runs query, whose single row scan reads, in one transaction
// after qLockWorkspace has locked ws's row, in one round trip.
func (s *Store) afterLock(ctx context.Context, ws string, scan func(pgx.Row) error, query string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(qLockWorkspace, ws)
	b.Queue(query, args...)
	br := s.db.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		err = scan(br.QueryRow())
	}
	// Close reads the rest, including the implicit commit's outcome.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// bindingErr maps a foreign key violation, a workspace deleted between a
// binding statement's check and its insert, to ErrNotFound, which is what
// the binding methods return for a missing workspace.
func bindingErr(err error) error {
	err = mapErr(err)
	if errors.Is(err, secrets.ErrNoWorkspace) {
		return secrets.ErrNotFound
	}
	return err
}

// checkText refuses strings PostgreSQL's text type cannot hold before they
// reach the server (which would fail with an encoding error), with the
// answers the SQLite backend gives: a workspace name that cannot be stored
// names no workspace, a principal or role gives ErrUnstorableText.
func checkText(ws, principal string, roles []string) error {
	if !secrets.StorableText(ws) {
		return secrets.ErrNotFound
	}
	if !secrets.StorableText(principal) {
		return secrets.ErrUnstorableText
	}
	for _, role := range roles {
		if !secrets.StorableText(role) {
			return secrets.ErrUnstorableText
		}
	}
	return nil
}

// storable drops the principals that cannot be stored and so hold no role;
// sent as they are, they would fail the whole query.
func storable(principals []string) []string {
	keep := make([]string, 0, len(principals))
	for _, p := range principals {
		if secrets.StorableText(p) {
			keep = append(keep, p)
		}
	}
	return keep
}

// nonNil keeps an empty role list an empty array: pgx sends a nil slice as
// NULL, and "role = ANY (NULL)" is NULL, not false.
func nonNil(roles []string) []string {
	if roles == nil {
		return []string{}
	}
	return roles
}
