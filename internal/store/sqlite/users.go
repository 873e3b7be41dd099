package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

const userCols = "id, email, email_norm, name, password_hash, admin, created_at, updated_at"

func scanUser(row scanner) (store.User, error) {
	var (
		u                store.User
		admin            int
		created, updated int64
	)
	if err := row.Scan(&u.ID, &u.Email, &u.EmailNorm, &u.Name, &u.PasswordHash, &admin, &created, &updated); err != nil {
		return store.User{}, err
	}
	u.Admin = admin != 0
	u.CreatedAt = fromUnix(created)
	u.UpdatedAt = fromUnix(updated)
	return u, nil
}

func getUser(ctx context.Context, q querier, id string) (store.User, error) {
	return scanUser(q.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
}

// CreateUser stores u and writes ev (unless ev.Action is empty) in the same transaction.
// ErrConflict when the id or the normalised email is taken; then nothing, not even the event,
// is written. The stored EmailNorm is store.NormalizeEmail(u.Email), whatever u.EmailNorm says.
func (db *DB) CreateUser(ctx context.Context, u store.User, ev store.Event) error {
	u.EmailNorm = store.NormalizeEmail(u.Email)
	return db.write(ctx, "create user", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO users ("+userCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			u.ID, u.Email, u.EmailNorm, u.Name, u.PasswordHash, boolInt(u.Admin), unix(u.CreatedAt), unix(u.UpdatedAt))
		if err != nil {
			return wrap("create user "+u.ID, err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetUser returns the user with id, or ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := getUser(ctx, db.r, id)
	if err != nil {
		return store.User{}, wrap("get user", err)
	}
	return u, nil
}

// GetUserByEmail returns the user whose email is email once both are normalised
// (store.NormalizeEmail, which changes nothing in an email it already normalised), or
// ErrNotFound.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE email_norm = ?", store.NormalizeEmail(email)))
	if err != nil {
		return store.User{}, wrap("get user by email", err)
	}
	return u, nil
}

// ListUsers returns up to page.Limit users (50 when it is not positive) ordered by
// (CreatedAt, ID in byte order), strictly after the page's position.
func (db *DB) ListUsers(ctx context.Context, page store.Page) ([]store.User, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+userCols+` FROM users
		WHERE created_at > ? OR (created_at = ? AND id > ?)
		ORDER BY created_at, id LIMIT ?`,
		unix(page.AfterCreated), unix(page.AfterCreated), page.AfterID, limitOf(page))
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list users", err)
	}
	return out, nil
}

// UpdateUser reads the user, applies fn and saves the result in one transaction. Only Name,
// PasswordHash, Admin and UpdatedAt are saved; changes fn makes to other fields are dropped.
// It returns the user as stored. ErrNotFound when there is no such user; an error from fn
// aborts the update and is returned unchanged. ev is written with the change unless
// ev.Action is empty.
func (db *DB) UpdateUser(ctx context.Context, id string, fn func(*store.User) error, ev store.Event) (store.User, error) {
	var out store.User
	err := db.write(ctx, "update user", func(tx *sql.Tx) error {
		u, err := getUser(ctx, tx, id)
		if err != nil {
			return wrap("update user", err)
		}
		if err := fn(&u); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET name = ?, password_hash = ?, admin = ?, updated_at = ? WHERE id = ?",
			u.Name, u.PasswordHash, boolInt(u.Admin), unix(u.UpdatedAt), id); err != nil {
			return wrap("update user", err)
		}
		if out, err = getUser(ctx, tx, id); err != nil {
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
	err := db.write(ctx, "change password", func(tx *sql.Tx) error {
		u, err := getUser(ctx, tx, userID)
		if err != nil {
			return wrap("change password", err)
		}
		if expect != "" && u.PasswordHash != expect {
			return fmt.Errorf("sqlite: change password of %s: %w", userID, store.ErrChanged)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", hash, unix(at), userID); err != nil {
			return wrap("change password", err)
		}
		const sel = "kind = '" + store.KindPersonal + "' AND user_id = ? AND id <> ?"
		if rev.TokenIDs, err = queryStrings(ctx, tx, "SELECT id FROM secrets WHERE "+sel+" ORDER BY created_at, id", userID, keepToken); err != nil {
			return wrap("change password", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM secrets WHERE "+sel, userID, keepToken); err != nil {
			return wrap("change password", err)
		}
		if out, err = getUser(ctx, tx, userID); err != nil {
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
// those and every grant naming the user or one of its keys, and writes ev, in one transaction. It returns Revoked{UserIDs: [id], KeyIDs: the
// keys, TokenIDs: the tokens}. ErrNotFound when there is no such user. The id and the email
// may be used again afterwards.
func (db *DB) DeleteUser(ctx context.Context, id string, ev store.Event) (store.Revoked, error) {
	var rev store.Revoked
	err := db.write(ctx, "delete user", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", id).Scan(&one); err != nil {
			return wrap("delete user", err)
		}
		keyIDs, err := queryStrings(ctx, tx, "SELECT id FROM keys WHERE owner = ? ORDER BY created_at, id", id)
		if err != nil {
			return wrap("delete user", err)
		}
		tokenIDs, err := queryStrings(ctx, tx, "SELECT id FROM secrets WHERE user_id = ? AND kind IN "+tokenKinds+" ORDER BY created_at, id", id)
		if err != nil {
			return wrap("delete user", err)
		}
		for _, q := range []string{
			"DELETE FROM grants WHERE principal = 'user:' || ?",
			"DELETE FROM grants WHERE principal IN (SELECT 'key:' || id FROM keys WHERE owner = ?)",
			"DELETE FROM secrets WHERE kind IN " + keyKinds + " AND id IN (SELECT id FROM keys WHERE owner = ?)",
			"DELETE FROM secrets WHERE user_id = ?",
			"DELETE FROM keys WHERE owner = ?",
			"DELETE FROM users WHERE id = ?",
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
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
	err := db.write(ctx, "set admin", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", userID).Scan(&one); err != nil {
			return wrap("set admin", err)
		}
		if token != nil {
			t := *token
			t.Kind, t.UserID = store.KindAdmin, userID
			if err := insertSecret(ctx, tx, "set admin", tokenSecret(t)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE users SET admin = 1 WHERE id = ?", userID); err != nil {
				return wrap("set admin", err)
			}
		} else {
			ids, err := queryStrings(ctx, tx, "SELECT id FROM secrets WHERE user_id = ? AND kind = 'admin' ORDER BY created_at, id", userID)
			if err != nil {
				return wrap("set admin", err)
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM secrets WHERE user_id = ? AND kind = 'admin'", userID); err != nil {
				return wrap("set admin", err)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE users SET admin = 0 WHERE id = ?", userID); err != nil {
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
func insertSecret(ctx context.Context, tx *sql.Tx, op string, s store.Secret) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO secrets (hash, kind, id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		s.Hash[:], s.Kind, s.ID, nullString(s.UserID), nullTime(s.ExpiresAt), unix(s.CreatedAt))
	if isForeignKey(err) {
		return fmt.Errorf("sqlite: %s: user %q: %w", op, s.UserID, store.ErrNotFound)
	}
	return wrap(op, err)
}
