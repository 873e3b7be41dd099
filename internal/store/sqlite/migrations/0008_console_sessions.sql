-- Console sessions (CONTRACT §11.34): one row per signed-in browser, its token kept only as its
-- SHA-256 hash. Sessions live apart from secrets, which the credential resolver reads, so a
-- session can never authenticate the native API. A user's sessions end with the user: deleted
-- (the cascade), demoted, or given another password hash (the triggers), each in the
-- transaction that makes that change.
CREATE TABLE sessions (
	hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
	id         TEXT    NOT NULL UNIQUE,
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	expires_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TRIGGER sessions_end_on_demotion AFTER UPDATE OF admin ON users
WHEN old.admin = 1 AND new.admin = 0
BEGIN
	DELETE FROM sessions WHERE user_id = old.id;
END;

CREATE TRIGGER sessions_end_on_password AFTER UPDATE OF password_hash ON users
WHEN old.password_hash IS NOT new.password_hash
BEGIN
	DELETE FROM sessions WHERE user_id = old.id;
END;
