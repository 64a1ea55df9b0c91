-- Initial schema. Text that is compared or sorted uses COLLATE "C" (byte
-- order), the order SQLite's BINARY collation gives, so that both backends
-- list in the same order whatever the database's default collation is.

CREATE TABLE workspaces (
    id          text        NOT NULL PRIMARY KEY,
    name        text        COLLATE "C" NOT NULL UNIQUE,
    description text,
    created_at  timestamptz NOT NULL,
    created_by  text,
    updated_at  timestamptz NOT NULL,
    updated_by  text
);

CREATE TABLE secrets (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace      text        COLLATE "C" NOT NULL REFERENCES workspaces (name) ON DELETE CASCADE,
    name           text        COLLATE "C" NOT NULL,
    description    text,
    ciphertext     bytea       NOT NULL,
    wrapped_dek    bytea       NOT NULL,
    provider       text        COLLATE "C" NOT NULL,
    format_version integer     NOT NULL CHECK (format_version IN (1, 2)),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    created_by     text,
    updated_by     text,
    revision       bigint      NOT NULL,
    UNIQUE (workspace, name)
);

CREATE INDEX secrets_list ON secrets (workspace, created_at DESC, name);

CREATE TABLE role_bindings (
    workspace  text        COLLATE "C" NOT NULL REFERENCES workspaces (name) ON DELETE CASCADE,
    principal  text        COLLATE "C" NOT NULL,
    role       text        COLLATE "C" NOT NULL,
    granted_by text,
    granted_at timestamptz NOT NULL,
    UNIQUE (workspace, principal, role)
);

-- One row per seed binding ever created, so a removed seed stays removed.
CREATE TABLE seeds (
    key       text        COLLATE "C" NOT NULL PRIMARY KEY,
    seeded_at timestamptz NOT NULL
);
