-- 0001: users, keys, the secrets that stand for keys and tokens, the audit trail, and meta.
--
-- Times are UTC unix seconds. Empty optional references (keys.owner, keys.resource,
-- secrets.user_id) are NULL; other empty strings are ''. Never edit this file once it has
-- landed: add a new numbered migration instead.

CREATE TABLE users (
	id            TEXT    NOT NULL PRIMARY KEY,
	email         TEXT    NOT NULL,
	email_norm    TEXT    NOT NULL UNIQUE,
	name          TEXT    NOT NULL DEFAULT '',
	password_hash TEXT    NOT NULL DEFAULT '',
	admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX users_list ON users (created_at, id);

CREATE TABLE keys (
	id            TEXT    NOT NULL PRIMARY KEY,
	name          TEXT    NOT NULL DEFAULT '',
	format        TEXT    NOT NULL,
	prefix        TEXT    NOT NULL DEFAULT '',
	owner         TEXT    REFERENCES users (id), -- NULL: a business key
	resource      TEXT,                          -- "type/id" or NULL
	role          TEXT    NOT NULL DEFAULT '',
	plan          TEXT    NOT NULL DEFAULT '',
	metadata      TEXT,                          -- JSON object or NULL
	allowed_cidrs TEXT,                          -- JSON array or NULL
	credits       TEXT,                          -- JSON object or NULL
	expires_at    INTEGER,
	last_used_at  INTEGER,
	created_at    INTEGER NOT NULL,
	created_by    TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX keys_owner ON keys (owner);
CREATE INDEX keys_resource ON keys (resource);
CREATE INDEX keys_list ON keys (created_at, id);

-- One row per live secret hash. Key rows (key_token, key_secret) have id = the key's id and
-- no user_id; a key has one row, or two while a reissue's grace runs (the old row then has an
-- expires_at). Token rows (personal, admin, bootstrap) have id = the token's id.
CREATE TABLE secrets (
	hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
	kind       TEXT    NOT NULL CHECK (kind IN ('key_token', 'key_secret', 'personal', 'admin', 'bootstrap')),
	id         TEXT    NOT NULL,
	user_id    TEXT    REFERENCES users (id),
	expires_at INTEGER,
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX secrets_id ON secrets (id);
CREATE INDEX secrets_user ON secrets (user_id, kind);
-- A token id names one token; key ids may have two rows (reissue grace).
CREATE UNIQUE INDEX secrets_token_id ON secrets (id) WHERE kind IN ('personal', 'admin', 'bootstrap');

CREATE TABLE events (
	seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	at         INTEGER NOT NULL,
	actor      TEXT    NOT NULL DEFAULT '',
	credential TEXT    NOT NULL DEFAULT '',
	action     TEXT    NOT NULL DEFAULT '',
	target     TEXT    NOT NULL DEFAULT '',
	resource   TEXT    NOT NULL DEFAULT '',
	result     TEXT    NOT NULL DEFAULT '',
	ip         TEXT    NOT NULL DEFAULT '',
	count      INTEGER NOT NULL DEFAULT 1,
	detail     TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX events_resource ON events (resource);
CREATE INDEX events_actor ON events (actor);
CREATE INDEX events_action ON events (action);

CREATE TABLE meta (
	name  TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
