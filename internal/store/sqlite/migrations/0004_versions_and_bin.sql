-- Versions and the recycle bin (docs/lifecycle.md).
--
-- secrets keeps one row per secret, live (deleted_id NULL) or in the bin,
-- but no longer its sealed value: each value is a row of secret_versions.
-- The table-level UNIQUE (workspace, name) must give way to a partial index
-- on live rows (bin entries may share a name with each other and with the
-- live secret), and SQLite cannot drop a constraint, so the table is
-- rebuilt: the old one is renamed out of the way, the new one created under
-- the final name, the rows copied with their ids, the old table dropped.
--
-- Ordering with foreign keys on (they are, and cannot be switched off inside
-- the migration's transaction): nothing references the old secrets table,
-- so dropping it cascades nowhere; secret_versions references the NEW
-- table from the start, so the drop cannot reach it either.
--
-- Every existing secret becomes version 1 holding its sealed value
-- unchanged, created when and by whom the value was last written; revisions
-- are kept, so ETags (id, revision) computed before stay valid.

DROP TRIGGER secrets_count_insert;
DROP TRIGGER secrets_count_delete;
DROP INDEX secrets_list;

ALTER TABLE secrets RENAME TO secrets_old;

-- AUTOINCREMENT as before: an id is never reused, also not after the newest
-- row is deleted, because the ETag hashes the id and a re-created secret
-- must not match a tag of its predecessor.
CREATE TABLE secrets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace       TEXT    NOT NULL REFERENCES workspaces (name) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    description     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    created_by      TEXT,
    updated_by      TEXT,
    revision        INTEGER NOT NULL,
    current_version INTEGER NOT NULL,
    -- The secret_versions row (id) of current_version: the hot read, of a
    -- secret with its value, follows it to the row directly instead of
    -- searching the (secret_id, version) index first. Set in the
    -- transaction that adds the version.
    current_row     INTEGER,
    -- Pruning (docs/lifecycle.md: the write that creates version n erases
    -- the values of versions <= n - max_versions) has erased every version
    -- up to this one, so the next prune erases only the range above it:
    -- one version when the history limit did not change, whatever the
    -- length of the history. The write reads the mark with the row and
    -- prunes with a statement of its own: done by a trigger instead, the
    -- same work measured slower (a statement with a trigger keeps a
    -- statement journal).
    pruned_through  INTEGER NOT NULL DEFAULT 0,
    -- The bin: all four NULL for a live secret, all set for a bin entry.
    deleted_id      TEXT,
    deleted_at      INTEGER,
    deleted_by      TEXT,
    purge_at        INTEGER,
    CHECK ((deleted_id IS NULL) = (deleted_at IS NULL) AND (deleted_id IS NULL) = (purge_at IS NULL))
);

INSERT INTO secrets (id, workspace, name, description, created_at, updated_at, created_by, updated_by,
        revision, current_version)
    SELECT id, workspace, name, description, created_at, updated_at, created_by, updated_by, revision, 1
    FROM secrets_old ORDER BY id;

-- The copy set the new table's sequence to the largest id copied; the old
-- sequence may be higher (its newest secrets were deleted). The rename moved
-- the old table's sqlite_sequence row to secrets_old, and dropping that
-- table drops the row, so the value is carried over now.
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'secrets_old'), 0))
    WHERE name = 'secrets';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'secrets', seq FROM sqlite_sequence
    WHERE name = 'secrets_old' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'secrets');

