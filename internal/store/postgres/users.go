package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

const userCols = "id, email, email_norm, name, password_hash, admin, created_at, updated_at"

func scanUser(row pgx.Row) (store.User, error) {
	var (
		u                store.User
		created, updated time.Time
	)
	if err := row.Scan(&u.ID, &u.Email, &u.EmailNorm, &u.Name, &u.PasswordHash, &u.Admin, &created, &updated); err != nil {
		return store.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = utc(created), utc(updated)
	return u, nil
}

func getUser(ctx context.Context, q querier, id string) (store.User, error) {
	if !storable(id) {
		return store.User{}, pgx.ErrNoRows
	}
	return scanUser(q.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = $1", id))
}

// userExists reports whether the user id is stored.
func userExists(ctx context.Context, q querier, id string) (bool, error) {
	if !storable(id) {
		return false, nil
	}
	var ok bool
	err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", id).Scan(&ok)
	return ok, err
}

// CreateUser stores u and writes ev (unless ev.Action is empty) in the same transaction.
// ErrConflict when the id or the normalised email is taken; then nothing, not even the event,
// is written. The stored EmailNorm is store.NormalizeEmail(u.Email), whatever u.EmailNorm says.
func (db *DB) CreateUser(ctx context.Context, u store.User, ev store.Event) error {
	u.EmailNorm = store.NormalizeEmail(u.Email)
	return db.write(ctx, "create user", func(tx *txn) error {
		_, err := tx.Exec(ctx, "INSERT INTO users ("+userCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			u.ID, u.Email, u.EmailNorm, u.Name, u.PasswordHash, u.Admin, ts(u.CreatedAt), ts(u.UpdatedAt))
		if err != nil {
			return wrap("create user "+u.ID, err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetUser returns the user with id, or ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	return read(ctx, db, "get user", func(ctx context.Context) (store.User, error) {
		return getUser(ctx, db.pool, id)
	})
}

// GetUserByEmail returns the user whose email is email once both are normalised
// (store.NormalizeEmail, which changes nothing in an email it already normalised), or
// ErrNotFound.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	norm := store.NormalizeEmail(email)
	if !storable(norm) {
		return store.User{}, fmt.Errorf("postgres: get user by email: %w", store.ErrNotFound)
	}
	return read(ctx, db, "get user by email", func(ctx context.Context) (store.User, error) {
		return scanUser(db.pool.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE email_norm = $1", norm))
	})
}

// ListUsers returns up to page.Limit users (50 when it is not positive) ordered by
// (CreatedAt, ID in byte order), strictly after the page's position.
func (db *DB) ListUsers(ctx context.Context, page store.Page) ([]store.User, error) {
	if !storable(page.AfterID) {
		return nil, fmt.Errorf("postgres: list users: the position %q is no user id: %w", page.AfterID, store.ErrInvalid)
	}
	return read(ctx, db, "list users", func(ctx context.Context) ([]store.User, error) {
		return collect(ctx, db.pool, scanUser, "SELECT "+userCols+` FROM users
			WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`,
			pos(page.AfterCreated), page.AfterID, limitOf(page))
	})
}

// UpdateUser reads the user, applies fn and saves the result in one transaction. Only Name,
// PasswordHash, Admin and UpdatedAt are saved; changes fn makes to other fields are dropped.
// It returns the user as stored. ErrNotFound when there is no such user; an error from fn
// aborts the update and is returned unchanged. ev is written with the change unless
// ev.Action is empty. fn may run more than once (a retried transaction): it must only change
// the user it is given.
func (db *DB) UpdateUser(ctx context.Context, id string, fn func(*store.User) error, ev store.Event) (store.User, error) {
	var out store.User
	err := db.write(ctx, "update user", func(tx *txn) error {
		u, err := getUser(ctx, tx, id)
		if err != nil {
			return wrap("update user", err)
		}
		if err := fn(&u); err != nil {
			return err
		}
		if out, err = scanUser(tx.QueryRow(ctx, "UPDATE users SET name = $1, password_hash = $2, admin = $3, updated_at = $4 WHERE id = $5 RETURNING "+userCols,
			u.Name, u.PasswordHash, u.Admin, ts(u.UpdatedAt), id)); err != nil {
			return wrap("update user", err)
		}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.User{}, err
	}
	return out, nil
}

// ChangePassword stores hash as the user's password hash and deletes every personal token of
// the user except keepToken, and writes ev, in one transaction: no personal token issued against
// the old password outlives the change. When expect is set and the stored hash is no longer
// expect, nothing changes: ErrChanged. ErrNotFound when there is no such user. It returns the
// user as stored and the deleted tokens in Revoked.TokenIDs.
func (db *DB) ChangePassword(ctx context.Context, userID, expect, hash, keepToken string, at time.Time, ev store.Event) (store.User, store.Revoked, error) {
	var (
		out store.User
		rev store.Revoked
	)
	err := db.write(ctx, "change password", func(tx *txn) error {
		u, err := getUser(ctx, tx, userID)
		if err != nil {
			return wrap("change password", err)
		}
		if expect != "" && u.PasswordHash != expect {
			return fmt.Errorf("postgres: change password of %s: %w", userID, store.ErrChanged)
		}
		if out, err = scanUser(tx.QueryRow(ctx, "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 RETURNING "+userCols,
			hash, ts(at), userID)); err != nil {
			return wrap("change password", err)
		}
		if rev.TokenIDs, err = queryStrings(ctx, tx, `WITH gone AS (
				DELETE FROM secrets WHERE kind = 'personal' AND user_id = $1 AND id <> $2 RETURNING id, created_at)
			SELECT id FROM gone ORDER BY created_at, id`, userID, keepToken); err != nil {
			return wrap("change password", err)
		}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.User{}, store.Revoked{}, err
	}
	return out, rev, nil
}

// DeleteUser removes the user with every key it owns, every token it holds, every secret of
// those and every grant naming the user or one of its keys, and writes ev, in one transaction.
// It returns Revoked{UserIDs: [id], KeyIDs: the keys, TokenIDs: the tokens}. ErrNotFound when
// there is no such user. The id and the email may be used again afterwards.
func (db *DB) DeleteUser(ctx context.Context, id string, ev store.Event) (store.Revoked, error) {
	var rev store.Revoked
	err := db.write(ctx, "delete user", func(tx *txn) error {
		if ok, err := userExists(ctx, tx, id); err != nil {
			return wrap("delete user", err)
		} else if !ok {
			return fmt.Errorf("postgres: delete user %s: %w", id, store.ErrNotFound)
		}
		keyIDs, err := queryStrings(ctx, tx, "SELECT id FROM keys WHERE owner = $1 ORDER BY created_at, id", id)
		if err != nil {
			return wrap("delete user", err)
		}
		tokenIDs, err := queryStrings(ctx, tx, "SELECT id FROM secrets WHERE user_id = $1 AND kind IN "+tokenKinds+" ORDER BY created_at, id", id)
		if err != nil {
			return wrap("delete user", err)
		}
		for _, q := range []string{
			"DELETE FROM grants WHERE principal = 'user:' || $1",
			"DELETE FROM grants WHERE principal IN (SELECT 'key:' || id FROM keys WHERE owner = $1)",
			"DELETE FROM secrets WHERE kind IN " + keyKinds + " AND id IN (SELECT id FROM keys WHERE owner = $1)",
			"DELETE FROM secrets WHERE user_id = $1",
			"DELETE FROM keys WHERE owner = $1",
			"DELETE FROM users WHERE id = $1",
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return wrap("delete user", err)
			}
		}
		rev = store.Revoked{UserIDs: []string{id}, KeyIDs: keyIDs, TokenIDs: tokenIDs}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return rev, nil
}

// SetAdmin promotes or demotes the user in one transaction with ev. With a token it sets the
// admin flag and stores the token as an admin token of the user (its Kind and UserID are set
// by the store; ErrConflict when its id or hash is taken). With nil it clears the flag and
// deletes every admin token of the user, returning their ids in Revoked.TokenIDs. UpdatedAt
// is left as it is. ErrNotFound when there is no such user.
func (db *DB) SetAdmin(ctx context.Context, userID string, token *store.Token, ev store.Event) (store.User, store.Revoked, error) {
	var (
		u   store.User
		rev store.Revoked
	)
	err := db.write(ctx, "set admin", func(tx *txn) error {
		if ok, err := userExists(ctx, tx, userID); err != nil {
			return wrap("set admin", err)
		} else if !ok {
			return fmt.Errorf("postgres: set admin %s: %w", userID, store.ErrNotFound)
		}
		rev = store.Revoked{}
		if token != nil {
			t := *token
			t.Kind, t.UserID = store.KindAdmin, userID
			if err := insertSecret(ctx, tx, "set admin", tokenSecret(t)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "UPDATE users SET admin = true WHERE id = $1", userID); err != nil {
				return wrap("set admin", err)
			}
		} else {
			ids, err := queryStrings(ctx, tx, `WITH gone AS (
					DELETE FROM secrets WHERE user_id = $1 AND kind = 'admin' RETURNING id, created_at)
				SELECT id FROM gone ORDER BY created_at, id`, userID)
			if err != nil {
				return wrap("set admin", err)
			}
			if _, err := tx.Exec(ctx, "UPDATE users SET admin = false WHERE id = $1", userID); err != nil {
				return wrap("set admin", err)
			}
			rev.TokenIDs = ids
		}
		var err error
		if u, err = getUser(ctx, tx, userID); err != nil {
			return wrap("set admin", err)
		}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.User{}, store.Revoked{}, err
	}
	return u, rev, nil
}

// insertSecret stores one secret row. ErrConflict when the hash (or a token's id) is taken,
// ErrNotFound when it names a user that does not exist.
func insertSecret(ctx context.Context, tx querier, op string, s store.Secret) error {
	_, err := tx.Exec(ctx, "INSERT INTO secrets (hash, kind, id, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
		s.Hash[:], s.Kind, s.ID, nullString(s.UserID), tsPtr(s.ExpiresAt), ts(s.CreatedAt))
	if isForeignKey(err) {
		return fmt.Errorf("postgres: %s: user %q: %w", op, s.UserID, store.ErrNotFound)
	}
	return wrap(op, err)
}
