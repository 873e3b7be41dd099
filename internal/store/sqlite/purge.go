package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// purgeQuery deletes what PurgeExpired deletes, as of the time ?1.
const purgeQuery = `DELETE FROM secrets
	WHERE expires_at IS NOT NULL AND expires_at <= ?1
	AND (kind IN ('personal', 'admin')
		OR kind IN ` + keyKinds + ` AND EXISTS (SELECT 1 FROM secrets newer
			WHERE newer.id = secrets.id AND newer.kind = secrets.kind AND newer.hash <> secrets.hash
			AND (newer.expires_at IS NULL OR newer.expires_at > secrets.expires_at)))
	RETURNING hash`

// PurgeExpired deletes, in one transaction, personal and admin tokens whose expires_at is at or
// before now, and key secrets whose expires_at is at or before now while their key has another
// secret (the one a reissue stored); the partial index secrets_expiry finds them without a
// scan. Expired scoped tokens and console sessions go too, and (uncounted) the usage hours that
// started store.UsageRetention or longer ago. Keys, their current secret and the bootstrap
// token are never deleted here. No event is written.
func (db *DB) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := db.write(ctx, "purge expired", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, purgeQuery, unix(now))
		if err != nil {
			return wrap("purge expired", err)
		}
		var hashes [][]byte
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return wrap("purge expired", err)
			}
			hashes = append(hashes, h)
		}
		if err := rows.Close(); err != nil {
			return wrap("purge expired", err)
		}
		n = int64(len(hashes))
		res, err := tx.ExecContext(ctx, "DELETE FROM scoped_tokens WHERE expires_at <= ?", unix(now))
		if err != nil {
			return wrap("purge expired", err)
		}
		scoped, err := res.RowsAffected()
		if err != nil {
			return wrap("purge expired", err)
		}
		n += scoped
		res, err = tx.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at <= ?", unix(now))
		if err != nil {
			return wrap("purge expired", err)
		}
		sessions, err := res.RowsAffected()
		if err != nil {
			return wrap("purge expired", err)
		}
		n += sessions
		if _, err := tx.ExecContext(ctx, "DELETE FROM key_usage WHERE hour <= ?", unix(now.Add(-store.UsageRetention))); err != nil {
			return wrap("purge expired", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM revoked WHERE at <= ?", unix(now.Add(-store.RevokedRetention))); err != nil {
			return wrap("purge expired", err)
		}
		// What stopped working by itself was not revoked: forget what the secrets_revoked
		// trigger recorded for these rows.
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, "DELETE FROM revoked WHERE hash = ?", h); err != nil {
				return wrap("purge expired", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
