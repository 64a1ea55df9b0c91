-- Role bindings get an ascending id, the "grant order" in which the members
-- API lists a principal's roles (docs/api.md §9.7); granted_at cannot serve,
-- because several roles granted by one request share it.
--
-- The implicit rowid would ascend too, but VACUUM (and VACUUM INTO, the
-- documented backup) may renumber the rowids of a table without an INTEGER
-- PRIMARY KEY, which would scramble the order. So the table is copied into
-- one with an explicit key, in rowid order so existing rows keep their
-- order. AUTOINCREMENT never reuses an id, like the PostgreSQL identity.
-- Nothing references role_bindings, so dropping and renaming it is safe
-- with foreign keys on.

CREATE TABLE role_bindings_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace  TEXT    NOT NULL REFERENCES workspaces (name) ON DELETE CASCADE,
    principal  TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    granted_by TEXT,
    granted_at INTEGER NOT NULL,
    UNIQUE (workspace, principal, role)
);

INSERT INTO role_bindings_new (workspace, principal, role, granted_by, granted_at)
    SELECT workspace, principal, role, granted_by, granted_at FROM role_bindings ORDER BY rowid;

DROP TABLE role_bindings;

ALTER TABLE role_bindings_new RENAME TO role_bindings;

-- WorkspacesOf looks bindings up by principal across workspaces.
CREATE INDEX role_bindings_principal ON role_bindings (principal, workspace);
