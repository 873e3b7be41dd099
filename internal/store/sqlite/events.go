package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/lanyardhq/lanyard/internal/store"
)

// insertEvent writes ev in tx unless ev.Action is empty. ev.ID is ignored: the store numbers
// events itself.
func insertEvent(ctx context.Context, tx *sql.Tx, ev store.Event) error {
	if ev.Action == "" {
		return nil
	}
	return appendEvent(ctx, tx, ev)
}

func appendEvent(ctx context.Context, tx *sql.Tx, ev store.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (at, actor, credential, action, target, resource, result, ip, count, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		unix(ev.At), ev.Actor, ev.Credential, ev.Action, ev.Target, ev.Resource, ev.Result, ev.IP, ev.Count, ev.Detail)
	return wrap("write event", err)
}

// AppendEvents writes evs, in order, in one transaction. Each gets a new ID; the ID the
// caller set is ignored.
func (db *DB) AppendEvents(ctx context.Context, evs []store.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return db.write(ctx, "append events", func(tx *sql.Tx) error {
		for _, ev := range evs {
			if err := appendEvent(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListEvents returns up to page.Limit events (50 when it is not positive) matching f (each
// set field exactly), oldest first. Event.ID is a decimal sequence number the store assigns
// in write order. Paging ignores page.AfterCreated: page.AfterID is the ID of the last event
// already seen ("" starts at the first); an AfterID that is not such a number is an error.
func (db *DB) ListEvents(ctx context.Context, f store.EventFilter, page store.Page) ([]store.Event, error) {
	var after int64
	if page.AfterID != "" {
		var err error
		if after, err = strconv.ParseInt(page.AfterID, 10, 64); err != nil || after < 0 {
			return nil, fmt.Errorf("sqlite: list events: %q is not an event id", page.AfterID)
		}
	}
	cond, args := "seq > ?", []any{after}
	for _, c := range []struct{ col, val string }{{"resource", f.Resource}, {"actor", f.Actor}, {"action", f.Action}} {
		if c.val != "" {
			cond += " AND " + c.col + " = ?"
			args = append(args, c.val)
		}
	}
	args = append(args, limitOf(page))
	rows, err := db.r.QueryContext(ctx, `SELECT seq, at, actor, credential, action, target, resource, result, ip, count, detail
		FROM events WHERE `+cond+" ORDER BY seq LIMIT ?", args...)
	if err != nil {
		return nil, wrap("list events", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			ev      store.Event
			seq, at int64
		)
		if err := rows.Scan(&seq, &at, &ev.Actor, &ev.Credential, &ev.Action, &ev.Target, &ev.Resource,
			&ev.Result, &ev.IP, &ev.Count, &ev.Detail); err != nil {
			return nil, wrap("list events", err)
		}
		ev.ID, ev.At = strconv.FormatInt(seq, 10), fromUnix(at)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list events", err)
	}
	return out, nil
}
