-- Per-key usage: each key's requests, and how many of them lanyard refused, per UTC hour. Every
-- node counts them in memory and adds its counts here in the batch that writes last_used_at
-- (store.Store.AddUsage), so a request itself never writes. A key's rows go with it (the
-- cascade); PurgeExpired deletes the hours older than store.UsageRetention (key_usage_hour).
CREATE TABLE key_usage (
	key_id   TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
	hour     INTEGER NOT NULL, -- the hour's start, unix seconds
	requests INTEGER NOT NULL DEFAULT 0 CHECK (requests >= 0),
	refusals INTEGER NOT NULL DEFAULT 0 CHECK (refusals >= 0),
	PRIMARY KEY (key_id, hour)
) STRICT, WITHOUT ROWID;

CREATE INDEX key_usage_hour ON key_usage (hour);
