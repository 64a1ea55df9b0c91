package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Prepared statements: parsing and planning cost about as much as a simple
// read, so every query the store runs is prepared once at Open. A *sql.Stmt
// re-prepares itself on each pool connection that first uses it.

const wsCols = `id, name, description, created_at, created_by, updated_at, updated_by`

const secretCols = `id, workspace, name, description, ciphertext, wrapped_dek, provider,
	format_version, created_at, updated_at, created_by, updated_by, revision`

const metaCols = `name, workspace, description, created_at, updated_at, created_by, updated_by`

// workspaceOrder is the ORDER BY of each accepted sort, ties by name.
var workspaceOrder = map[string]string{
	"created_at":  "created_at ASC, name ASC",
	"-created_at": "created_at DESC, name ASC",
	"updated_at":  "updated_at ASC, name ASC",
	"-updated_at": "updated_at DESC, name ASC",
}

// listWorkspacesSQL returns one page and the total in one statement (so one
// snapshot): the outer join yields a single row of NULLs for an empty page.
func listWorkspacesSQL(order string) string {
	return `WITH page AS (SELECT ` + wsCols + ` FROM workspaces ORDER BY ` + order + ` LIMIT ?1 OFFSET ?2)
		SELECT (SELECT count(*) FROM workspaces), page.* FROM (SELECT 1) LEFT JOIN page ON true
		ORDER BY ` + order
}

// writeStmts run on the writer connection, inside the committer's
// transactions (tx.StmtContext). The reads among them must see the changes of
// the earlier writes of the same transaction, which only the writer can.
type writeStmts struct {
	createWorkspace, updateWorkspace, deleteWorkspace *sql.Stmt
	createSecret, updateSecret, deleteSecret, reseal  *sql.Stmt
	importSecret, secretExists                        *sql.Stmt

	workspaceExists, principalRoles, otherAdmins *sql.Stmt
	grantRole, revokeRole, removeMember          *sql.Stmt
	recordSeed                                   *sql.Stmt
}

