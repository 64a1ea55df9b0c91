-- The audit trail (docs/operations.md, "Audit trail").
--
-- The id starts with the event's microseconds in fixed-width hex
-- (secrets.NewAuditID), so ordering by id (byte order: COLLATE "C") orders
-- by time and a time bound is a range of ids: the global listing, the
-- retention prune (the oldest ids first) and a time range use the primary
-- key, a workspace's newest page audit_workspace. No foreign keys: an event
-- outlives its workspace.
--
-- The CHECKs keep an event without an action or outcome out; a write whose
-- event fails them fails with it (the conformance suite relies on that to
-- force an event insert to fail).
CREATE TABLE audit_events (
    id           text COLLATE "C" NOT NULL PRIMARY KEY,
    time         timestamptz NOT NULL,
    action       text NOT NULL CHECK (action <> ''),
    outcome      text NOT NULL CHECK (outcome <> ''),
    status       integer NOT NULL,
    workspace    text COLLATE "C" NOT NULL,
    secret       text COLLATE "C" NOT NULL,
    version      bigint NOT NULL,
    principal    text NOT NULL,
    on_behalf_of text NOT NULL,
    auth_method  text NOT NULL,
    request_id   text NOT NULL,
    remote_addr  text NOT NULL,
    user_agent   text NOT NULL
);

-- A workspace's events newest first, and one secret's.
CREATE INDEX audit_workspace ON audit_events (workspace, id);
CREATE INDEX audit_secret ON audit_events (workspace, secret, id);
