package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lanyardhq/lanyard/internal/store"
)

// CreateSession stores a console session (its hash, never its token) and writes ev, in one
// transaction. ErrNotFound when s.UserID names no user, ErrConflict when the id or the hash is
// taken, ErrChanged when s.IssuedAgainst is set and the user's password hash is no longer it.
func (db *DB) CreateSession(ctx context.Context, s store.Session, ev store.Event) error {
	return db.write(ctx, "create session", func(tx *sql.Tx) error {
		u, err := getUser(ctx, tx, s.UserID)
		if err != nil {
			return wrap("create session", err)
		}
		if s.IssuedAgainst != "" && u.PasswordHash != s.IssuedAgainst {
			return fmt.Errorf("sqlite: create session for %s: the password changed: %w", s.UserID, store.ErrChanged)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO sessions (hash, id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
			s.Hash[:], s.ID, s.UserID, unix(s.ExpiresAt), unix(s.CreatedAt)); err != nil {
			return wrap("create session", err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// ResolveSession returns the session whose hash is hash, expired or not, or ErrNotFound.
func (db *DB) ResolveSession(ctx context.Context, hash store.Hash) (store.Session, error) {
	var (
		s                  store.Session
		b                  []byte
		expires, createdAt int64
	)
	err := db.r.QueryRowContext(ctx, "SELECT hash, id, user_id, expires_at, created_at FROM sessions WHERE hash = ?", hash[:]).
		Scan(&b, &s.ID, &s.UserID, &expires, &createdAt)
	if err != nil {
		return store.Session{}, wrap("resolve session", err)
	}
	if s.Hash, err = hashOf(b); err != nil {
		return store.Session{}, fmt.Errorf("sqlite: resolve session: %w", err)
	}
	s.ExpiresAt, s.CreatedAt = fromUnix(expires), fromUnix(createdAt)
	return s, nil
}

// DeleteSession removes the session id and writes ev (unless ev.Action is empty), in one
// transaction. ErrNotFound when there is no such session; then no event is written.
func (db *DB) DeleteSession(ctx context.Context, id string, ev store.Event) error {
	return db.write(ctx, "delete session", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE id = ?", id)
		if err != nil {
			return wrap("delete session", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap("delete session", err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: delete session: %w", store.ErrNotFound)
		}
		return insertEvent(ctx, tx, ev)
	})
}
