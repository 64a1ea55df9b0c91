package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/store/listsql"
)

// Prepared statements: parsing and planning cost about as much as a simple
// read, so every query the store runs is prepared once at Open. A *sql.Stmt
// re-prepares itself on each pool connection that first uses it.

const wsCols = `id, name, description, created_at, created_by, updated_at, updated_by`

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

// The live secret named by workspace ?1 and name ?2: the partial unique
// index secrets_live_name (migration 4) finds it, and the planner picks a
// partial index only for a query that repeats its WHERE.
const liveByName = `workspace = ?1 AND name = ?2 AND deleted_id IS NULL`

// liveCols are what a write reads of a live secret (live).
const liveCols = `id, revision, current_version, pruned_through, description, created_at, created_by`

// eraseCols is the SET list that erases a version's value (destroyed,
// pruned): the row stays, so the numbering keeps no holes.
const eraseCols = `ciphertext = NULL, wrapped_dek = NULL, provider = NULL, format_version = NULL`

// GetSecret, the access and get path: one statement, one index search (the
// live name), then the secret's row and its current version's row by rowid
// (current_row; TestQueryPlans). It does not select workspace and name:
// they are the lookup keys.
const getSecretSQL = `SELECT s.id, s.description, v.ciphertext, v.wrapped_dek, v.provider, v.format_version,
		s.created_at, s.updated_at, s.created_by, s.updated_by, s.revision, s.current_version
	FROM secrets AS s JOIN secret_versions AS v ON v.id = s.current_row
	WHERE s.workspace = ?1 AND s.name = ?2 AND s.deleted_id IS NULL`

// pruneSQL erases the versions of secret ?1 above ?2 up to ?3: a range of
// the (secret_id, version) index, normally one version (TestQueryPlans).
// One destroyed before is skipped.
const pruneSQL = `UPDATE secret_versions SET ` + eraseCols + `
	WHERE secret_id = ?1 AND version > ?2 AND version <= ?3 AND ciphertext IS NOT NULL`

// createSecretSQL inserts a live secret whose current_row names the row
// its version 1 will have: the next id of secret_versions, found at the
// table's last entry (TestQueryPlans). createVersion then inserts version 1
// under that id, read back from the secret's row, so a create is two
// statements with no UPDATE of current_row after them; the single writer
// runs both in one savepoint, one right after the other.
const createSecretSQL = `INSERT INTO secrets (workspace, name, description, created_at, updated_at,
		created_by, updated_by, revision, current_version, current_row)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, 1, (SELECT coalesce(max(id), 0) + 1 FROM secret_versions))`

// scanVersionsSQL pages through the stored versions in key order.
const scanVersionsSQL = `SELECT ` + storedCols + `
	FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id
	WHERE (v.secret_id, v.version) > (?1, ?2) AND v.ciphertext IS NOT NULL
	ORDER BY v.secret_id, v.version LIMIT ?3`

// writeStmts run on the writer connection, inside the committer's
// transactions (tx.StmtContext). The reads among them must see the changes of
// the earlier writes of the same transaction, which only the writer can.
type writeStmts struct {
	createWorkspace, updateWorkspace, deleteWorkspace *sql.Stmt

	createSecret, createVersion, importSecret     *sql.Stmt
	updateSecret, liveSecret                      *sql.Stmt
	setCurrentRow, prune, deleteSecret, binSecret *sql.Stmt
	addVersion, copyVersion, destroy, touch       *sql.Stmt
	reseal, versionHeld, storedCount              *sql.Stmt
	binEntry, unbin, purgeDeleted, purgeExpired   *sql.Stmt

	workspaceExists, principalRoles, otherAdmins *sql.Stmt
	grantRole, revokeRole, removeMember          *sql.Stmt
	recordSeed                                   *sql.Stmt
	pruneAudit                                   *sql.Stmt
	insertAudit                                  [auditInsertLevels]*sql.Stmt // 1<<k events
}

