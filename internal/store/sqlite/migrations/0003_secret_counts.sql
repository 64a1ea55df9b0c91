-- Each workspace keeps the number of its secrets, so that listing a page
-- costs the page rather than a count of the whole workspace (ListSecrets
-- returns the total with every page).
--
-- Triggers keep the count in the same transaction as the change, whichever
-- statement or process makes it: create, import (only when it inserts; an
-- upsert that updates fires no INSERT trigger) and delete, including the
-- cascade from a workspace delete (foreign keys are on, and SQLite fires a
-- child table's triggers for the rows a cascade deletes). When the cascade
-- runs, the workspace row is already gone or about to go: the UPDATE then
-- matches no row, which is not an error. SQLite has one writer at a time, so
-- a single counter per workspace costs no concurrency.

ALTER TABLE workspaces ADD COLUMN secret_count INTEGER NOT NULL DEFAULT 0;

UPDATE workspaces SET secret_count = (SELECT count(*) FROM secrets WHERE secrets.workspace = workspaces.name);

CREATE TRIGGER secrets_count_insert AFTER INSERT ON secrets BEGIN
    UPDATE workspaces SET secret_count = secret_count + 1 WHERE name = NEW.workspace;
END;

CREATE TRIGGER secrets_count_delete AFTER DELETE ON secrets BEGIN
    UPDATE workspaces SET secret_count = secret_count - 1 WHERE name = OLD.workspace;
END;
