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
	// The workspace and its creator's Admin binding in one statement ($8 is
	// the creator, "" for none, $9 the Admin role); a taken name fails the
	// whole statement, so no binding changes.
	qCreateWorkspace = `WITH w AS (INSERT INTO workspaces (` + wsCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7)
			RETURNING name)
		INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at)
		SELECT name, $8, $9, $8, $4 FROM w WHERE $8 <> ''`
	qGetWorkspace    = `SELECT ` + wsCols + ` FROM workspaces WHERE name = $1`
	qUpdateWorkspace = `UPDATE workspaces SET description = coalesce($2, description),
		updated_at = $3, updated_by = $4 WHERE name = $1 RETURNING ` + wsCols
	qDeleteWorkspace = `DELETE FROM workspaces WHERE name = $1`

	qCreateSecret = `INSERT INTO secrets (workspace, name, description, ciphertext, wrapped_dek,
		provider, format_version, created_at, updated_at, created_by, updated_by, revision)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1) RETURNING ` + secretCols
	qGetSecret = `SELECT ` + secretCols + ` FROM secrets WHERE workspace = $1 AND name = $2`
	// One statement for existence, total and page; no row means no
	// workspace. $2 is the excluded name ("" matches no secret). The total
	// is the sum of the workspace's trigger-kept count shards (migration
	// 3), less the excluded secret if it exists: 16 index entries and one
	// probe, where count(*) would visit every secret of the workspace.
	qListSecrets = `WITH page AS (SELECT ` + metaCols + ` FROM secrets
			WHERE workspace = $1 AND name <> $2
			ORDER BY created_at DESC, name ASC LIMIT $3 OFFSET $4)
		SELECT (SELECT coalesce(sum(n), 0)::bigint FROM secret_counts WHERE workspace = $1)
				- (EXISTS (SELECT 1 FROM secrets WHERE workspace = $1 AND name = $2))::int,
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
	qCountByProvider = `SELECT provider, count(*) FROM secrets GROUP BY provider`
	// qLockReseal precedes qReseal in the same transaction: it locks the
	// batch's rows in ID order, so two rotations re-sealing overlapping
	// batches wait for each other instead of deadlocking (one UPDATE locks
	// rows in whatever order its plan visits them). It must be a statement
	// of its own, for the reason given at qLockWorkspace: qReseal's snapshot
	// is then taken with every row locked, so what it reads cannot change
	// before it writes.
	qLockReseal = `SELECT id FROM secrets WHERE id = ANY ($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`
	// qReseal re-seals the records whose revision is unchanged and returns,
	// in batch order, whether each was updated and whether it exists (from
	// the snapshot before the update), which tells a changed revision from
	// a deleted record.
	qReseal = `WITH batch AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[],
				$5::text[], $6::integer[]) WITH ORDINALITY
				AS b (id, revision, ciphertext, wrapped_dek, provider, format_version, ord)),
			updated AS (UPDATE secrets SET ciphertext = b.ciphertext, wrapped_dek = b.wrapped_dek,
				provider = b.provider, format_version = b.format_version, revision = secrets.revision + 1
				FROM batch AS b WHERE secrets.id = b.id AND secrets.revision = b.revision
				RETURNING secrets.id)
		SELECT updated.id IS NOT NULL, secrets.id IS NOT NULL
		FROM batch AS b LEFT JOIN secrets ON secrets.id = b.id LEFT JOIN updated ON updated.id = b.id
		ORDER BY b.ord`
	// $12 is replace: when false the existing row is left alone and no row
	// counts as changed, which tells "skipped" from "stored".
	qImportSecret = `INSERT INTO secrets (workspace, name, description, ciphertext, wrapped_dek,
		provider, format_version, created_at, updated_at, created_by, updated_by, revision)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)
		ON CONFLICT (workspace, name) DO UPDATE SET description = excluded.description,
			ciphertext = excluded.ciphertext, wrapped_dek = excluded.wrapped_dek,
			provider = excluded.provider, format_version = excluded.format_version,
			created_at = excluded.created_at, updated_at = excluded.updated_at,
			created_by = excluded.created_by, updated_by = excluded.updated_by,
			revision = secrets.revision + 1
		WHERE $12::boolean`
)

