-- 0004: per-key usage, as the SQLite store's migration 0010 keeps it: each key's requests, and
-- how many of them lanyard refused, per UTC hour. Every node counts them in memory and adds its
-- counts here in the batch that writes last_used_at (store.Store.AddUsage), so a request itself
-- never writes. A key's rows go with it (the cascade); PurgeExpired deletes the hours older than
-- store.UsageRetention (key_usage_hour).
--
-- Never edit this file once it has landed: add a new numbered migration instead.

CREATE TABLE key_usage (
	key_id   text COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
	hour     timestamptz NOT NULL,
	requests bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
	refusals bigint NOT NULL DEFAULT 0 CHECK (refusals >= 0),
	PRIMARY KEY (key_id, hour)
);

CREATE INDEX key_usage_hour ON key_usage (hour);
