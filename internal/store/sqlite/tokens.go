package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lanyardhq/lanyard/internal/store"
)

func tokenSecret(t store.Token) store.Secret {
	return store.Secret{Hash: t.Hash, Kind: t.Kind, ID: t.ID, UserID: t.UserID, ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt}
}

func checkTokenKind(kind string) error {
	switch kind {
	case store.KindPersonal, store.KindAdmin, store.KindBootstrap:
		return nil
	}
	return fmt.Errorf("sqlite: %q is not a token kind", kind)
}

// CreateToken stores a personal, admin or bootstrap token (as its hash) and writes ev, in one
// transaction. ErrConflict when the hash or the token id is taken; ErrNotFound when t.UserID
// names no user; ErrChanged when t.IssuedAgainst is set and is no longer the user's password
// hash. Any other kind is an error.
func (db *DB) CreateToken(ctx context.Context, t store.Token, ev store.Event) error {
	if err := checkTokenKind(t.Kind); err != nil {
		return err
	}
	return db.write(ctx, "create token", func(tx *sql.Tx) error {
		if t.IssuedAgainst != "" {
			u, err := getUser(ctx, tx, t.UserID)
			if err != nil {
				return wrap("create token", err)
			}
			if u.PasswordHash != t.IssuedAgainst {
				return fmt.Errorf("sqlite: create token for %s: the password changed: %w", t.UserID, store.ErrChanged)
			}
		}
		if err := insertSecret(ctx, tx, "create token "+t.ID, tokenSecret(t)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// errTokensFilter is DeleteTokens' answer to a filter that selects nothing in particular.
var errTokensFilter = fmt.Errorf("sqlite: DeleteTokens needs a filter with an id, a user or a kind: %w", store.ErrInvalid)

// DeleteTokens deletes the tokens (personal, admin and bootstrap rows only, never a key's
// secret) that match every set field of f among ID, UserID and Kind, except the one with id
// f.ExceptID, and writes ev once (even when nothing matched), in one transaction. It returns
// the deleted ids in Revoked.TokenIDs. A filter with none of ID, UserID and Kind is
// ErrInvalid.
func (db *DB) DeleteTokens(ctx context.Context, f store.TokenFilter, ev store.Event) (store.Revoked, error) {
	if f.ID == "" && f.UserID == "" && f.Kind == "" {
		return store.Revoked{}, errTokensFilter
	}
	cond, args := "kind IN "+tokenKinds, []any(nil)
	for _, c := range []struct{ col, val string }{{"id = ?", f.ID}, {"user_id = ?", f.UserID}, {"kind = ?", f.Kind}, {"id <> ?", f.ExceptID}} {
		if c.val != "" {
			cond += " AND " + c.col
			args = append(args, c.val)
		}
	}
	var rev store.Revoked
	err := db.write(ctx, "delete tokens", func(tx *sql.Tx) error {
		ids, err := queryStrings(ctx, tx, "SELECT id FROM secrets WHERE "+cond+" ORDER BY created_at, id", args...)
		if err != nil {
			return wrap("delete tokens", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM secrets WHERE "+cond, args...); err != nil {
			return wrap("delete tokens", err)
		}
		rev.TokenIDs = ids
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return rev, nil
}

// Resolve returns the secret row with hash and, for a key's token or secret, the key, read in
// one statement. Expired rows are returned too. ErrNotFound when no row has the hash.
// Resolved.Secret.Prefix is always empty (prefixes live on keys).
func (db *DB) Resolve(ctx context.Context, hash store.Hash) (store.Resolved, error) {
	var (
		s       store.Secret
		b       []byte
		userID  sql.NullString
		expires sql.NullInt64
		created int64
		kr      keyRow
	)
	dest := append([]any{&b, &s.Kind, &s.ID, &userID, &expires, &created}, kr.dest()...)
	err := db.r.QueryRowContext(ctx, `SELECT s.hash, s.kind, s.id, s.user_id, s.expires_at, s.created_at,
			k.id, k.name, k.format, k.prefix, k.owner, k.resource, k.role, k.plan, k.metadata, k.allowed_cidrs,
			k.credits, k.expires_at, k.last_used_at, k.created_at, k.created_by
		FROM secrets s LEFT JOIN keys k ON s.kind IN `+keyKinds+` AND k.id = s.id
		WHERE s.hash = ?`, hash[:]).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		var one int
		switch err := db.r.QueryRowContext(ctx, "SELECT 1 FROM revoked WHERE hash = ?", hash[:]).Scan(&one); {
		case err == nil:
			return store.Resolved{}, fmt.Errorf("sqlite: resolve: %w", store.ErrRevoked)
		case !errors.Is(err, sql.ErrNoRows):
			return store.Resolved{}, wrap("resolve", err)
		}
	}
	if err != nil {
		return store.Resolved{}, wrap("resolve", err)
	}
	if s.Hash, err = hashOf(b); err != nil {
		return store.Resolved{}, fmt.Errorf("sqlite: resolve: %w", err)
	}
	s.UserID, s.ExpiresAt, s.CreatedAt = userID.String, timePtr(expires), fromUnix(created)
	res := store.Resolved{Secret: s}
	if kr.id.Valid {
		k, err := kr.key()
		if err != nil {
			return store.Resolved{}, fmt.Errorf("sqlite: resolve: %w", err)
		}
		res.Key = &k
	}
	return res, nil
}

// InitBootstrap stores t as the bootstrap token (its Kind is set to bootstrap and it has no
// user) and marks the store bootstrapped, with ev, in one transaction, and reports true —
// unless the store was bootstrapped before, when it changes nothing, writes no event and
// reports false.
func (db *DB) InitBootstrap(ctx context.Context, t store.Token, ev store.Event) (bool, error) {
	created := false
	err := db.write(ctx, "init bootstrap", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM meta WHERE name = ?", store.MetaBootstrapped).Scan(&n); err != nil {
			return wrap("init bootstrap", err)
		}
		if n > 0 {
			return nil
		}
		if err := setBootstrap(ctx, tx, "init bootstrap", t); err != nil {
			return err
		}
		created = true
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return false, err
	}
	return created, nil
}

// ResetBootstrap deletes every bootstrap token, stores t as the new one and marks the store
// bootstrapped, with ev, in one transaction. It returns the old tokens' ids in
// Revoked.TokenIDs.
func (db *DB) ResetBootstrap(ctx context.Context, t store.Token, ev store.Event) (store.Revoked, error) {
	var rev store.Revoked
	err := db.write(ctx, "reset bootstrap", func(tx *sql.Tx) error {
		ids, err := queryStrings(ctx, tx, "SELECT id FROM secrets WHERE kind = 'bootstrap' ORDER BY created_at, id")
		if err != nil {
			return wrap("reset bootstrap", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM secrets WHERE kind = 'bootstrap'"); err != nil {
			return wrap("reset bootstrap", err)
		}
		if err := setBootstrap(ctx, tx, "reset bootstrap", t); err != nil {
			return err
		}
		rev.TokenIDs = ids
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return rev, nil
}

// ReplaceBootstrap deletes a bootstrap token whose hash is not t's, stores t as the bootstrap
// token in its place and writes ev, in one transaction, and returns the old token's id in
// Revoked.TokenIDs. When the store holds t already, or holds no bootstrap token, it changes
// nothing and writes no event. ErrConflict when t's hash is another secret's.
func (db *DB) ReplaceBootstrap(ctx context.Context, t store.Token, ev store.Event) (store.Revoked, error) {
	var rev store.Revoked
	err := db.write(ctx, "replace bootstrap", func(tx *sql.Tx) error {
		ids, err := queryStrings(ctx, tx, "SELECT id FROM secrets WHERE kind = 'bootstrap' AND hash <> ? ORDER BY created_at, id", t.Hash[:])
		if err != nil {
			return wrap("replace bootstrap", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM secrets WHERE kind = 'bootstrap'"); err != nil {
			return wrap("replace bootstrap", err)
		}
		if err := setBootstrap(ctx, tx, "replace bootstrap", t); err != nil {
			return err
		}
		rev.TokenIDs = ids
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return rev, nil
}

func setBootstrap(ctx context.Context, tx *sql.Tx, op string, t store.Token) error {
	t.Kind, t.UserID = store.KindBootstrap, ""
	if err := insertSecret(ctx, tx, op, tokenSecret(t)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
		store.MetaBootstrapped, second(t.CreatedAt).Format("2006-01-02T15:04:05Z"))
	return wrap(op, err)
}
