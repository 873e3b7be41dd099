package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// AddUsage adds the counts to their keys' hours in one transaction: an upsert per key and hour,
// skipped when the key no longer exists. No event is written.
func (db *DB) AddUsage(ctx context.Context, hours []store.UsageHour) error {
	sums, err := store.SumUsage(hours)
	if err != nil || len(sums) == 0 {
		return err
	}
	return db.write(ctx, "add usage", func(tx *sql.Tx) error {
		// The SELECT's WHERE also keeps SQLite from reading ON CONFLICT as a join's ON.
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO key_usage (key_id, hour, requests, refusals)
			SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM keys WHERE id = ?1)
			ON CONFLICT (key_id, hour) DO UPDATE SET requests = requests + excluded.requests, refusals = refusals + excluded.refusals`)
		if err != nil {
			return wrap("add usage", err)
		}
		defer stmt.Close()
		for _, u := range sums {
			if _, err := stmt.ExecContext(ctx, u.KeyID, unix(u.Hour), u.Requests, u.Refusals); err != nil {
				return wrap("add usage", err)
			}
		}
		return nil
	})
}

// UsageOf reads the key's hours in [from, to), oldest first.
func (db *DB) UsageOf(ctx context.Context, keyID string, from, to time.Time) ([]store.UsageHour, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT hour, requests, refusals FROM key_usage WHERE key_id = ? AND hour >= ? AND hour < ? ORDER BY hour",
		keyID, unix(from), unix(to))
	if err != nil {
		return nil, wrap("usage of key", err)
	}
	defer rows.Close()
	var out []store.UsageHour
	for rows.Next() {
		u := store.UsageHour{KeyID: keyID}
		var hour int64
		if err := rows.Scan(&hour, &u.Requests, &u.Refusals); err != nil {
			return nil, wrap("usage of key", err)
		}
		u.Hour = fromUnix(hour)
		out = append(out, u)
	}
	return out, wrap("usage of key", rows.Err())
}
