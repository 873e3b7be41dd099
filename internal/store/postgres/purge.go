package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

// purgeQuery deletes what PurgeExpired deletes, as of the time $1.
const purgeQuery = `DELETE FROM secrets s
	WHERE s.expires_at IS NOT NULL AND s.expires_at <= $1
	AND (s.kind IN ('personal', 'admin')
		OR s.kind IN ` + keyKinds + ` AND EXISTS (SELECT 1 FROM secrets newer
			WHERE newer.id = s.id AND newer.kind = s.kind AND newer.hash <> s.hash
			AND (newer.expires_at IS NULL OR newer.expires_at > s.expires_at)))
	RETURNING s.hash`

// PurgeExpired deletes, in one transaction, personal and admin tokens whose expires_at is at or
// before now, key secrets whose expires_at is at or before now while their key has another
// secret (the one a reissue stored), and scoped tokens and console sessions that expired; the
// partial index secrets_expiry finds the secrets without a scan. Keys, their current secret
// and the bootstrap token are never deleted here. What stopped working by itself was not revoked: the hashes the
// secrets_revoked trigger recorded for these rows are removed again. The usage hours that started
// store.UsageRetention or longer ago go too, uncounted, and so do revoked hashes recorded
// store.RevokedRetention or longer ago. No event is written.
func (db *DB) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := db.write(ctx, "purge expired", func(tx *txn) error {
		hashes, err := collect(ctx, tx, func(r pgx.Row) ([]byte, error) {
			var b []byte
			err := r.Scan(&b)
			return b, err
		}, purgeQuery, pos(now))
		if err != nil {
			return wrap("purge expired", err)
		}
		// A separate statement: the trigger's rows are written at the end of the DELETE.
		if len(hashes) > 0 {
			if _, err := tx.Exec(ctx, "DELETE FROM revoked WHERE hash = ANY($1)", hashes); err != nil {
				return wrap("purge expired", err)
			}
		}
		tag, err := tx.Exec(ctx, "DELETE FROM scoped_tokens WHERE expires_at <= $1", pos(now))
		if err != nil {
			return wrap("purge expired", err)
		}
		n = int64(len(hashes)) + tag.RowsAffected()
		if tag, err = tx.Exec(ctx, "DELETE FROM sessions WHERE expires_at <= $1", pos(now)); err != nil {
			return wrap("purge expired", err)
		}
		n += tag.RowsAffected()
		if _, err := tx.Exec(ctx, "DELETE FROM key_usage WHERE hour <= $1", pos(now.Add(-store.UsageRetention))); err != nil {
			return wrap("purge expired", err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM revoked WHERE at <= $1", pos(now.Add(-store.RevokedRetention))); err != nil {
			return wrap("purge expired", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
