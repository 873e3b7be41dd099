-- 0004: audit events indexed by resource.
--
-- A query by resource used to test instr(events.ancestry, '|' || ref || '|') on every event,
-- so it cost what the whole audit trail costs. event_resources holds one row for each resource
-- an event belongs to: each ref of its ancestry (see 0002) or, for an event written before 0002
-- without one, its resource. The store writes these rows in the transaction that writes the
-- event, and rows are never changed afterwards (events.at never changes). The key (resource, at,
-- seq) is the order events are listed in, so a query by resource reads that resource's rows and
-- nothing else, whatever else the trail holds (CONTRACT §11.62).
--
-- events.ancestry stays as it is written: the record this index is built from.
--
-- Never edit this file once it has landed: add a new numbered migration instead.

CREATE TABLE event_resources (
	resource TEXT    NOT NULL,
	at       INTEGER NOT NULL,
	seq      INTEGER NOT NULL,
	PRIMARY KEY (resource, at, seq)
) STRICT, WITHOUT ROWID;

-- The events written so far: split each ancestry ('|organization/acme|project/p1|') at its
-- delimiters; an event without one (NULL: written before 0002) belongs to its resource.
INSERT OR IGNORE INTO event_resources (resource, at, seq)
WITH RECURSIVE split (seq, at, ref, rest) AS (
	SELECT seq, at, '', substr(ancestry, 2) FROM events WHERE ancestry <> ''
	UNION ALL
	SELECT seq, at, substr(rest, 1, instr(rest, '|') - 1), substr(rest, instr(rest, '|') + 1)
	FROM split WHERE instr(rest, '|') > 0
)
SELECT ref, at, seq FROM split WHERE ref <> '';

INSERT OR IGNORE INTO event_resources (resource, at, seq)
SELECT resource, at, seq FROM events WHERE ancestry IS NULL AND resource <> '';
