package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

// revocationLock is the key of the advisory lock every append to the revocation log holds
// until it commits: "lanyardr" read as a big-endian integer. An identity column hands out
// numbers when rows are inserted, not when they commit; under the lock the two orders are one,
// so a node tailing the log by seq never skips an entry that commits late.
const revocationLock int64 = 0x6c616e7961726472

// Heartbeat creates or replaces the node's row, at READ COMMITTED: the row is the node's own.
func (db *DB) Heartbeat(ctx context.Context, n store.Node) error {
	if n.ID == "" || !storable(n.ID) {
		return fmt.Errorf("postgres: heartbeat: a node needs an id of valid text: %w", store.ErrInvalid)
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.inTx(ctx, "heartbeat", pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, changeRetries, func(tx *txn) error {
		_, err := tx.Exec(ctx, `INSERT INTO nodes (id, started_at, last_seen_at, applied_seq) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET started_at = EXCLUDED.started_at, last_seen_at = EXCLUDED.last_seen_at,
			applied_seq = EXCLUDED.applied_seq`,
			n.ID, ts(n.StartedAt), ts(n.LastSeenAt), n.Applied)
		return wrap("heartbeat", err)
	})
}

// ListNodes returns the nodes last seen at or after since, by id.
func (db *DB) ListNodes(ctx context.Context, since time.Time) ([]store.Node, error) {
	return read(ctx, db, "list nodes", func(ctx context.Context) ([]store.Node, error) {
		return collect(ctx, db.pool, func(r pgx.Row) (store.Node, error) {
			var n store.Node
			err := r.Scan(&n.ID, &n.StartedAt, &n.LastSeenAt, &n.Applied)
			n.StartedAt, n.LastSeenAt = utc(n.StartedAt), utc(n.LastSeenAt)
			return n, err
		}, `SELECT id, started_at, last_seen_at, applied_seq FROM nodes WHERE last_seen_at >= $1 ORDER BY id`, pos(since))
	})
}

// DeleteNodes forgets the nodes last seen before before.
func (db *DB) DeleteNodes(ctx context.Context, before time.Time) (int, error) {
	var n int64
	ctx, cancel := db.bound(ctx)
	defer cancel()
	err := db.inTx(ctx, "delete nodes", pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, changeRetries, func(tx *txn) error {
		tag, err := tx.Exec(ctx, "DELETE FROM nodes WHERE last_seen_at < $1", pos(before))
		n = tag.RowsAffected()
		return wrap("delete nodes", err)
	})
	return int(n), err
}

// AppendRevocation adds an entry to the log under revocationLock, in a transaction of its own.
// A connection lost while the COMMIT was in flight leaves it unknown whether the entry was
// written (store.ErrUnavailable): appending it again is harmless, a node applies an entry
// twice as it applies it once.
func (db *DB) AppendRevocation(ctx context.Context, r store.Revocation) (int64, error) {
	if !storable(r.Node) {
		return 0, fmt.Errorf("postgres: append revocation: the node id is not valid text: %w", store.ErrInvalid)
	}
	b, err := json.Marshal(r.Revoked)
	if err != nil {
		return 0, fmt.Errorf("postgres: append revocation: %w", err)
	}
	var seq int64
	ctx, cancel := db.bound(ctx)
	defer cancel()
	err = db.inTx(ctx, "append revocation", pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, changeRetries, func(tx *txn) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", revocationLock); err != nil {
			return wrap("append revocation", err)
		}
		err := tx.QueryRow(ctx, "INSERT INTO revocations (at, node, revoked) VALUES ($1, $2, $3) RETURNING seq",
			ts(r.At), r.Node, string(b)).Scan(&seq)
		return wrap("append revocation", err)
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// Revocations returns the log's entries after the seq after, in order.
func (db *DB) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	return read(ctx, db, "revocations", func(ctx context.Context) ([]store.Revocation, error) {
		return collect(ctx, db.pool, func(row pgx.Row) (store.Revocation, error) {
			var r store.Revocation
			var revoked string
			if err := row.Scan(&r.Seq, &r.At, &r.Node, &revoked); err != nil {
				return r, err
			}
			r.At = utc(r.At)
			if err := json.Unmarshal([]byte(revoked), &r.Revoked); err != nil {
				return r, fmt.Errorf("entry %d: %w", r.Seq, err)
			}
			return r, nil
		}, "SELECT seq, at, node, revoked FROM revocations WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	})
}

// LastRevocation returns the greatest seq of the log.
func (db *DB) LastRevocation(ctx context.Context) (int64, error) {
	return read(ctx, db, "last revocation", func(ctx context.Context) (int64, error) {
		var seq int64
		err := db.pool.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM revocations").Scan(&seq)
		return seq, err
	})
}

// TrimRevocations deletes the entries older than before, keeping the newest.
func (db *DB) TrimRevocations(ctx context.Context, before time.Time) (int, error) {
	var n int64
	ctx, cancel := db.bound(ctx)
	defer cancel()
	err := db.inTx(ctx, "trim revocations", pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, changeRetries, func(tx *txn) error {
		tag, err := tx.Exec(ctx, `DELETE FROM revocations WHERE at < $1
			AND seq < (SELECT max(seq) FROM revocations)`, pos(before))
		n = tag.RowsAffected()
		return wrap("trim revocations", err)
	})
	return int(n), err
}
