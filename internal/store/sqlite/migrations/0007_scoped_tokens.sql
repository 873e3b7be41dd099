-- Scoped tokens (CONTRACT §6): one row per live token, as its hash. A token is bound to the
-- credential that obtained it and to its parent token; deleting a token deletes its subtree
-- (DeleteScopedToken walks it), and a token whose credential or parent is gone is refused at use.
CREATE TABLE scoped_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
	id         TEXT    NOT NULL UNIQUE,
	type       TEXT    NOT NULL,
	resource   TEXT    NOT NULL,
	credential TEXT    NOT NULL,
	parent     TEXT,
	expires_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX scoped_tokens_parent ON scoped_tokens (parent) WHERE parent IS NOT NULL;
CREATE INDEX scoped_tokens_expiry ON scoped_tokens (expires_at);
