-- PurgeExpired forgets revoked hashes older than store.RevokedRetention: found by time, not by
-- a scan of every revocation ever made.
CREATE INDEX revoked_at ON revoked (at);
