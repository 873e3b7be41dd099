package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lanyardhq/lanyard/internal/store"
)

const scopedCols = "hash, id, type, resource, credential, parent, expires_at, created_at"

// CreateScopedToken stores t and writes ev in one transaction; a t.Parent that no longer
// exists is ErrNotFound (the parent was revoked while t was being issued).
func (db *DB) CreateScopedToken(ctx context.Context, t store.ScopedToken, ev store.Event) error {
	return db.write(ctx, "create scoped token", func(tx *sql.Tx) error {
		if t.Parent != "" {
			var one int
			err := tx.QueryRowContext(ctx, "SELECT 1 FROM scoped_tokens WHERE id = ?", t.Parent).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlite: create scoped token: parent %s: %w", t.Parent, store.ErrNotFound)
			}
			if err != nil {
				return wrap("create scoped token", err)
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO scoped_tokens ("+scopedCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			t.Hash[:], t.ID, t.Type, t.Resource, t.Credential, nullString(t.Parent), unix(t.ExpiresAt), unix(t.CreatedAt)); err != nil {
			return wrap("create scoped token", err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// ResolveScoped returns the scoped token with hash (expired ones too), or ErrNotFound.
func (db *DB) ResolveScoped(ctx context.Context, hash store.Hash) (store.ScopedToken, error) {
	var (
		t                store.ScopedToken
		b                []byte
		parent           sql.NullString
		expires, created int64
	)
	err := db.r.QueryRowContext(ctx, "SELECT "+scopedCols+" FROM scoped_tokens WHERE hash = ?", hash[:]).
		Scan(&b, &t.ID, &t.Type, &t.Resource, &t.Credential, &parent, &expires, &created)
	if err != nil {
		return store.ScopedToken{}, wrap("resolve scoped token", err)
	}
	if t.Hash, err = hashOf(b); err != nil {
		return store.ScopedToken{}, fmt.Errorf("sqlite: resolve scoped token: %w", err)
	}
	t.Parent, t.ExpiresAt, t.CreatedAt = parent.String, fromUnix(expires), fromUnix(created)
	return t, nil
}

// DeleteScopedToken deletes the token id and its whole subtree, and writes ev, in one
// transaction. ErrNotFound (and no event) when there is no such token.
func (db *DB) DeleteScopedToken(ctx context.Context, id string, ev store.Event) (store.Revoked, error) {
	var rev store.Revoked
	err := db.write(ctx, "delete scoped token", func(tx *sql.Tx) error {
		ids, err := queryStrings(ctx, tx, `WITH RECURSIVE tree(id) AS (
				SELECT id FROM scoped_tokens WHERE id = ?
				UNION SELECT s.id FROM scoped_tokens s JOIN tree ON s.parent = tree.id)
			SELECT id FROM tree`, id)
		if err != nil {
			return wrap("delete scoped token", err)
		}
		if len(ids) == 0 {
			return fmt.Errorf("sqlite: delete scoped token %s: %w", id, store.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM scoped_tokens WHERE id IN (SELECT value FROM json_each(?))", stringsJSON(ids)); err != nil {
			return wrap("delete scoped token", err)
		}
		rev.ScopedIDs = ids
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return rev, nil
}
