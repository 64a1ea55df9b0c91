-- Role bindings get an ascending id, the "grant order" in which the members
-- API lists a principal's roles (docs/api.md §9.7); granted_at cannot serve,
-- because several roles granted by one request share it. Existing rows are
-- numbered in table order. An identity, like secrets.id, never reuses ids.

ALTER TABLE role_bindings ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;

-- WorkspacesOf looks bindings up by principal across workspaces.
CREATE INDEX role_bindings_principal ON role_bindings (principal, workspace);
