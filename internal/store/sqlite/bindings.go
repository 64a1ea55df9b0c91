package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"time"

	"github.com/coffer-dev/coffer/internal/secrets"
)

// Role bindings. Each change is one write of the committer (committer.go):
// a savepoint inside a transaction on the single writer connection, whose
// BEGIN IMMEDIATE (the writer's _txlock) took the database's write lock, and
// the writes of a transaction run one after the other. So what a change reads
// (the workspace, the principal's roles, the other Admins) cannot change
// before it commits, whether the competing writer is this process or another
// one. That single writer is what makes the last-admin check atomic here; the
// PostgreSQL backend locks the workspace row instead.

// RolesOf returns each of principals' roles in ws in grant order. It runs
// before every authorized request, so answers come from the read cache
// (cache.go) until the next commit.
func (s *Store) RolesOf(ctx context.Context, ws string, principals []string) (map[string][]string, error) {
	list, ok := jsonList(principals)
	if !ok || !secrets.StorableText(ws) {
		return map[string][]string{}, nil
	}
	key := rolesKey{ws, list}
	return cached(s.cache, &s.cache.roles, key, func() (map[string][]string, error) {
		return s.rolesOf(ctx, key)
	})
}

// rolesOf is RolesOf's query.
func (s *Store) rolesOf(ctx context.Context, k rolesKey) (map[string][]string, error) {
	roles := map[string][]string{}
	rows, err := s.r.rolesOf.QueryContext(ctx, k.ws, k.principals)
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
	list, ok := jsonList(principals)
	if !ok {
		return names, nil
	}
	rows, err := s.r.workspacesOf.QueryContext(ctx, list)
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
	rows, err := s.r.listBindings.QueryContext(ctx, ws)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	bindings := []secrets.Binding{}
	found := false
	for rows.Next() {
		found = true
		var principal, role sql.NullString
		var by *string
		var at sql.NullInt64
		if err := rows.Scan(&principal, &role, &by, &at); err != nil {
			return nil, err
		}
		if principal.Valid { // else the one row of a workspace without bindings
			bindings = append(bindings, secrets.Binding{Workspace: ws, Principal: principal.String,
				Role: role.String, GrantedBy: by, GrantedAt: fromMicros(at.Int64)})
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

// GrantRoles adds the roles principal lacks in ws.
func (s *Store) GrantRoles(ctx context.Context, ws, principal string, roles []string, by *string, at time.Time) error {
	if err := checkText(ws, principal, roles); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.requireWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		return s.grant(ctx, tx, ws, principal, roles, by, at)
	})
}

// SetRoles makes principal's roles in ws exactly roles, refusing to remove
// the last Admin.
func (s *Store) SetRoles(ctx context.Context, ws, principal string, roles []string, by *string, at time.Time) error {
	if err := checkText(ws, principal, roles); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.requireWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		current, err := s.currentRoles(ctx, tx, ws, principal)
		if err != nil {
			return err
		}
		if slices.Contains(current, secrets.RoleAdmin) && !slices.Contains(roles, secrets.RoleAdmin) {
			if err := s.requireOtherAdmin(ctx, tx, ws, principal); err != nil {
				return err
			}
		}
		revoke := tx.StmtContext(ctx, s.w.revokeRole)
		for _, role := range current {
			if !slices.Contains(roles, role) {
				if _, err := revoke.ExecContext(ctx, ws, principal, role); err != nil {
					return err
				}
			}
		}
		return s.grant(ctx, tx, ws, principal, roles, by, at)
	})
}

// RemoveMember deletes all of principal's roles in ws, refusing to remove
// the last Admin.
func (s *Store) RemoveMember(ctx context.Context, ws, principal string) (int, error) {
	if !secrets.StorableText(ws) || !secrets.StorableText(principal) {
		return 0, secrets.ErrNotFound // it cannot hold a role there
	}
	var removed int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		current, err := s.currentRoles(ctx, tx, ws, principal)
		switch {
		case err != nil:
			return err
		case len(current) == 0:
			return secrets.ErrNotFound
		case slices.Contains(current, secrets.RoleAdmin):
			if err := s.requireOtherAdmin(ctx, tx, ws, principal); err != nil {
				return err
			}
		}
		res, err := tx.StmtContext(ctx, s.w.removeMember).ExecContext(ctx, ws, principal)
		if err != nil {
			return err
		}
		removed, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(removed), nil
}

