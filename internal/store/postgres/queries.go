package postgres

// The queries mirror the SQLite backend's; pgx prepares and caches each
// query text per connection on first use. List statements are built per
// query shape in list.go.

const wsCols = `id, name, description, created_at, created_by, updated_at, updated_by`

// recordCols are a secret's columns without its value, secrets aliased s;
// scanRecord reads them.
const recordCols = `s.id, s.workspace, s.name, s.description, s.created_at, s.updated_at,
	s.created_by, s.updated_by, s.revision, s.current_version`

// valueCols are a version's sealed value, secret_versions aliased v; all
// four are NULL once the version is erased.
const valueCols = `v.ciphertext, v.wrapped_dek, v.provider, v.format_version`

// versionCols are the columns of a new version, in the order the
// statements below give their values.
const versionCols = `secret_id, version, ciphertext, wrapped_dek, provider, format_version, created_at, created_by`

// eraseCols erases a version's value (destroyed or pruned).
const eraseCols = `ciphertext = NULL, wrapped_dek = NULL, provider = NULL, format_version = NULL`

// liveByName selects the live secret $1/$2, secrets aliased s; the
// partial unique index secrets_live_name answers it.
const liveByName = `s.workspace = $1 AND s.name = $2 AND s.deleted_id IS NULL`

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
)

