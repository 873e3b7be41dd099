package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/lanyardhq/lanyard/internal/store"
)

// insertEvent writes ev in tx unless ev.Action is empty. ev.ID is ignored: the store numbers
// events itself. The event's ancestry is that of ev.Resource as tx sees the resources now.
func insertEvent(ctx context.Context, tx *sql.Tx, ev store.Event) error {
	if ev.Action == "" {
		return nil
	}
	anc, err := ancestry(ctx, tx, ev.Resource)
	if err != nil {
		return wrap("write event", err)
	}
	return appendEvent(ctx, tx, ev, anc)
}

// insertEventAncestry writes ev in tx, unless ev.Action is empty, with an ancestry computed
// earlier (by a change that moves or deletes resources).
func insertEventAncestry(ctx context.Context, tx *sql.Tx, ev store.Event, anc string) error {
	if ev.Action == "" {
		return nil
	}
	return appendEvent(ctx, tx, ev, anc)
}

// appendEvent writes ev with its ancestry anc and, in event_resources, one row for each
// resource anc names, so that ListEvents finds it by any of them through that index.
func appendEvent(ctx context.Context, tx *sql.Tx, ev store.Event, anc string) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO events (at, actor, credential, action, target, resource, result, ip, count, detail, ancestry)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		unix(ev.At), ev.Actor, ev.Credential, ev.Action, ev.Target, ev.Resource, ev.Result, ev.IP, ev.Count, ev.Detail, anc)
	if err != nil {
		return wrap("write event", err)
	}
	if anc == "" {
		return nil
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return wrap("write event", err)
	}
	for _, ref := range strings.Split(strings.Trim(anc, "|"), "|") {
		if ref == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO event_resources (resource, at, seq) VALUES (?, ?, ?)",
			ref, unix(ev.At), seq); err != nil {
			return wrap("write event", err)
		}
	}
	return nil
}

// ancestry is the events.ancestry of an event of resource ref: "|" + ref + "|" for ref and
// each of its stored ancestors, root first ("|organization/acme|project/p1|"); "|ref|" when
// ref is no stored resource; "" when ref is empty.
func ancestry(ctx context.Context, q querier, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	up, err := ancestors(ctx, q, ref)
	if err != nil {
		return "", err
	}
	if len(up) == 0 {
		up = []string{ref}
	}
	return "|" + strings.Join(up, "|") + "|", nil
}

// mergeAncestry is the ancestry naming every resource that a or b names, a's first.
func mergeAncestry(a, b string) string {
	if a == "" || a == b {
		return b
	}
	out := a
	for _, ref := range strings.Split(strings.Trim(b, "|"), "|") {
		if ref != "" && !strings.Contains(out, "|"+ref+"|") {
			out += ref + "|"
		}
	}
	return out
}

// ancestryCache remembers the ancestries computed by a change that writes many events.
type ancestryCache map[string]string

// of is ancestry(ctx, q, ref), computed once per ref.
func (c ancestryCache) of(ctx context.Context, q querier, ref string) (string, error) {
	if anc, ok := c[ref]; ok {
		return anc, nil
	}
	anc, err := ancestry(ctx, q, ref)
	if err != nil {
		return "", err
	}
	c[ref] = anc
	return anc, nil
}

// AppendEvents writes evs, in order, in one transaction. Each gets a new ID; the ID the
// caller set is ignored.
func (db *DB) AppendEvents(ctx context.Context, evs []store.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return db.write(ctx, "append events", func(tx *sql.Tx) error {
		c := ancestryCache{}
		for _, ev := range evs {
			anc, err := c.of(ctx, tx, ev.Resource)
			if err != nil {
				return wrap("append events", err)
			}
			if err := appendEvent(ctx, tx, ev, anc); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListEvents returns up to page.Limit events (50 when it is not positive) matching f, oldest
// first. f.Actor and f.Action match exactly; f.Resource matches the events whose ancestry
// (written with the event, see ancestry) names it, so the events of that resource and of every
// resource that was below it at the time; events written before migration 0002 have no
// ancestry and match when their resource is f.Resource. A query by resource reads the
// resource's rows of event_resources (migration 0004) in list order and joins each to its
// event, so it costs what that resource's events cost, not what the whole trail does. Event.ID
// is a decimal sequence number the store assigns in write order. Paging ignores
// page.AfterCreated: page.AfterID is the ID of the last event already seen ("" starts at the
// first); an AfterID that is not such a number is an error.
func (db *DB) ListEvents(ctx context.Context, f store.EventFilter, page store.Page) ([]store.Event, error) {
	query, args, err := eventsQuery(f, page)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
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
		ev.ID, ev.At = eventID(seq), fromUnix(at)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list events", err)
	}
	return out, nil
}

// eventsQuery is ListEvents' statement and its arguments.
func eventsQuery(f store.EventFilter, page store.Page) (string, []any, error) {
	// Rows are read from from in the order of (at, seq); e is the events' alias.
	from, at, seq := "events e", "e.at", "e.seq"
	cond, args := "1 = 1", []any{}
	switch {
	case strings.Contains(f.Resource, "|"):
		// No resource is named so, and no row of event_resources either: a name with the
		// delimiter matches the event's own resource only, as it always has.
		cond += " AND e.resource = ?"
		args = append(args, f.Resource)
	case f.Resource != "":
		// CROSS JOIN keeps event_resources the outer loop: SQLite walks the resource's slice of
		// its key in order and stops at the limit.
		from, at, seq = "event_resources r CROSS JOIN events e ON e.seq = r.seq", "r.at", "r.seq"
		cond += " AND r.resource = ?"
		args = append(args, f.Resource)
	}
	if page.AfterID != "" {
		after, err := eventSeq(page.AfterID)
		if err != nil {
			return "", nil, err
		}
		cond += " AND (" + at + ", " + seq + ") > (?, ?)"
		args = append(args, unix(page.AfterCreated), after)
	}
	if f.FromID != "" {
		first, err := eventSeq(f.FromID)
		if err != nil {
			return "", nil, err
		}
		cond += " AND e.seq >= ?"
		args = append(args, first)
	}
	for _, c := range []struct{ col, val string }{{"e.actor", f.Actor}, {"e.action", f.Action}, {"e.target", f.Target}} {
		if c.val != "" {
			cond += " AND " + c.col + " = ?"
			args = append(args, c.val)
		}
	}
	args = append(args, limitOf(page))
	return `SELECT e.seq, e.at, e.actor, e.credential, e.action, e.target, e.resource, e.result, e.ip, e.count, e.detail
		FROM ` + from + " WHERE " + cond + " ORDER BY " + at + ", " + seq + " LIMIT ?", args, nil
}

// eventID writes an event's sequence number as its ID: 16 decimal digits, zero-padded, so that
// IDs sort in byte order as they were written.
func eventID(seq int64) string { return fmt.Sprintf("%016d", seq) }

// eventSeq reads an event ID back.
func eventSeq(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("sqlite: list events: %q is not an event id: %w", id, store.ErrInvalid)
	}
	return n, nil
}
