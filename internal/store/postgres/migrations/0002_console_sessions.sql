-- 0002: console sessions (CONTRACT §11.34), as the SQLite store's migration 0008 keeps them: one
-- row per signed-in browser, its token kept only as its SHA-256 hash. Sessions live apart from
-- secrets, which the credential resolver reads, so a session can never authenticate the native
-- API. A user's sessions end with the user: deleted (the cascade), demoted, or given another
-- password hash (the triggers), each in the transaction that makes that change.
--
-- Never edit this file once it has landed: add a new numbered migration instead.

CREATE TABLE sessions (
	hash       bytea       NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
	id         text        COLLATE "C" NOT NULL UNIQUE,
	user_id    text        COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	expires_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE FUNCTION sessions_end() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	DELETE FROM sessions WHERE user_id = OLD.id;
	RETURN NULL;
END
$$;

CREATE TRIGGER sessions_end_on_demotion AFTER UPDATE OF admin ON users FOR EACH ROW
	WHEN (OLD.admin AND NOT NEW.admin) EXECUTE FUNCTION sessions_end();

CREATE TRIGGER sessions_end_on_password AFTER UPDATE OF password_hash ON users FOR EACH ROW
	WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash) EXECUTE FUNCTION sessions_end();
