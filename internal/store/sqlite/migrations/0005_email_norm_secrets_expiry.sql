-- 0005: emails compared after Unicode NFKC normalisation and full case folding; secrets found
-- by expiry.
--
-- users.email_norm held strings.ToLower of the trimmed email; it now holds store.NormalizeEmail
-- of it (NFKC, then full case folding, until neither changes anything), so that "ＡLICE@…"
-- (full-width) and "alice@…" are one account while "İVAN@…" is not "ivan@…" (CONTRACT §11.64).
-- SQL cannot compute that, so this migration is a Go step (renormalizeEmails in sqlite.go) that
-- the store runs right after this file, in the same transaction. When two users' emails become
-- the same, it fails and Open with it, naming both users; nothing is changed, and one of the two
-- emails must be changed (with the lanyard that wrote them) before this one starts.
--
-- The store deletes expired tokens and the old secrets of reissued keys in the background
-- (PurgeExpired, every few minutes). secrets_expiry holds only the rows that have an expiry, so
-- that purge reads those instead of every key's secret.
--
-- Never edit this file once it has landed: add a new numbered migration instead.

CREATE INDEX secrets_expiry ON secrets (expires_at) WHERE expires_at IS NOT NULL;