// Seed records key and inserts b unless key was recorded before. The seeds
// primary key decides: an insert that finds the key does nothing, and only
// the transaction that recorded the key inserts the binding.
//
// A read on the reader pool comes first: every start seeds, and on a seeded
// database the answer is known without a write (no wait for the writer, no
// commit). Seed rows are never deleted, so a key seen recorded stays
// recorded and the write could only have answered false too.
func (s *Store) Seed(ctx context.Context, key string, b secrets.Binding) (bool, error) {
	if err := checkText(b.Workspace, b.Principal, []string{b.Role, key}); err != nil {
		return false, err
	}
	var wsExists, recorded bool
	if err := s.r.seeded.QueryRowContext(ctx, b.Workspace, key).Scan(&wsExists, &recorded); err != nil {
		return false, err
	}
	if wsExists && recorded {
		return false, nil
	}
	seeded := false
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.requireWorkspace(ctx, tx, b.Workspace); err != nil {
			return err
		}
		res, err := tx.StmtContext(ctx, s.w.recordSeed).ExecContext(ctx, key, micros(b.GrantedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // seeded before: change nothing
		}
		_, err = tx.StmtContext(ctx, s.w.grantRole).ExecContext(ctx, b.Workspace, b.Principal, b.Role,
			b.GrantedBy, micros(b.GrantedAt))
		seeded = err == nil
		return err
	})
	return seeded && err == nil, err
}

// requireWorkspace returns ErrNotFound unless ws exists.
func (s *Store) requireWorkspace(ctx context.Context, tx *sql.Tx, ws string) error {
	var n int
	if err := tx.StmtContext(ctx, s.w.workspaceExists).QueryRowContext(ctx, ws).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return secrets.ErrNotFound
	}
	return nil
}

// currentRoles returns principal's roles in ws in grant order.
func (s *Store) currentRoles(ctx context.Context, tx *sql.Tx, ws, principal string) ([]string, error) {
	rows, err := tx.StmtContext(ctx, s.w.principalRoles).QueryContext(ctx, ws, principal)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var roles []string
	for rows.Next() {
		var role string
		if err := rows.Scan(&role); err != nil {
			return nil, err
		}
		roles = append(roles, role)
	}
	return roles, rows.Err()
}

// requireOtherAdmin returns ErrLastAdmin unless a principal other than
// principal holds Admin in ws.
func (s *Store) requireOtherAdmin(ctx context.Context, tx *sql.Tx, ws, principal string) error {
	var n int
	err := tx.StmtContext(ctx, s.w.otherAdmins).QueryRowContext(ctx, ws, principal, secrets.RoleAdmin).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return secrets.ErrLastAdmin
	}
	return nil
}

// grant inserts each role principal lacks, in the order given, so that the
// ascending id records the grant order.
func (s *Store) grant(ctx context.Context, tx *sql.Tx, ws, principal string, roles []string, by *string, at time.Time) error {
	st := tx.StmtContext(ctx, s.w.grantRole)
	for _, role := range roles {
		if _, err := st.ExecContext(ctx, ws, principal, role, by, micros(at)); err != nil {
			return err
		}
	}
	return nil
}

// checkText refuses strings the PostgreSQL backend could not store, so both
// backends answer alike: a workspace name that cannot be stored names no
// workspace, a principal or role gives ErrUnstorableText.
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

// jsonList encodes the storable principals as a JSON array for json_each
// and drops the others, which cannot hold a role; ok is false when none is
// left. Valid UTF-8 without NUL survives the JSON round trip byte for byte.
func jsonList(principals []string) (list string, ok bool) {
	keep := make([]string, 0, len(principals))
	for _, p := range principals {
		if secrets.StorableText(p) {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		return "", false
	}
	b, err := json.Marshal(keep)
	return string(b), err == nil
}
