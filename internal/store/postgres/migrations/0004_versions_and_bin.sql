-- Versions and the recycle bin (docs/lifecycle.md).
--
-- secrets keeps one row per secret, live (deleted_id NULL) or in the bin,
-- but no longer its sealed value: every value is a row of secret_versions.
-- Every existing secret becomes version 1 holding its sealed value
-- unchanged, created when and by whom the value was last written; ids and
-- revisions are kept, so ETags (id, revision) computed before stay valid.

-- The bin columns are all NULL for a live secret and all but deleted_by
-- set for a bin entry. current_version gets its value for the existing
-- rows from the default (no rewrite), which then goes: every insert names it.
ALTER TABLE secrets
    ADD COLUMN current_version bigint NOT NULL DEFAULT 1,
    ADD COLUMN deleted_id text COLLATE "C",
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN deleted_by text,
    ADD COLUMN purge_at timestamptz,
    ADD CONSTRAINT secrets_bin_columns CHECK (
        (deleted_id IS NULL) = (deleted_at IS NULL) AND (deleted_id IS NULL) = (purge_at IS NULL));
ALTER TABLE secrets ALTER COLUMN current_version DROP DEFAULT;
-- Description filters compare it (ILIKE), case-insensitively in ASCII
-- only, as SQLite's LIKE does: lower() folds ASCII alone under "C". A
-- collation change of text is not a rewrite.
ALTER TABLE secrets ALTER COLUMN description TYPE text COLLATE "C";

-- A live name is unique; bin entries may share a name with each other and
-- with the live secret. Every index on secrets but the primary key is
-- partial, on live rows or on bin rows, so neither kind of row costs the
-- other's index maintenance. The live indexes serve the list sorts (name
-- sort and name filters use secrets_live_name); ties are by name.
ALTER TABLE secrets DROP CONSTRAINT secrets_workspace_name_key;
DROP INDEX secrets_list;
CREATE UNIQUE INDEX secrets_live_name ON secrets (workspace, name) WHERE deleted_id IS NULL;
CREATE INDEX secrets_live_created ON secrets (workspace, created_at DESC, name) WHERE deleted_id IS NULL;
CREATE INDEX secrets_live_updated ON secrets (workspace, updated_at DESC, name) WHERE deleted_id IS NULL;
CREATE UNIQUE INDEX secrets_bin_id ON secrets (deleted_id) WHERE deleted_id IS NOT NULL;
CREATE INDEX secrets_bin_list ON secrets (workspace, deleted_at DESC) WHERE deleted_id IS NOT NULL;
-- The background purge takes the oldest expired entries of all workspaces.
CREATE INDEX secrets_bin_purge ON secrets (purge_at) WHERE deleted_id IS NOT NULL;

-- One row per version ever made; versions are never removed one by one, so
-- a secret has exactly the versions 1 to current_version. Erasing a version
-- (destroyed, pruned) sets its four value columns to NULL: the row stays, so
-- the history has no holes and a number is never reused.
CREATE TABLE secret_versions (
    secret_id      bigint      NOT NULL,
    version        bigint      NOT NULL,
    ciphertext     bytea,
    wrapped_dek    bytea,
    provider       text        COLLATE "C",
    format_version integer     CHECK (format_version IN (1, 2)),
    created_at     timestamptz NOT NULL,
    created_by     text,
    PRIMARY KEY (secret_id, version),
    CHECK (num_nulls(ciphertext, wrapped_dek, provider, format_version) IN (0, 4))
);

INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_dek, provider, format_version,
        created_at, created_by)
    SELECT id, 1, ciphertext, wrapped_dek, provider, format_version, updated_at, updated_by
    FROM secrets ORDER BY id;

-- Added after the copy: one validating join instead of a check per row.
ALTER TABLE secret_versions ADD FOREIGN KEY (secret_id) REFERENCES secrets (id) ON DELETE CASCADE;
-- Pruning (versions <= n - keep that still hold a value) and rotation walk
-- the stored versions only, however long the erased history grows.
CREATE INDEX secret_versions_stored ON secret_versions (secret_id, version) WHERE ciphertext IS NOT NULL;

-- A dropped column's bytes stay in a row until the row is next written;
-- every way a version is erased writes or deletes its secret's row too.
ALTER TABLE secrets DROP COLUMN ciphertext, DROP COLUMN wrapped_dek, DROP COLUMN provider,
    DROP COLUMN format_version;

-- The per-workspace count of migration 3 counts live secrets only: rows
-- inserted or deleted live, and rows an UPDATE moves into or out of the
-- bin. Moves are counted by a row trigger that fires only on them (the
-- WHEN is checked without calling the function): a statement trigger with
-- transition tables would run for every UPDATE of secrets, every value
-- and description change, and add about 60 % to its server time (measured
-- on a plain UPDATE by name: 0.11 ms, 0.18 ms with such a trigger).
-- Every statement that moves a secret moves one, so a per-statement
-- upsert would save nothing. An AFTER ROW trigger fires at the end of its
-- statement like a statement trigger, so shard rows are still locked after
-- the secret rows the statement changed (the deadlock argument of
-- migration 3).

CREATE OR REPLACE FUNCTION secret_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO secret_counts AS c (workspace, shard, n)
        SELECT workspace, pg_backend_pid() % 16, count(*) FROM changed
        WHERE deleted_id IS NULL
        GROUP BY workspace
        ON CONFLICT (workspace, shard) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION secret_counts_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO secret_counts AS c (workspace, shard, n)
        SELECT workspace, pg_backend_pid() % 16, -count(*) FROM changed
        WHERE deleted_id IS NULL
            AND EXISTS (SELECT 1 FROM workspaces WHERE workspaces.name = changed.workspace)
        GROUP BY workspace
        ON CONFLICT (workspace, shard) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION secret_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO secret_counts AS c (workspace, shard, n)
        VALUES (NEW.workspace, pg_backend_pid() % 16, CASE WHEN NEW.deleted_id IS NULL THEN 1 ELSE -1 END)
        ON CONFLICT (workspace, shard) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;

CREATE TRIGGER secrets_count_move AFTER UPDATE OF deleted_id ON secrets
    FOR EACH ROW WHEN ((OLD.deleted_id IS NULL) <> (NEW.deleted_id IS NULL))
    EXECUTE FUNCTION secret_counts_move();
