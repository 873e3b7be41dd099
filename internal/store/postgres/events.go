package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

// insertEvent writes ev in tx unless ev.Action is empty. ev.ID is ignored: the store numbers
// events itself. The event's ancestry is that of ev.Resource as tx sees the resources now.
func insertEvent(ctx context.Context, tx querier, ev store.Event) error {
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
func insertEventAncestry(ctx context.Context, tx querier, ev store.Event, anc string) error {
	if ev.Action == "" {
		return nil
	}
	return appendEvent(ctx, tx, ev, anc)
}

// appendEvent writes ev with its ancestry anc and, in event_resources, one row for each
// resource anc names, so that ListEvents finds it by any of them through that index. Strings
// PostgreSQL cannot hold are written with U+FFFD in their place: the audit trail never makes a
// change fail.
func appendEvent(ctx context.Context, tx querier, ev store.Event, anc string) error {
	anc = text(anc)
	var seq int64
	err := tx.QueryRow(ctx, `INSERT INTO events (at, actor, credential, action, target, resource, result, ip, count, detail, ancestry)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq`,
		ts(ev.At), text(ev.Actor), text(ev.Credential), text(ev.Action), text(ev.Target), text(ev.Resource),
		text(ev.Result), text(ev.IP), ev.Count, text(ev.Detail), anc).Scan(&seq)
	if err != nil {
		return wrap("write event", err)
	}
	return indexEvent(ctx, tx, seq, ts(ev.At), anc)
}

// indexEvent writes the event_resources rows of the event seq.
func indexEvent(ctx context.Context, tx querier, seq int64, at time.Time, anc string) error {
	refs := ancestryRefs(anc)
	if len(refs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO event_resources (resource, at, seq)
		SELECT DISTINCT r, $2::timestamptz, $3::bigint FROM unnest($1::text[]) AS r ON CONFLICT DO NOTHING`, refs, at, seq)
	return wrap("write event", err)
}

// ancestryRefs are the refs an ancestry names, in order.
func ancestryRefs(anc string) []string {
	var refs []string
	for _, ref := range strings.Split(strings.Trim(anc, "|"), "|") {
		if ref != "" {
			refs = append(refs, ref)
		}
	}
	return refs
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
	return db.write(ctx, "append events", func(tx *txn) error {
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

// ListEvents returns up to page.Limit events (50 when it is not positive) matching f, ordered by
// (At, ID). f.Actor, f.Action and f.Target match exactly; f.Resource matches the events whose
// ancestry (written with the event, see ancestry) names it, so the events of that resource and
// of every resource that was below it at the time. A query by resource reads the resource's
// rows of event_resources in list order and joins each to its event, so it costs what that
// resource's events cost, not what the whole trail does. Event.ID is a decimal sequence number
// the store assigns in write order. The page position is (page.AfterCreated, page.AfterID), the
// (At, ID) of the last event already seen ("" starts at the first); an AfterID that is not such
// a number is an error.
func (db *DB) ListEvents(ctx context.Context, f store.EventFilter, page store.Page) ([]store.Event, error) {
	if !storable(f.Resource, f.Actor, f.Action, f.Target) {
		return nil, nil
	}
	query, args, err := eventsQuery(f, page)
	if err != nil {
		return nil, err
	}
	return read(ctx, db, "list events", func(ctx context.Context) ([]store.Event, error) {
		return collect(ctx, db.pool, scanEvent, query, args...)
	})
}

func scanEvent(row pgx.Row) (store.Event, error) {
	var (
		ev    store.Event
		seq   int64
		at    time.Time
		count int64
	)
	if err := row.Scan(&seq, &at, &ev.Actor, &ev.Credential, &ev.Action, &ev.Target, &ev.Resource,
		&ev.Result, &ev.IP, &count, &ev.Detail); err != nil {
		return store.Event{}, err
	}
	ev.ID, ev.At, ev.Count = eventID(seq), utc(at), int(count)
	return ev, nil
}

// eventsQuery is ListEvents' statement and its arguments.
func eventsQuery(f store.EventFilter, page store.Page) (string, []any, error) {
	// Rows are read from from in the order of (at, seq); e is the events' alias.
	from, at, seq := "events e", "e.at", "e.seq"
	var p params
	cond := "true"
	switch {
	case strings.Contains(f.Resource, "|"):
		// No resource is named so, and no row of event_resources either: a name with the
		// delimiter matches the event's own resource only.
		cond += " AND e.resource = " + p.add(f.Resource)
	case f.Resource != "":
		from, at, seq = "event_resources r JOIN events e ON e.seq = r.seq", "r.at", "r.seq"
		cond += " AND r.resource = " + p.add(f.Resource)
	}
	if page.AfterID != "" {
		after, err := eventSeq(page.AfterID)
		if err != nil {
			return "", nil, err
		}
		cond += " AND (" + at + ", " + seq + ") > (" + p.add(pos(page.AfterCreated)) + ", " + p.add(after) + ")"
	}
	if f.FromID != "" {
		first, err := eventSeq(f.FromID)
		if err != nil {
			return "", nil, err
		}
		cond += " AND e.seq >= " + p.add(first)
	}
	for _, c := range []struct{ col, val string }{{"e.actor", f.Actor}, {"e.action", f.Action}, {"e.target", f.Target}} {
		if c.val != "" {
			cond += " AND " + c.col + " = " + p.add(c.val)
		}
	}
	return `SELECT e.seq, e.at, e.actor, e.credential, e.action, e.target, e.resource, e.result, e.ip, e.count, e.detail
		FROM ` + from + " WHERE " + cond + " ORDER BY " + at + ", " + seq + " LIMIT " + p.add(limitOf(page)), p, nil
}

// eventID writes an event's sequence number as its ID: 16 decimal digits, zero-padded, so that
// IDs sort in byte order as they were written.
func eventID(seq int64) string { return fmt.Sprintf("%016d", seq) }

// eventSeq reads an event ID back.
func eventSeq(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("postgres: list events: %q is not an event id: %w", id, store.ErrInvalid)
	}
	return n, nil
}