func (w *writeStmts) prepare(ctx context.Context, db *sql.DB) error {
	return prepareAll(ctx, db, map[**sql.Stmt]string{
		&w.createWorkspace: `INSERT INTO workspaces (` + wsCols + `) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
		&w.updateWorkspace: `UPDATE workspaces SET description = coalesce(?2, description),
			updated_at = ?3, updated_by = ?4 WHERE name = ?1 RETURNING ` + wsCols,
		&w.deleteWorkspace: `DELETE FROM workspaces WHERE name = ?1`,
		&w.createSecret: `INSERT INTO secrets (workspace, name, description, ciphertext, wrapped_dek,
			provider, format_version, created_at, updated_at, created_by, updated_by, revision)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1) RETURNING ` + secretCols,
		// A NULL parameter keeps the column: ?4 to ?7 are all NULL or all set.
		&w.updateSecret: `UPDATE secrets SET description = coalesce(?3, description),
			ciphertext = coalesce(?4, ciphertext), wrapped_dek = coalesce(?5, wrapped_dek),
			provider = coalesce(?6, provider), format_version = coalesce(?7, format_version),
			updated_at = ?8, updated_by = ?9, revision = revision + 1
			WHERE workspace = ?1 AND name = ?2 RETURNING ` + metaCols,
		&w.deleteSecret: `DELETE FROM secrets WHERE workspace = ?1 AND name = ?2`,
		&w.reseal: `UPDATE secrets SET ciphertext = ?3, wrapped_dek = ?4, provider = ?5,
			format_version = ?6, revision = revision + 1 WHERE id = ?1 AND revision = ?2`,
		// ?12 is replace: when false the existing row is left alone and no
		// row counts as changed, which tells "skipped" from "stored".
		&w.importSecret: `INSERT INTO secrets (workspace, name, description, ciphertext, wrapped_dek,
			provider, format_version, created_at, updated_at, created_by, updated_by, revision)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1)
			ON CONFLICT (workspace, name) DO UPDATE SET description = excluded.description,
				ciphertext = excluded.ciphertext, wrapped_dek = excluded.wrapped_dek,
				provider = excluded.provider, format_version = excluded.format_version,
				created_at = excluded.created_at, updated_at = excluded.updated_at,
				created_by = excluded.created_by, updated_by = excluded.updated_by,
				revision = revision + 1
			WHERE ?12`,
		&w.secretExists: `SELECT count(*) FROM secrets WHERE id = ?1`,

		&w.workspaceExists: `SELECT count(*) FROM workspaces WHERE name = ?1`,
		&w.principalRoles:  `SELECT role FROM role_bindings WHERE workspace = ?1 AND principal = ?2 ORDER BY id`,
		&w.otherAdmins: `SELECT count(*) FROM role_bindings
			WHERE workspace = ?1 AND role = ?3 AND principal <> ?2`,
		&w.grantRole: `INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at)
			VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (workspace, principal, role) DO NOTHING`,
		&w.revokeRole:   `DELETE FROM role_bindings WHERE workspace = ?1 AND principal = ?2 AND role = ?3`,
		&w.removeMember: `DELETE FROM role_bindings WHERE workspace = ?1 AND principal = ?2`,
		&w.recordSeed:   `INSERT INTO seeds (key, seeded_at) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING`,
	})
}

func (w *writeStmts) close() error {
	return closeAll(w.createWorkspace, w.updateWorkspace, w.deleteWorkspace,
		w.createSecret, w.updateSecret, w.deleteSecret, w.reseal, w.importSecret, w.secretExists,
		w.workspaceExists, w.principalRoles, w.otherAdmins,
		w.grantRole, w.revokeRole, w.removeMember, w.recordSeed)
}

// readStmts run on the reader pool.
type readStmts struct {
	getWorkspace, getSecret, listSecrets, scan, getByID *sql.Stmt
	countByProvider, ping, seeded                       *sql.Stmt
	rolesOf, workspacesOf, listBindings                 *sql.Stmt
	listWorkspaces                                      map[string]*sql.Stmt // by sort
}

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	queries := map[**sql.Stmt]string{
		&r.getWorkspace: `SELECT ` + wsCols + ` FROM workspaces WHERE name = ?1`,
		// GetSecret: secretCols without the keys workspace and name.
		&r.getSecret: `SELECT id, description, ciphertext, wrapped_dek, provider, format_version,
			created_at, updated_at, created_by, updated_by, revision
			FROM secrets WHERE workspace = ?1 AND name = ?2`,
		// One statement for existence, total and page; no row means no
		// workspace. ?2 is the excluded name ("" matches no secret). The
		// total is the workspace's trigger-kept secret_count (migration 3),
		// less the excluded secret if it exists: a unique-index probe, where
		// count(*) would visit every secret of the workspace per page.
		&r.listSecrets: `WITH page AS (SELECT ` + metaCols + ` FROM secrets
				WHERE workspace = ?1 AND name <> ?2
				ORDER BY created_at DESC, name ASC LIMIT ?3 OFFSET ?4)
			SELECT workspaces.secret_count - EXISTS (SELECT 1 FROM secrets WHERE workspace = ?1 AND name = ?2),
				page.*
			FROM workspaces LEFT JOIN page ON true WHERE workspaces.name = ?1
			ORDER BY page.created_at DESC, page.name ASC`,
		&r.scan:            `SELECT ` + secretCols + ` FROM secrets WHERE id > ?1 ORDER BY id LIMIT ?2`,
		&r.getByID:         `SELECT ` + secretCols + ` FROM secrets WHERE id = ?1`,
		&r.countByProvider: `SELECT provider, count(*) FROM secrets GROUP BY provider`,
		&r.ping:            `SELECT count(*) FROM schema_migrations`,
		&r.seeded: `SELECT EXISTS (SELECT 1 FROM workspaces WHERE name = ?1),
			EXISTS (SELECT 1 FROM seeds WHERE key = ?2)`,
		// The principals arrive as one JSON array so that a single prepared
		// statement serves any number of them; StorableText guarantees that
		// each one round-trips through JSON exactly.
		&r.rolesOf: `SELECT principal, role FROM role_bindings
			WHERE workspace = ?1 AND principal IN (SELECT value FROM json_each(?2)) ORDER BY id`,
		&r.workspacesOf: `SELECT DISTINCT workspace FROM role_bindings
			WHERE principal IN (SELECT value FROM json_each(?1)) ORDER BY workspace`,
		// One statement for existence and bindings: no row means no
		// workspace, one row of NULLs a workspace without bindings.
		&r.listBindings: `SELECT b.principal, b.role, b.granted_by, b.granted_at
			FROM workspaces LEFT JOIN (SELECT id, principal, role, granted_by, granted_at,
					min(granted_at) OVER (PARTITION BY principal) AS first
				FROM role_bindings WHERE workspace = ?1) AS b ON true
			WHERE workspaces.name = ?1
			ORDER BY b.first, b.principal, b.id`,
	}
	r.listWorkspaces = make(map[string]*sql.Stmt, len(workspaceOrder))
	for sort, order := range workspaceOrder {
		var st *sql.Stmt
		if err := prepareAll(ctx, db, map[**sql.Stmt]string{&st: listWorkspacesSQL(order)}); err != nil {
			return err
		}
		r.listWorkspaces[sort] = st
	}
	return prepareAll(ctx, db, queries)
}

func (r *readStmts) close() error {
	all := []*sql.Stmt{r.getWorkspace, r.getSecret, r.listSecrets, r.scan, r.getByID,
		r.countByProvider, r.ping, r.seeded, r.rolesOf, r.workspacesOf, r.listBindings}
	for _, st := range r.listWorkspaces {
		all = append(all, st)
	}
	return closeAll(all...)
}

// prepareAll prepares each query into its destination.
func prepareAll(ctx context.Context, db *sql.DB, queries map[**sql.Stmt]string) error {
	for dst, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		*dst = st
	}
	return nil
}

// closeAll closes the statements that were prepared.
func closeAll(stmts ...*sql.Stmt) error {
	var errs []error
	for _, st := range stmts {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
