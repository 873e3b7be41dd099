-- 0002: the resource tree, grants, and the ancestry of audit events.
--
-- A resource is named "type/id" everywhere else (keys.resource, grants.resource,
-- events.resource); here it is the pair (type, id), and its parent the pair (parent_type,
-- parent_id), both NULL for a root. The parent reference has no ON DELETE action: the store
-- deletes a whole subtree in one statement, and a statement that would leave a child without
-- its parent fails. Grants and keys name resources by "type/id" text without a foreign key;
-- the store checks and deletes them itself.
--
-- Times are UTC unix seconds. Never edit this file once it has landed: add a new numbered
-- migration instead.

CREATE TABLE resources (
	type        TEXT    NOT NULL,
	id          TEXT    NOT NULL,
	name        TEXT    NOT NULL DEFAULT '',
	parent_type TEXT,
	parent_id   TEXT,
	plan        TEXT    NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (type, id),
	FOREIGN KEY (parent_type, parent_id) REFERENCES resources (type, id),
	CHECK ((parent_type IS NULL) = (parent_id IS NULL))
) STRICT;

-- Children of a resource (and the foreign key's own lookups).
CREATE INDEX resources_parent ON resources (parent_type, parent_id);
CREATE INDEX resources_list ON resources (created_at, id, type);

-- A role of a principal ("user:<id>" or "key:<id>") on a resource ("type/id").
CREATE TABLE grants (
	resource   TEXT    NOT NULL,
	principal  TEXT    NOT NULL,
	role       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (resource, principal)
) STRICT;

CREATE INDEX grants_principal ON grants (principal);
CREATE INDEX grants_list ON grants (resource, created_at, principal);

-- keys.resource is indexed since 0001 (keys_resource).

-- The resources an event belongs to, computed by the store when it writes the event:
-- '|' || ref || '|' for events.resource and every ancestor it had at that moment (for a move,
-- before and after), e.g. '|organization/acme|project/p1|'; '' when the event has no resource.
-- A filter by resource r matches instr(ancestry, '|' || r || '|') > 0. Events written before
-- this migration have NULL here and are matched by events.resource alone.
ALTER TABLE events ADD COLUMN ancestry TEXT;
