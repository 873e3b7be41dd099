package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

// AddUsage adds the counts to their keys' hours in one statement. It runs at READ COMMITTED, as
// TouchKeys does: it is bookkeeping that no change decides on. The keys are locked FOR KEY SHARE
// first, in id order, so a key deleted meanwhile is skipped rather than failing the batch, and
// the rows are upserted in (key, hour) order: two nodes' batches take their locks in one order.
func (db *DB) AddUsage(ctx context.Context, hours []store.UsageHour) error {
	sums, err := store.SumUsage(hours)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(sums))
	at := make([]time.Time, 0, len(sums))
	reqs := make([]int64, 0, len(sums))
	refs := make([]int64, 0, len(sums))
	for _, u := range sums {
		if storable(u.KeyID) {
			ids, at, reqs, refs = append(ids, u.KeyID), append(at, pos(u.Hour)), append(reqs, u.Requests), append(refs, u.Refusals)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.inTx(ctx, "add usage", pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, changeRetries, func(tx *txn) error {
		_, err := tx.Exec(ctx, `WITH u AS (SELECT id COLLATE "C" AS id, hour, req, ref
				FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::bigint[]) AS u(id, hour, req, ref)),
			live AS (SELECT k.id FROM keys k WHERE k.id IN (SELECT id FROM u) ORDER BY k.id FOR KEY SHARE OF k)
			INSERT INTO key_usage (key_id, hour, requests, refusals)
			SELECT u.id, u.hour, u.req, u.ref FROM u WHERE u.id IN (SELECT id FROM live) ORDER BY u.id, u.hour
			ON CONFLICT (key_id, hour) DO UPDATE SET requests = key_usage.requests + excluded.requests,
				refusals = key_usage.refusals + excluded.refusals`, ids, at, reqs, refs)
		return wrap("add usage", err)
	})
}

// UsageOf reads the key's hours in [from, to), oldest first.
func (db *DB) UsageOf(ctx context.Context, keyID string, from, to time.Time) ([]store.UsageHour, error) {
	if !storable(keyID) {
		return nil, nil
	}
	return read(ctx, db, "usage of key", func(ctx context.Context) ([]store.UsageHour, error) {
		return collect(ctx, db.pool, func(r pgx.Row) (store.UsageHour, error) {
			u := store.UsageHour{KeyID: keyID}
			err := r.Scan(&u.Hour, &u.Requests, &u.Refusals)
			u.Hour = utc(u.Hour)
			return u, err
		}, "SELECT hour, requests, refusals FROM key_usage WHERE key_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour",
			keyID, pos(from), pos(to))
	})
}
