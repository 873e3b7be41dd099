package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// Heartbeat creates or replaces the node's row.
func (db *DB) Heartbeat(ctx context.Context, n store.Node) error {
	if n.ID == "" {
		return fmt.Errorf("sqlite: heartbeat: a node needs an id: %w", store.ErrInvalid)
	}
	return db.write(ctx, "heartbeat", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, started_at, last_seen_at, applied_seq) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, last_seen_at = excluded.last_seen_at,
			applied_seq = excluded.applied_seq`,
			n.ID, unix(n.StartedAt), unix(n.LastSeenAt), n.Applied)
		return wrap("heartbeat", err)
	})
}

// ListNodes returns the nodes last seen at or after since, by id.
func (db *DB) ListNodes(ctx context.Context, since time.Time) ([]store.Node, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, started_at, last_seen_at, applied_seq FROM nodes
		WHERE last_seen_at >= ? ORDER BY id`, unix(since))
	if err != nil {
		return nil, wrap("list nodes", err)
	}
	defer rows.Close()
	var out []store.Node
	for rows.Next() {
		var n store.Node
		var started, seen int64
		if err := rows.Scan(&n.ID, &started, &seen, &n.Applied); err != nil {
			return nil, wrap("list nodes", err)
		}
		n.StartedAt, n.LastSeenAt = fromUnix(started), fromUnix(seen)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list nodes", err)
	}
	return out, nil
}

// DeleteNodes forgets the nodes last seen before before.
func (db *DB) DeleteNodes(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.write(ctx, "delete nodes", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM nodes WHERE last_seen_at < ?", unix(before))
		if err != nil {
			return wrap("delete nodes", err)
		}
		n, err = res.RowsAffected()
		return wrap("delete nodes", err)
	})
	return int(n), err
}

// AppendRevocation adds an entry to the revocation log. The one writer connection serialises
// it with every other write, so seqs are given in commit order.
func (db *DB) AppendRevocation(ctx context.Context, r store.Revocation) (int64, error) {
	b, err := json.Marshal(r.Revoked)
	if err != nil {
		return 0, fmt.Errorf("sqlite: append revocation: %w", err)
	}
	var seq int64
	err = db.write(ctx, "append revocation", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "INSERT INTO revocations (at, node, revoked) VALUES (?, ?, ?) RETURNING seq",
			unix(r.At), r.Node, string(b)).Scan(&seq)
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
	rows, err := db.r.QueryContext(ctx, "SELECT seq, at, node, revoked FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
	if err != nil {
		return nil, wrap("revocations", err)
	}
	defer rows.Close()
	var out []store.Revocation
	for rows.Next() {
		var r store.Revocation
		var at int64
		var revoked string
		if err := rows.Scan(&r.Seq, &at, &r.Node, &revoked); err != nil {
			return nil, wrap("revocations", err)
		}
		r.At = fromUnix(at)
		if err := json.Unmarshal([]byte(revoked), &r.Revoked); err != nil {
			return nil, fmt.Errorf("sqlite: revocations: entry %d: %w", r.Seq, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("revocations", err)
	}
	return out, nil
}

// LastRevocation returns the greatest seq of the log.
func (db *DB) LastRevocation(ctx context.Context) (int64, error) {
	var seq int64
	err := db.r.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM revocations").Scan(&seq)
	if err != nil {
		return 0, wrap("last revocation", err)
	}
	return seq, nil
}

// TrimRevocations deletes the entries older than before, keeping the newest.
func (db *DB) TrimRevocations(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.write(ctx, "trim revocations", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM revocations WHERE at < ?
			AND seq < (SELECT max(seq) FROM revocations)`, unix(before))
		if err != nil {
			return wrap("trim revocations", err)
		}
		n, err = res.RowsAffected()
		return wrap("trim revocations", err)
	})
	return int(n), err
}