-- One row per version ever made; versions are never removed one by one, so
-- a secret has exactly the versions 1 to current_version. Erasing a version
-- (destroyed, pruned) sets its four value columns to NULL: the row stays, so
-- the history has no holes and a number is never reused.
--
-- A rowid table, not WITHOUT ROWID: rows carry ciphertexts of any size
-- (SQLite advises WITHOUT ROWID only for rows under 1/20 of a page), and
-- rows appended in rowid order put the versions one commit adds on a few
-- pages, where clustering by secret puts each on a page of its own: an
-- update then writes fewer WAL frames. The key (secret_id, version) is a
-- unique index; id, an explicit INTEGER PRIMARY KEY, is the rowid that
-- secrets.current_row names, which VACUUM keeps (it may renumber an
-- implicit rowid).
CREATE TABLE secret_versions (
    id             INTEGER PRIMARY KEY,
    secret_id      INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    ciphertext     BLOB,
    wrapped_dek    BLOB,
    provider       TEXT,
    format_version INTEGER CHECK (format_version IN (1, 2)),
    created_at     INTEGER NOT NULL,
    created_by     TEXT,
    UNIQUE (secret_id, version),
    CHECK ((ciphertext IS NULL) = (wrapped_dek IS NULL) AND (ciphertext IS NULL) = (provider IS NULL)
        AND (ciphertext IS NULL) = (format_version IS NULL))
);

INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_dek, provider, format_version,
        created_at, created_by)
    SELECT id, 1, ciphertext, wrapped_dek, provider, format_version, updated_at, updated_by
    FROM secrets_old ORDER BY id;

UPDATE secrets SET current_row = (SELECT id FROM secret_versions WHERE secret_id = secrets.id AND version = 1);

DROP TABLE secrets_old;

-- A live name is unique; the bin is not. Upserts name this index as
-- ON CONFLICT (workspace, name) WHERE deleted_id IS NULL. It also serves the
-- name sort and name filters.
CREATE UNIQUE INDEX secrets_live_name ON secrets (workspace, name) WHERE deleted_id IS NULL;
-- The other list orders (ties by name).
CREATE INDEX secrets_live_created ON secrets (workspace, created_at DESC, name) WHERE deleted_id IS NULL;
CREATE INDEX secrets_live_updated ON secrets (workspace, updated_at DESC, name) WHERE deleted_id IS NULL;
-- A bin id is unique. Partial, like every index here, so that no index of
-- the bin matches the live rows' deleted_id IS NULL: a UNIQUE column would
-- make the planner take "deleted_id = NULL" for a one-row lookup and sort
-- the whole workspace for each page.
CREATE UNIQUE INDEX secrets_bin_id ON secrets (deleted_id) WHERE deleted_id IS NOT NULL;
-- The bin of a workspace, newest deletion first, and the background purge.
CREATE INDEX secrets_bin ON secrets (workspace, deleted_at DESC) WHERE deleted_id IS NOT NULL;
CREATE INDEX secrets_bin_purge ON secrets (purge_at) WHERE deleted_id IS NOT NULL;

-- The count of migration 3, now of live secrets only: a row counts while
-- deleted_id is NULL, so a move into the bin and a restore out of it change
-- it like a delete and an insert. The rebuild copied only live rows.
UPDATE workspaces SET secret_count = (SELECT count(*) FROM secrets
    WHERE secrets.workspace = workspaces.name AND secrets.deleted_id IS NULL);

CREATE TRIGGER secrets_count_insert AFTER INSERT ON secrets WHEN NEW.deleted_id IS NULL BEGIN
    UPDATE workspaces SET secret_count = secret_count + 1 WHERE name = NEW.workspace;
END;

CREATE TRIGGER secrets_count_delete AFTER DELETE ON secrets WHEN OLD.deleted_id IS NULL BEGIN
    UPDATE workspaces SET secret_count = secret_count - 1 WHERE name = OLD.workspace;
END;

CREATE TRIGGER secrets_count_to_bin AFTER UPDATE OF deleted_id ON secrets
WHEN OLD.deleted_id IS NULL AND NEW.deleted_id IS NOT NULL BEGIN
    UPDATE workspaces SET secret_count = secret_count - 1 WHERE name = OLD.workspace;
END;

CREATE TRIGGER secrets_count_from_bin AFTER UPDATE OF deleted_id ON secrets
WHEN OLD.deleted_id IS NOT NULL AND NEW.deleted_id IS NULL BEGIN
    UPDATE workspaces SET secret_count = secret_count + 1 WHERE name = NEW.workspace;
END;
