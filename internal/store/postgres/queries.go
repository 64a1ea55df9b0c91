package postgres

// The queries mirror the SQLite backend's; pgx prepares and caches each
// query text per connection on first use.

const wsCols = `id, name, description, created_at, created_by, updated_at, updated_by`

const secretCols = `id, workspace, name, description, ciphertext, wrapped_dek, provider,
	format_version, created_at, updated_at, created_by, updated_by, revision`

const metaCols = `name, workspace, description, created_at, updated_at, created_by, updated_by`

// listWorkspaces holds, for each accepted sort, a statement that returns one
// page and the total with a single snapshot: the outer join yields one row
// of NULLs for an empty page.
var listWorkspaces = func() map[string]string {
	order := map[string]string{
		"created_at":  "created_at ASC, name ASC",
		"-created_at": "created_at DESC, name ASC",
		"updated_at":  "updated_at ASC, name ASC",
		"-updated_at": "updated_at DESC, name ASC",
	}
	qs := make(map[string]string, len(order))
	for sort, o := range order {
		qs[sort] = `WITH page AS (SELECT ` + wsCols + ` FROM workspaces ORDER BY ` + o + ` LIMIT $1 OFFSET $2)
			SELECT (SELECT count(*) FROM workspaces), page.* FROM (SELECT 1) AS one LEFT JOIN page ON true
			ORDER BY ` + o
	}
	return qs
}()

const (
	qCreateWorkspace = `INSERT INTO workspaces (` + wsCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	qGetWorkspace    = `SELECT ` + wsCols + ` FROM workspaces WHERE name = $1`
	qUpdateWorkspace = `UPDATE workspaces SET description = coalesce($2, description),
		updated_at = $3, updated_by = $4 WHERE name = $1 RETURNING ` + wsCols
	qDeleteWorkspace = `DELETE FROM workspaces WHERE name = $1`

	qCreateSecret = `INSERT INTO secrets (workspace, name, description, ciphertext, wrapped_dek,
		provider, format_version, created_at, updated_at, created_by, updated_by, revision)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1) RETURNING ` + secretCols
	qGetSecret = `SELECT ` + secretCols + ` FROM secrets WHERE workspace = $1 AND name = $2`
	// One statement for existence, total and page; no row means no
	// workspace. $2 is the excluded name ("" matches no secret).
	qListSecrets = `WITH page AS (SELECT ` + metaCols + ` FROM secrets
			WHERE workspace = $1 AND name <> $2
			ORDER BY created_at DESC, name ASC LIMIT $3 OFFSET $4)
		SELECT (SELECT count(*) FROM secrets WHERE workspace = $1 AND name <> $2),
			page.name, page.workspace, page.description, page.created_at, page.updated_at,
			page.created_by, page.updated_by
		FROM workspaces LEFT JOIN page ON true WHERE workspaces.name = $1
		ORDER BY page.created_at DESC, page.name ASC`
	// A NULL parameter keeps the column: $4 to $7 are all NULL or all set.
	qUpdateSecret = `UPDATE secrets SET description = coalesce($3, description),
		ciphertext = coalesce($4, ciphertext), wrapped_dek = coalesce($5, wrapped_dek),
		provider = coalesce($6, provider), format_version = coalesce($7, format_version),
		updated_at = $8, updated_by = $9, revision = revision + 1
		WHERE workspace = $1 AND name = $2 RETURNING ` + metaCols
	qDeleteSecret = `DELETE FROM secrets WHERE workspace = $1 AND name = $2`

	qScan            = `SELECT ` + secretCols + ` FROM secrets WHERE id > $1 ORDER BY id LIMIT $2`
	qGetByID         = `SELECT ` + secretCols + ` FROM secrets WHERE id = $1`
	qSecretExists    = `SELECT count(*) FROM secrets WHERE id = $1`
	qCountByProvider = `SELECT provider, count(*) FROM secrets GROUP BY provider`
	qReseal          = `UPDATE secrets SET ciphertext = $3, wrapped_dek = $4, provider = $5,
		format_version = $6, revision = revision + 1 WHERE id = $1 AND revision = $2`
)