func (w *writeStmts) prepare(ctx context.Context, db *sql.DB) error {
	for k := range w.insertAudit {
		st, err := db.PrepareContext(ctx, insertAuditSQL(1<<k))
		if err != nil {
			return err
		}
		w.insertAudit[k] = st
	}
	return prepareAll(ctx, db, map[**sql.Stmt]string{
		&w.createWorkspace: `INSERT INTO workspaces (` + wsCols + `) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
		&w.updateWorkspace: `UPDATE workspaces SET description = coalesce(?2, description),
			updated_at = ?3, updated_by = ?4 WHERE name = ?1 RETURNING ` + wsCols,
		&w.deleteWorkspace: `DELETE FROM workspaces WHERE name = ?1`,

		&w.createSecret: createSecretSQL,
		&w.createVersion: `INSERT INTO secret_versions (id, secret_id, version, ciphertext, wrapped_dek,
				provider, format_version, created_at, created_by)
			SELECT current_row, id, 1, ?2, ?3, ?4, ?5, ?6, ?7 FROM secrets WHERE id = ?1`,
		// ?8 is replace: when false the existing row is left alone and
		// RETURNING yields no row, which tells "skipped" from "stored". ?9
		// is keep: a replace adds a version and prunes as updateSecret
		// (ImportSecret inserts it and prunes after).
		&w.importSecret: `INSERT INTO secrets (workspace, name, description, created_at, updated_at,
				created_by, updated_by, revision, current_version)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, 1)
			ON CONFLICT (workspace, name) WHERE deleted_id IS NULL DO UPDATE SET
				description = excluded.description, created_at = excluded.created_at,
				updated_at = excluded.updated_at, created_by = excluded.created_by,
				updated_by = excluded.updated_by, revision = revision + 1,
				current_version = current_version + 1,
				pruned_through = max(pruned_through, current_version + 1 - ?9)
			WHERE ?8
			RETURNING id, revision, current_version, pruned_through`,
		// ?5 is 1 when the update adds a version (inserted before, as row
		// ?8), else 0; ?6 is the new pruned_through (prune runs next). A
		// NULL ?2 keeps the description. ?7 is the revision the row was
		// read at (updateMeta). No RETURNING: the write knows the result
		// from that read, and RETURNING costs SQLite an ephemeral table and
		// database/sql a Rows per write.
		&w.updateSecret: `UPDATE secrets SET description = coalesce(?2, description),
			updated_at = ?3, updated_by = ?4, revision = revision + 1,
			current_version = current_version + ?5, current_row = coalesce(?8, current_row),
			pruned_through = ?6
			WHERE id = ?1 AND revision = ?7 AND deleted_id IS NULL`,
		&w.setCurrentRow: `UPDATE secrets SET current_row = ?2 WHERE id = ?1`,
		&w.prune:         pruneSQL,
		&w.liveSecret:    `SELECT ` + liveCols + ` FROM secrets WHERE ` + liveByName,
		&w.deleteSecret:  `DELETE FROM secrets WHERE ` + liveByName,
		&w.binSecret: `UPDATE secrets SET deleted_id = ?3, deleted_at = ?4, deleted_by = ?5, purge_at = ?6,
			revision = revision + 1 WHERE ` + liveByName,

		// Guarded like updateSecret: nothing is inserted unless secret ?1
		// is live at revision ?9.
		&w.addVersion: `INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_dek,
				provider, format_version, created_at, created_by)
			SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
			WHERE EXISTS (SELECT 1 FROM secrets WHERE id = ?1 AND revision = ?9 AND deleted_id IS NULL)`,
		// The value is copied inside SQLite, as it is: same AAD, no re-seal.
		&w.copyVersion: `INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_dek,
				provider, format_version, created_at, created_by)
			SELECT secret_id, ?3, ciphertext, wrapped_dek, provider, format_version, ?4, ?5
			FROM secret_versions WHERE secret_id = ?1 AND version = ?2 AND ciphertext IS NOT NULL`,
		&w.destroy: `UPDATE secret_versions SET ` + eraseCols + `
			WHERE secret_id = ?1 AND version = ?2 AND ciphertext IS NOT NULL`,
		&w.touch: `UPDATE secrets SET revision = revision + 1 WHERE id = ?1`,

		// = ?3 is false for an erased (NULL) ciphertext too.
		&w.reseal: `UPDATE secret_versions SET ciphertext = ?4, wrapped_dek = ?5, provider = ?6,
			format_version = ?7 WHERE secret_id = ?1 AND version = ?2 AND ciphertext = ?3`,
		&w.versionHeld: `SELECT ciphertext IS NOT NULL FROM secret_versions WHERE secret_id = ?1 AND version = ?2`,
		&w.storedCount: `SELECT count(*) FROM secret_versions WHERE secret_id = ?1 AND ciphertext IS NOT NULL`,

		&w.binEntry: `SELECT id FROM secrets WHERE workspace = ?1 AND deleted_id = ?2 AND purge_at > ?3`,
		// A NULL ?2 keeps the name. The unique index refuses a live clash.
		&w.unbin: `UPDATE secrets SET name = coalesce(?2, name), deleted_id = NULL, deleted_at = NULL,
			deleted_by = NULL, purge_at = NULL, updated_at = ?3, updated_by = ?4, revision = revision + 1
			WHERE id = ?1
			RETURNING name, description, created_at, created_by, revision, current_version`,
		&w.purgeDeleted: `DELETE FROM secrets WHERE workspace = ?1 AND deleted_id = ?2 AND purge_at > ?3`,
		&w.purgeExpired: `DELETE FROM secrets WHERE id IN (SELECT id FROM secrets
			WHERE deleted_id IS NOT NULL AND purge_at <= ?1 ORDER BY purge_at LIMIT ?2)`,

		&w.workspaceExists: `SELECT count(*) FROM workspaces WHERE name = ?1`,
		&w.principalRoles:  `SELECT role FROM role_bindings WHERE workspace = ?1 AND principal = ?2 ORDER BY id`,
		&w.otherAdmins: `SELECT count(*) FROM role_bindings
			WHERE workspace = ?1 AND role = ?3 AND principal <> ?2`,
		&w.grantRole: `INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at)
			VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (workspace, principal, role) DO NOTHING`,
		&w.revokeRole:   `DELETE FROM role_bindings WHERE workspace = ?1 AND principal = ?2 AND role = ?3`,
		&w.removeMember: `DELETE FROM role_bindings WHERE workspace = ?1 AND principal = ?2`,
		&w.recordSeed:   `INSERT INTO seeds (key, seeded_at) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING`,
		&w.pruneAudit: `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events
			WHERE id < ?1 ORDER BY id LIMIT ?2)`,
	})
}

func (w *writeStmts) close() error {
	return closeAll(append([]*sql.Stmt{w.createWorkspace, w.updateWorkspace, w.deleteWorkspace,
		w.createSecret, w.createVersion, w.importSecret, w.updateSecret, w.liveSecret, w.setCurrentRow, w.prune,
		w.deleteSecret, w.binSecret,
		w.addVersion, w.copyVersion, w.destroy, w.touch,
		w.reseal, w.versionHeld, w.storedCount,
		w.binEntry, w.unbin, w.purgeDeleted, w.purgeExpired,
		w.workspaceExists, w.principalRoles, w.otherAdmins,
		w.grantRole, w.revokeRole, w.removeMember, w.recordSeed, w.pruneAudit}, w.insertAudit[:]...)...)
}

// storedCols are a StoredVersion's columns, of secret_versions v joined to
// secrets s.
const storedCols = `v.secret_id, v.version, s.workspace, s.name, v.ciphertext, v.wrapped_dek,
	v.provider, v.format_version, s.deleted_id IS NOT NULL`

// readStmts run on the reader pool.
type readStmts struct {
	getWorkspace, getSecret, getVersion, getDeleted *sql.Stmt
	peekLive                                        *sql.Stmt
	scanVersions, getStored, countSealed, ping      *sql.Stmt
	seeded, rolesOf, workspacesOf, listBindings     *sql.Stmt
	listWorkspaces                                  map[string]*sql.Stmt // by sort
	listSecrets                                     map[string]*sql.Stmt // by sort, for the zero Filter
	lists                                           *stmtCache           // filtered lists, versions and the bin, by SQL
}

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	queries := map[**sql.Stmt]string{
		&r.getWorkspace: `SELECT ` + wsCols + ` FROM workspaces WHERE name = ?1`,
		&r.getSecret:    getSecretSQL,
		&r.peekLive:     `SELECT ` + liveCols + ` FROM secrets WHERE ` + liveByName,
		// The outer join tells a missing secret (no row) from a missing or
		// erased version (NULL ciphertext).
		&r.getVersion: `SELECT s.id, s.description, v.ciphertext, v.wrapped_dek, v.provider, v.format_version,
				s.created_at, s.updated_at, s.created_by, s.updated_by, s.revision, s.current_version
			FROM secrets AS s LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = ?3
			WHERE s.workspace = ?1 AND s.name = ?2 AND s.deleted_id IS NULL`,
		// One row per stored version (a bin entry always has one: its
		// current version cannot be erased); a single statement is one
		// snapshot.
		&r.getDeleted: `SELECT s.id, ` + deletedCols("s.") + `, v.version, v.ciphertext, v.wrapped_dek, v.provider, v.format_version
			FROM secrets AS s LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.ciphertext IS NOT NULL
			WHERE s.workspace = ?1 AND s.deleted_id = ?2 AND s.purge_at > ?3
			ORDER BY v.version`,
		&r.scanVersions: scanVersionsSQL,
		&r.getStored: `SELECT ` + storedCols + `
			FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id
			WHERE v.secret_id = ?1 AND v.version = ?2 AND v.ciphertext IS NOT NULL`,
		&r.countSealed: countSealedSQL,
		&r.ping:        `SELECT count(*) FROM schema_migrations`,
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
	wsLists := make(map[string]string, len(workspaceOrder))
	for sort, order := range workspaceOrder {
		wsLists[sort] = listWorkspacesSQL(order)
	}
	secretLists := make(map[string]string, len(listsql.SecretOrder))
	for sort := range listsql.SecretOrder {
		secretLists[sort], _, _ = secretListQuery("", secrets.SecretQuery{Sort: sort})
	}
	r.lists = newStmtCache(db)
	var err error
	if r.listWorkspaces, err = prepareEach(ctx, db, wsLists); err != nil {
		return err
	}
	if r.listSecrets, err = prepareEach(ctx, db, secretLists); err != nil {
		return err
	}
	return prepareAll(ctx, db, queries)
}

func (r *readStmts) close() error {
	all := []*sql.Stmt{r.getWorkspace, r.getSecret, r.getVersion, r.getDeleted, r.peekLive, r.scanVersions, r.getStored,
		r.countSealed, r.ping, r.seeded, r.rolesOf, r.workspacesOf, r.listBindings}
	for _, m := range []map[string]*sql.Stmt{r.listWorkspaces, r.listSecrets} {
		for _, st := range m {
			all = append(all, st)
		}
	}
	err := closeAll(all...)
	if r.lists != nil {
		err = errors.Join(err, r.lists.close())
	}
	return err
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

// prepareEach prepares each query into the map under its key.
func prepareEach(ctx context.Context, db *sql.DB, queries map[string]string) (map[string]*sql.Stmt, error) {
	m := make(map[string]*sql.Stmt, len(queries))
	for key, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return m, fmt.Errorf("prepare %q: %w", q, err)
		}
		m[key] = st
	}
	return m, nil
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