// Role bindings. Roles are inserted from unnest(...) WITH ORDINALITY in
// the order given, so the identity id records the grant order.
const (
	qRolesOf = `SELECT principal, role FROM role_bindings
		WHERE workspace = $1 AND principal = ANY ($2::text[]) ORDER BY id`
	qWorkspacesOf = `SELECT DISTINCT workspace FROM role_bindings
		WHERE principal = ANY ($1::text[]) ORDER BY workspace`
	// One statement for existence and bindings: no row means no workspace,
	// one row of NULLs a workspace without bindings.
	qListBindings = `SELECT b.principal, b.role, b.granted_by, b.granted_at
		FROM workspaces LEFT JOIN (SELECT id, principal, role, granted_by, granted_at,
				min(granted_at) OVER (PARTITION BY principal) AS first
			FROM role_bindings WHERE workspace = $1) AS b ON true
		WHERE workspaces.name = $1
		ORDER BY b.first, b.principal, b.id`
	qGrantRoles = `WITH ws AS (SELECT name FROM workspaces WHERE name = $1),
		ins AS (INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at)
			SELECT ws.name, $2, r.role, $4, $5 FROM ws, unnest($3::text[]) WITH ORDINALITY AS r (role, ord)
			ORDER BY r.ord
			ON CONFLICT (workspace, principal, role) DO NOTHING)
		SELECT count(*) FROM ws`

	// qLockWorkspace precedes SetRoles and RemoveMember in the same
	// transaction: every change that could remove an Admin takes the
	// workspace row's lock first, so last-admin checks run one at a time.
	// It must be a statement of its own. Under READ COMMITTED a statement
	// reads the snapshot taken when it started; a lock taken inside the
	// checking statement would be granted after that snapshot, and two
	// removals of the last two Admins could each still see the other.
	qLockWorkspace = `SELECT name FROM workspaces WHERE name = $1 FOR UPDATE`
	// $6 is the Admin role. "refused" is non-empty when the change would
	// remove the last Admin; then neither the delete nor the insert runs.
	qSetRoles = `WITH ws AS (SELECT name FROM workspaces WHERE name = $1),
		refused AS (SELECT 1 FROM role_bindings
			WHERE workspace = $1 AND principal = $2 AND role = $6 AND NOT $6 = ANY ($3::text[])
			AND NOT EXISTS (SELECT 1 FROM role_bindings WHERE workspace = $1 AND role = $6 AND principal <> $2)),
		del AS (DELETE FROM role_bindings
			WHERE workspace = $1 AND principal = $2 AND NOT role = ANY ($3::text[])
			AND NOT EXISTS (SELECT 1 FROM refused)),
		ins AS (INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at)
			SELECT ws.name, $2, r.role, $4, $5 FROM ws, unnest($3::text[]) WITH ORDINALITY AS r (role, ord)
			WHERE NOT EXISTS (SELECT 1 FROM refused)
			ORDER BY r.ord
			ON CONFLICT (workspace, principal, role) DO NOTHING)
		SELECT EXISTS (SELECT 1 FROM ws), EXISTS (SELECT 1 FROM refused)`
	// $3 is the Admin role.
	qRemoveMember = `WITH refused AS (SELECT 1 FROM role_bindings
			WHERE workspace = $1 AND principal = $2 AND role = $3
			AND NOT EXISTS (SELECT 1 FROM role_bindings WHERE workspace = $1 AND role = $3 AND principal <> $2)),
		del AS (DELETE FROM role_bindings WHERE workspace = $1 AND principal = $2
			AND NOT EXISTS (SELECT 1 FROM refused) RETURNING 1)
		SELECT (SELECT count(*) FROM del), EXISTS (SELECT 1 FROM refused)`
	// The seeds primary key decides between replicas seeding at once: the
	// insert of a recorded key does nothing (after waiting for the
	// recording transaction), and the binding is inserted only from the
	// row the seed insert returned.
	// qSeeded is read before qSeed: on a seeded database (every start
	// after the first) it answers without a write.
	qSeeded = `SELECT EXISTS (SELECT 1 FROM workspaces WHERE name = $1),
		EXISTS (SELECT 1 FROM seeds WHERE key = $2)`
	qSeed = `WITH ws AS (SELECT name FROM workspaces WHERE name = $2),
		seed AS (INSERT INTO seeds (key, seeded_at) SELECT $1, $6 FROM ws
			ON CONFLICT (key) DO NOTHING RETURNING 1),
		ins AS (INSERT INTO role_bindings (workspace, principal, role, granted_by, granted_at)
			SELECT $2, $3, $4, $5, $6 FROM seed
			ON CONFLICT (workspace, principal, role) DO NOTHING)
		SELECT EXISTS (SELECT 1 FROM ws), EXISTS (SELECT 1 FROM seed)`
)
