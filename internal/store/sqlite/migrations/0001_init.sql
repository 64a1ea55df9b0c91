-- Initial schema. Timestamps are INTEGER unix microseconds (UTC), the
-- precision the PostgreSQL backend stores, so both round-trip identically.

CREATE TABLE workspaces (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT,
    created_at  INTEGER NOT NULL,
    created_by  TEXT,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT
);

-- AUTOINCREMENT keeps ids strictly ascending even after the newest row is
-- deleted, as a PostgreSQL identity does; rotation pages by id.
CREATE TABLE secrets (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace      TEXT    NOT NULL REFERENCES workspaces (name) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    description    TEXT,
    ciphertext     BLOB    NOT NULL,
    wrapped_dek    BLOB    NOT NULL,
    provider       TEXT    NOT NULL,
    format_version INTEGER NOT NULL CHECK (format_version IN (1, 2)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    created_by     TEXT,
    updated_by     TEXT,
    revision       INTEGER NOT NULL,
    UNIQUE (workspace, name)
);

CREATE INDEX secrets_list ON secrets (workspace, created_at DESC, name);

CREATE TABLE role_bindings (
    workspace  TEXT    NOT NULL REFERENCES workspaces (name) ON DELETE CASCADE,
    principal  TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    granted_by TEXT,
    granted_at INTEGER NOT NULL,
    UNIQUE (workspace, principal, role)
);

-- One row per seed binding ever created, so a removed seed stays removed.
CREATE TABLE seeds (
    key       TEXT    NOT NULL PRIMARY KEY,
    seeded_at INTEGER NOT NULL
);
