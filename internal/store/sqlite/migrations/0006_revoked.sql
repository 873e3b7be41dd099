-- Revoked secrets: the hash of every deleted secret, so that a token presented after its
-- revocation is told "revoked", not "unknown" (CONTRACT §11.14). PurgeExpired removes the
-- hashes of what it deletes: a secret that stopped working by itself (an expired personal
-- token, an old secret whose reissue grace ended) was not revoked. Hashes only, like secrets.
CREATE TABLE revoked (
	hash BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
	at   INTEGER NOT NULL
) STRICT;

CREATE TRIGGER secrets_revoked AFTER DELETE ON secrets
BEGIN
	INSERT OR IGNORE INTO revoked (hash, at) VALUES (old.hash, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- A hash that works again (an operator choosing a bootstrap token twice) is no longer revoked.
CREATE TRIGGER secrets_live AFTER INSERT ON secrets
BEGIN
	DELETE FROM revoked WHERE hash = new.hash;
END;
