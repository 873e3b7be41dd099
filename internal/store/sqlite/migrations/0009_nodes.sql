-- Nodes and the revocation log (CONTRACT §11.33): how several lanyard processes on one store
-- keep their credential caches in step (internal/fanout). Neither is exported or audited.
--
-- A node's row is its last heartbeat: when it started, when it was last seen, and the seq of
-- the newest revocation it has applied to its cache.
CREATE TABLE nodes (
	id           TEXT    NOT NULL PRIMARY KEY,
	started_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	applied_seq  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX nodes_seen ON nodes (last_seen_at);

-- One row per revoking change: what it revoked, as JSON (store.Revoked's MarshalJSON).
-- AUTOINCREMENT never gives a seq twice, even after the newest rows were deleted; writes are
-- serialised, so seqs are given in commit order.
CREATE TABLE revocations (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	at      INTEGER NOT NULL,
	node    TEXT    NOT NULL,
	revoked TEXT    NOT NULL
) STRICT;

CREATE INDEX revocations_at ON revocations (at);
