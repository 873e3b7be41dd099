-- Room in each page of keys for the batched last_used_at updates (and credit write-backs), so
-- that PostgreSQL rewrites a row in its own page without touching the indexes (a HOT update):
-- at 10 M keys, updating 1,000 random keys took 250–512 ms with full pages and 55–104 ms with
-- this, every update HOT (docs/scaling.md, "Measured at scale"). Pages written from now on keep
-- it; a table loaded before this migration gets it on its next rewrite (VACUUM FULL, or
-- pg_repack without a lock).
ALTER TABLE keys SET (fillfactor = 90);
