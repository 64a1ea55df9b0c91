-- The audit trail (docs/operations.md, "Audit trail").
--
-- The id starts with the event's microseconds in fixed-width hex
-- (secrets.NewAuditID), so ordering by id orders by time and a time bound is
-- a range of ids. WITHOUT ROWID clusters the rows by id: the global listing,
-- the retention prune (the oldest ids first) and a time range are ranges of
-- the table itself, and a workspace's newest page is a range of
-- audit_workspace. No foreign keys: an event outlives its workspace.
--
-- The CHECKs keep an event without an action or outcome out; a write whose
-- event fails them fails with it (the conformance suite relies on that to
-- force an event insert to fail).
CREATE TABLE audit_events (
    id           TEXT NOT NULL PRIMARY KEY,
    time         INTEGER NOT NULL,
    action       TEXT NOT NULL CHECK (action <> ''),
    outcome      TEXT NOT NULL CHECK (outcome <> ''),
    status       INTEGER NOT NULL,
    workspace    TEXT NOT NULL,
    secret       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    principal    TEXT NOT NULL,
    on_behalf_of TEXT NOT NULL,
    auth_method  TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    remote_addr  TEXT NOT NULL,
    user_agent   TEXT NOT NULL
) WITHOUT ROWID;

-- A workspace's events newest first, and one secret's.
CREATE INDEX audit_workspace ON audit_events (workspace, id);
CREATE INDEX audit_secret ON audit_events (workspace, secret, id);
