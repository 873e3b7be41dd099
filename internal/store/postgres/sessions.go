package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// CreateSession stores a console session (its hash, never its token) and writes ev, in one
// transaction. ErrNotFound when s.UserID names no user, ErrConflict when the id or the hash is
// taken, ErrChanged when s.IssuedAgainst is set and the user's password hash is no longer it.
func (db *DB) CreateSession(ctx context.Context, s store.Session, ev store.Event) error {
	if !storable(s.ID, s.UserID) {
		return fmt.Errorf("postgres: create session: user %q: %w", s.UserID, store.ErrNotFound)
	}
	return db.write(ctx, "create session", func(tx *txn) error {
		u, err := getUser(ctx, tx, s.UserID)
		if err != nil {
			return wrap("create session", err)
		}
		if s.IssuedAgainst != "" && u.PasswordHash != s.IssuedAgainst {
			return fmt.Errorf("postgres: create session for %s: the password changed: %w", s.UserID, store.ErrChanged)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO sessions (hash, id, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
			s.Hash[:], s.ID, s.UserID, ts(s.ExpiresAt), ts(s.CreatedAt)); err != nil {
			return wrap("create session", err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// ResolveSession returns the session whose hash is hash, expired or not, or ErrNotFound.
func (db *DB) ResolveSession(ctx context.Context, hash store.Hash) (store.Session, error) {
	return read(ctx, db, "resolve session", func(ctx context.Context) (store.Session, error) {
		var (
			s                store.Session
			b                []byte
			expires, created time.Time
		)
		err := db.pool.QueryRow(ctx, "SELECT hash, id, user_id, expires_at, created_at FROM sessions WHERE hash = $1", hash[:]).
			Scan(&b, &s.ID, &s.UserID, &expires, &created)
		if err != nil {
			return store.Session{}, err
		}
		if s.Hash, err = hashOf(b); err != nil {
			return store.Session{}, err
		}
		s.ExpiresAt, s.CreatedAt = utc(expires), utc(created)
		return s, nil
	})
}

// DeleteSession removes the session id and writes ev (unless ev.Action is empty), in one
// transaction. ErrNotFound when there is no such session; then no event is written.
func (db *DB) DeleteSession(ctx context.Context, id string, ev store.Event) error {
	if !storable(id) {
		return fmt.Errorf("postgres: delete session %s: %w", id, store.ErrNotFound)
	}
	return db.write(ctx, "delete session", func(tx *txn) error {
		tag, err := tx.Exec(ctx, "DELETE FROM sessions WHERE id = $1", id)
		if err != nil {
			return wrap("delete session", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: delete session %s: %w", id, store.ErrNotFound)
		}
		return insertEvent(ctx, tx, ev)
	})
}