// Secrets and versions.
const (
	// The secret and its version 1 in one statement: the version's foreign
	// key is checked at the end of the statement, when the secret exists.
	qCreateSecret = `WITH ins AS (INSERT INTO secrets AS s (workspace, name, description, created_at,
				updated_at, created_by, updated_by, revision, current_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 1) RETURNING s.id)
		, v AS (INSERT INTO secret_versions (` + versionCols + `)
			SELECT id, 1, $8, $9, $10, $11, $4, $6 FROM ins)
		SELECT id FROM ins`
	// The hot read (access, get): one join on the current version's key.
	qGetSecret = `SELECT ` + recordCols + `, ` + valueCols + `
		FROM secrets AS s JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = s.current_version
		WHERE ` + liveByName
	// NULL value columns: the version never existed or was erased.
	qGetVersion = `SELECT ` + recordCols + `, ` + valueCols + `
		FROM secrets AS s LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = $3
		WHERE ` + liveByName

	// qLockLive starts a write that must read the secret before it changes
	// it (a Cond, a version check). It is a statement of its own for the
	// reason given at qLockWorkspace: the statements after it take their
	// snapshots with the row locked, so nothing they read can change
	// before the commit. A delete locks FOR UPDATE, the mode DELETE needs,
	// so the lock is never upgraded; the other writes change no key column
	// and take the weaker mode the UPDATE itself would.
	qLockLive          = `SELECT s.id, s.revision, s.current_version FROM secrets AS s WHERE ` + liveByName + ` FOR NO KEY UPDATE`
	qLockLiveForDelete = `SELECT s.id, s.revision, s.current_version FROM secrets AS s WHERE ` + liveByName + ` FOR UPDATE`

	// A NULL $5 keeps the description.
	qUpdateMeta = `UPDATE secrets AS s SET description = coalesce($5, s.description),
			updated_at = $3, updated_by = $4, revision = s.revision + 1
		WHERE ` + liveByName + ` RETURNING ` + recordCols
	// The UPDATE waits for the row lock and then sees the latest row, so
	// current_version + 1 is always the next free number. Pruning is not
	// here but in qPrune: this statement's snapshot is taken before the row
	// lock is granted, so it cannot see the versions that writers it waited
	// for added.
	qUpdateValue = `WITH upd AS (UPDATE secrets AS s SET description = coalesce($5, s.description),
				updated_at = $3, updated_by = $4, revision = s.revision + 1,
				current_version = s.current_version + 1
			WHERE ` + liveByName + ` RETURNING ` + recordCols + `)
		, v AS (INSERT INTO secret_versions (` + versionCols + `)
			SELECT id, current_version, $6, $7, $8, $9, $3, $4 FROM upd)
		SELECT * FROM upd`
	// qPrune erases the values of versions <= current - $3 of the live
	// secret $1/$2, and follows a write that added a version in the same
	// transaction: its snapshot, taken after that write held the row lock,
	// sees every version. It acts only on a row this transaction wrote
	// (xmin), so when the write found no secret, one created by another
	// transaction in between is left alone. The ciphertext term picks the
	// partial index of stored versions, so it visits the few versions it
	// erases, not the whole history.
	qPrune = `UPDATE secret_versions AS v SET ` + eraseCols + `
		FROM secrets AS s
		WHERE ` + liveByName + ` AND s.xmin = pg_current_xact_id_if_assigned()::xid
			AND v.secret_id = s.id AND v.version <= s.current_version - $3 AND v.ciphertext IS NOT NULL`

	// $12 is replace: when false an existing live secret is left alone and
	// no row is returned, which tells "skipped" from "stored". A new secret
	// (current_version 1) gets its version created when the record was, a
	// replaced one its next version when the record was last updated.
	qImportSecret = `WITH up AS (INSERT INTO secrets AS s (workspace, name, description, created_at,
				updated_at, created_by, updated_by, revision, current_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 1)
			ON CONFLICT (workspace, name) WHERE deleted_id IS NULL DO UPDATE SET
				description = excluded.description, created_at = excluded.created_at,
				updated_at = excluded.updated_at, created_by = excluded.created_by,
				updated_by = excluded.updated_by, revision = s.revision + 1,
				current_version = s.current_version + 1
			WHERE $12::boolean
			RETURNING s.id, s.current_version)
		, v AS (INSERT INTO secret_versions (` + versionCols + `)
			SELECT id, current_version, $8, $9, $10, $11,
				CASE WHEN current_version = 1 THEN $4 ELSE $5 END,
				CASE WHEN current_version = 1 THEN $6 ELSE $7 END
			FROM up)
		SELECT count(*) FROM up`

	qBinSecret = `UPDATE secrets AS s SET deleted_id = $3, deleted_at = $4, deleted_by = $5, purge_at = $6,
			revision = s.revision + 1
		WHERE ` + liveByName
	// Versions go with the secret (ON DELETE CASCADE).
	qEraseSecret = `DELETE FROM secrets AS s WHERE ` + liveByName

	// Run after qLockLive. The copy keeps the value as stored: same
	// associated data, no re-seal. No row: version $2 has no value.
	qRestoreVersion = `WITH src AS (SELECT ciphertext, wrapped_dek, provider, format_version
				FROM secret_versions WHERE secret_id = $1 AND version = $2 AND ciphertext IS NOT NULL)
		, upd AS (UPDATE secrets AS s SET updated_at = $3, updated_by = $4, revision = s.revision + 1,
				current_version = s.current_version + 1
			WHERE s.id = $1 AND EXISTS (SELECT 1 FROM src) RETURNING ` + recordCols + `)
		, v AS (INSERT INTO secret_versions (` + versionCols + `)
			SELECT upd.id, upd.current_version, src.ciphertext, src.wrapped_dek, src.provider,
				src.format_version, $3, $4
			FROM upd, src)
		SELECT * FROM upd`
	// Run after qLockLive, which checked that $2 is an older version. The
	// revision moves only when a value was erased.
	qDestroyVersion = `WITH erased AS (UPDATE secret_versions SET ` + eraseCols + `
				WHERE secret_id = $1 AND version = $2 AND ciphertext IS NOT NULL RETURNING 1)
		UPDATE secrets SET revision = revision + 1 WHERE id = $1 AND EXISTS (SELECT 1 FROM erased)`
)

// The recycle bin. An entry is visible at $3 while its purge_at is after
// it; deleted_id = $2 implies deleted_id IS NOT NULL, so secrets_bin_id
// answers.
const (
	binVisible = `s.workspace = $1 AND s.deleted_id = $2 AND s.purge_at > $3`

	// One row per stored version (ascending), or one with NULL version
	// columns if none is stored.
	qGetDeleted = `SELECT s.deleted_id, ` + recordCols + `, s.deleted_at, s.deleted_by, s.purge_at,
			v.version, ` + valueCols + `
		FROM secrets AS s LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.ciphertext IS NOT NULL
		WHERE ` + binVisible + `
		ORDER BY v.version`
	qLockBin = `SELECT s.id FROM secrets AS s WHERE ` + binVisible + ` FOR NO KEY UPDATE`
	// Run after qLockBin (and the re-seals). A NULL $2 keeps the name; the
	// unique index of live names refuses a clash.
	qRestoreDeleted = `UPDATE secrets AS s SET name = coalesce($2, s.name), deleted_id = NULL,
			deleted_at = NULL, deleted_by = NULL, purge_at = NULL, updated_at = $3, updated_by = $4,
			revision = s.revision + 1
		WHERE s.id = $1 RETURNING ` + recordCols
	qStoredCount  = `SELECT count(*) FROM secret_versions WHERE secret_id = $1 AND ciphertext IS NOT NULL`
	qPurgeDeleted = `DELETE FROM secrets AS s WHERE ` + binVisible

	// PurgeExpired's three statements, in one transaction. SKIP LOCKED
	// gives concurrent purges (one per replica) disjoint entries, and
	// leaves alone an entry a restore holds. The versions are then locked
	// in key order, the order ResealVersions locks them in: the delete's
	// cascade would lock them in the order it deletes the secrets, and
	// could deadlock with a rotation re-sealing the same versions.
	qPickExpired = `SELECT id FROM secrets WHERE deleted_id IS NOT NULL AND purge_at <= $1
		ORDER BY purge_at LIMIT $2 FOR UPDATE SKIP LOCKED`
	qLockVersionsOf = `SELECT 1 FROM secret_versions WHERE secret_id = ANY ($1::bigint[])
		ORDER BY secret_id, version FOR UPDATE`
	qDeleteIDs = `DELETE FROM secrets WHERE id = ANY ($1::bigint[])`
)

