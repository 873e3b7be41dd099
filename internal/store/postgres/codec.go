package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lanyardhq/lanyard/internal/store"
)

// defaultLimit is the page size when store.Page.Limit is not positive.
const defaultLimit = 50

func limitOf(p store.Page) int {
	if p.Limit <= 0 {
		return defaultLimit
	}
	return p.Limit
}

// ts is how a time is stored: truncated to the second (as the SQLite store keeps it), in UTC.
func ts(t time.Time) time.Time { return time.Unix(t.Unix(), 0).UTC() }

// tsPtr is ts of an optional time; nil stays nil (NULL).
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

// utc is a stored time read back.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// nullString is s, or NULL when it is empty.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// jsonText encodes v for a json column; empty is NULL.
func jsonText(v any, empty bool) (*string, error) {
	if empty {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// fromJSON decodes a json column (read as text) into dst; NULL leaves dst alone.
func fromJSON(s *string, dst any) error {
	if s == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(*s), dst); err != nil {
		return fmt.Errorf("decoding stored JSON: %w", err)
	}
	return nil
}

func hashOf(b []byte) (store.Hash, error) {
	var h store.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("stored hash has %d bytes, want %d", len(b), len(h))
	}
	copy(h[:], b)
	return h, nil
}

// querier is what the pool and a transaction both offer, so that one read serves a write
// transaction and the pool alike.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queryStrings reads a one-column result of text.
func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// collect reads every row of a query with scan.
func collect[T any](ctx context.Context, q querier, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// splitRef splits "type/id" at its first '/'. ok is false unless both parts are non-empty: such
// a string names no resource.
func splitRef(ref string) (typ, id string, ok bool) {
	typ, id, ok = strings.Cut(ref, "/")
	return typ, id, ok && typ != "" && id != ""
}

// splitRefs splits the refs that can name a stored resource (see splitRef; storable) into
// parallel arrays of types and ids for unnest; ok is false when there is none.
func splitRefs(refs []string) (types, ids []string, ok bool) {
	for _, ref := range refs {
		if t, i, ok := splitRef(ref); ok && storable(ref) {
			types, ids = append(types, t), append(ids, i)
		}
	}
	return types, ids, len(types) > 0
}

// The times PostgreSQL's timestamptz holds: 4713 BC to 294276 AD.
var (
	minTime = time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(294276, 12, 31, 23, 59, 59, 0, time.UTC)
)

// pos is a page position's time as a statement compares it: ts(t), brought within what
// timestamptz holds. Every stored time is within it, so a position beyond either end compares
// with them as it would unclamped.
func pos(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return ts(t)
}
