-- 0003: nodes and the revocation log (CONTRACT §11.33): how the lanyard nodes of one database
-- keep their credential caches in step (internal/fanout). Neither is exported or audited.
--
-- Never edit this file once it has landed: add a new numbered migration instead.

-- A node's row is its last heartbeat: when it started, when it was last seen, and the seq of
-- the newest revocation it has applied to its cache.
CREATE TABLE nodes (
	id           text COLLATE "C" NOT NULL PRIMARY KEY,
	started_at   timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL,
	applied_seq  bigint NOT NULL DEFAULT 0
);

CREATE INDEX nodes_seen ON nodes (last_seen_at);

-- One row per revoking change: what it revoked, as JSON text (store.Revoked's MarshalJSON). An
-- identity can hand out numbers in another order than their transactions commit; appends take
-- the advisory lock revocationLock (postgres/nodes.go) until they commit, so seqs become
-- visible in order and a node that read up to seq n never misses a later entry below it.
CREATE TABLE revocations (
	seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at      timestamptz NOT NULL,
	node    text COLLATE "C" NOT NULL,
	revoked text NOT NULL
);

CREATE INDEX revocations_at ON revocations (at);