// Rotation: every stored version, live or in the bin.
const (
	storedCols = `v.secret_id, v.version, s.workspace, s.name, ` + valueCols + `, s.deleted_id IS NOT NULL`
	// Keyset pagination over the partial index of stored versions.
	qScanVersions = `SELECT ` + storedCols + `
		FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id
		WHERE (v.secret_id, v.version) > ($1, $2) AND v.ciphertext IS NOT NULL
		ORDER BY v.secret_id, v.version LIMIT $3`
	qGetStoredVersion = `SELECT ` + storedCols + `
		FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id
		WHERE v.secret_id = $1 AND v.version = $2 AND v.ciphertext IS NOT NULL`
	// qCountSealed counts stored versions per (provider, format) in one
	// pass over the versions, each joined to its secret to tell the current
	// version, a kept one and the bin apart.
	qCountSealed = `SELECT v.provider, v.format_version,
		count(*) FILTER (WHERE s.deleted_id IS NULL AND v.version = s.current_version),
		count(*) FILTER (WHERE s.deleted_id IS NULL AND v.version <> s.current_version),
		count(*) FILTER (WHERE s.deleted_id IS NOT NULL)
		FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id
		WHERE v.ciphertext IS NOT NULL
		GROUP BY v.provider, v.format_version ORDER BY v.provider, v.format_version`
	// qLockReseal precedes qReseal in the same transaction: it locks the
	// batch's versions in key order, so two rotations re-sealing
	// overlapping batches wait for each other instead of deadlocking (one
	// UPDATE locks rows in whatever order its plan visits them). It must be
	// a statement of its own, for the reason given at qLockWorkspace:
	// qReseal's snapshot is then taken with every row locked, so what it
	// reads cannot change before it writes. It locks versions, not their
	// secrets: a re-seal is no change of the secret (its revision stays),
	// so it need not wait for writers of the secret, only of the version.
	qLockReseal = `SELECT 1 FROM secret_versions
		WHERE (secret_id, version) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))
		ORDER BY secret_id, version FOR NO KEY UPDATE`
	// qReseal re-seals the versions that still hold the ciphertext read
	// ($3, Old) and returns, in batch order, whether each was re-sealed and
	// whether it held a value (from the snapshot before the update), which
	// tells another ciphertext from an erased or missing version. = is
	// never true for an erased (NULL) ciphertext.
	qReseal = `WITH batch AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[],
				$5::bytea[], $6::text[], $7::integer[]) WITH ORDINALITY
				AS b (secret_id, version, old, ciphertext, wrapped_dek, provider, format_version, ord))
		, updated AS (UPDATE secret_versions AS v SET ciphertext = b.ciphertext, wrapped_dek = b.wrapped_dek,
				provider = b.provider, format_version = b.format_version
			FROM batch AS b
			WHERE v.secret_id = b.secret_id AND v.version = b.version AND v.ciphertext = b.old
			RETURNING v.secret_id, v.version)
		SELECT u.secret_id IS NOT NULL, v.ciphertext IS NOT NULL
		FROM batch AS b
			LEFT JOIN secret_versions AS v ON v.secret_id = b.secret_id AND v.version = b.version
			LEFT JOIN updated AS u ON u.secret_id = b.secret_id AND u.version = b.version
		ORDER BY b.ord`
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
