-- Each workspace keeps the number of its secrets, so that listing a page
-- costs the page rather than a count(*) of the whole workspace (ListSecrets
-- returns the total with every page). Triggers keep the count in the same
-- transaction as the change, whichever statement or replica makes it.
--
-- One counter row per workspace would serialise concurrent creates in a
-- workspace on that row's lock, one commit after the other. So the count is
-- split into up to 16 shards, total = sum(n): a statement adds its delta to
-- the shard of its server process (pg_backend_pid() % 16), so the
-- connections of a pool, which have distinct pids, mostly update distinct
-- rows. A shard may go negative (a delete need not land on the shard of the
-- insert); only the sum means anything. Shard rows are created on first use.
--
-- The triggers run once per statement over the transition table: a cascade
-- deleting 100,000 secrets changes one row once rather than 100,000 times,
-- and an import upsert that updates an existing secret has no row in the
-- INSERT transition table, so it changes no count.
--
-- Deleting a workspace removes its shards with a statement-level trigger
-- on workspaces rather than a foreign key. An ON DELETE CASCADE would run
-- among the workspace's other cascades in the order of their internal
-- trigger names (which follows object ids, not creation order, once the
-- ids gain a digit), and if it locked the shard rows before the secrets
-- cascade, a DeleteSecret holding its secret's row lock while waiting for a
-- shard row would deadlock with the DeleteWorkspace waiting for that secret.
-- The statement-level trigger fires after the row-level cascades, so the
-- secrets are locked first. The cascade's own delete trigger fires after it
-- (the cascade queues its triggers at the end of the outer statement), and
-- skips a workspace that no longer exists, whose count has just gone.

CREATE TABLE secret_counts (
    workspace text    COLLATE "C" NOT NULL,
    shard     integer NOT NULL CHECK (shard >= 0 AND shard < 16),
    n         bigint  NOT NULL,
    PRIMARY KEY (workspace, shard)
);

INSERT INTO secret_counts (workspace, shard, n)
    SELECT workspace, 0, count(*) FROM secrets GROUP BY workspace;

CREATE FUNCTION secret_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO secret_counts AS c (workspace, shard, n)
        SELECT workspace, pg_backend_pid() % 16, count(*) FROM changed GROUP BY workspace
        ON CONFLICT (workspace, shard) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION secret_counts_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO secret_counts AS c (workspace, shard, n)
        SELECT workspace, pg_backend_pid() % 16, -count(*) FROM changed
        WHERE EXISTS (SELECT 1 FROM workspaces WHERE workspaces.name = changed.workspace)
        GROUP BY workspace
        ON CONFLICT (workspace, shard) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION secret_counts_drop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM secret_counts WHERE workspace IN (SELECT name FROM gone);
    RETURN NULL;
END $$;

CREATE TRIGGER secrets_count_insert AFTER INSERT ON secrets
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION secret_counts_add();

CREATE TRIGGER secrets_count_delete AFTER DELETE ON secrets
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION secret_counts_subtract();

CREATE TRIGGER workspaces_drop_counts AFTER DELETE ON workspaces
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION secret_counts_drop();
