package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

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

// unix is how a time is stored: UTC unix seconds (anything finer is dropped).
func unix(t time.Time) int64 { return t.Unix() }

// fromUnix is a stored time read back, in UTC.
func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// second truncates t to what the store keeps.
func second(t time.Time) time.Time { return fromUnix(unix(t)) }

func nullTime(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: unix(*t), Valid: true}
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromUnix(n.Int64)
	return &t
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// jsonText encodes v for a JSON column; empty is NULL.
func jsonText(v any, empty bool) (sql.NullString, error) {
	if empty {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// fromJSON decodes a JSON column into dst; NULL leaves dst alone.
func fromJSON(s sql.NullString, dst any) error {
	if !s.Valid {
		return nil
	}
	if err := json.Unmarshal([]byte(s.String), dst); err != nil {
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

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// querier is what both *sql.Tx and *sql.DB offer, so that one read serves a write transaction
// and the read pool alike.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// queryStrings reads a one-column result of text.
func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
