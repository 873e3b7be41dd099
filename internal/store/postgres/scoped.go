package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

const scopedCols = "hash, id, type, resource, credential, parent, expires_at, created_at"

func scanScoped(row pgx.Row) (store.ScopedToken, error) {
	var (
		t                store.ScopedToken
		b                []byte
		parent           *string
		expires, created time.Time
	)
	if err := row.Scan(&b, &t.ID, &t.Type, &t.Resource, &t.Credential, &parent, &expires, &created); err != nil {
		return store.ScopedToken{}, err
	}
	h, err := hashOf(b)
	if err != nil {
		return store.ScopedToken{}, err
	}
	t.Hash, t.Parent, t.ExpiresAt, t.CreatedAt = h, deref(parent), utc(expires), utc(created)
	return t, nil
}

// CreateScopedToken stores t and writes ev in one transaction; a t.Parent that no longer
// exists is ErrNotFound (the parent was revoked while t was being issued). ErrConflict when the
// hash or the id is taken.
func (db *DB) CreateScopedToken(ctx context.Context, t store.ScopedToken, ev store.Event) error {
	return db.write(ctx, "create scoped token", func(tx *txn) error {
		if t.Parent != "" {
			var ok bool
			if storable(t.Parent) {
				if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM scoped_tokens WHERE id = $1)", t.Parent).Scan(&ok); err != nil {
					return wrap("create scoped token", err)
				}
			}
			if !ok {
				return fmt.Errorf("postgres: create scoped token: parent %s: %w", t.Parent, store.ErrNotFound)
			}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO scoped_tokens ("+scopedCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			t.Hash[:], t.ID, t.Type, t.Resource, t.Credential, nullString(t.Parent), ts(t.ExpiresAt), ts(t.CreatedAt)); err != nil {
			return wrap("create scoped token", err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// ResolveScoped returns the scoped token with hash (expired ones too), or ErrNotFound.
func (db *DB) ResolveScoped(ctx context.Context, hash store.Hash) (store.ScopedToken, error) {
	return read(ctx, db, "resolve scoped token", func(ctx context.Context) (store.ScopedToken, error) {
		return scanScoped(db.pool.QueryRow(ctx, "SELECT "+scopedCols+" FROM scoped_tokens WHERE hash = $1", hash[:]))
	})
}

// DeleteScopedToken deletes the token id and its whole subtree, and writes ev, in one
// transaction. ErrNotFound (and no event) when there is no such token.
func (db *DB) DeleteScopedToken(ctx context.Context, id string, ev store.Event) (store.Revoked, error) {
	if !storable(id) {
		return store.Revoked{}, fmt.Errorf("postgres: delete scoped token %s: %w", id, store.ErrNotFound)
	}
	var rev store.Revoked
	err := db.write(ctx, "delete scoped token", func(tx *txn) error {
		ids, err := queryStrings(ctx, tx, `WITH RECURSIVE tree(id) AS (
				SELECT id FROM scoped_tokens WHERE id = $1
				UNION SELECT s.id FROM scoped_tokens s JOIN tree ON s.parent = tree.id)
			DELETE FROM scoped_tokens WHERE id IN (SELECT id FROM tree) RETURNING id`, id)
		if err != nil {
			return wrap("delete scoped token", err)
		}
		if len(ids) == 0 {
			return fmt.Errorf("postgres: delete scoped token %s: %w", id, store.ErrNotFound)
		}
		rev = store.Revoked{ScopedIDs: ids}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return rev, nil
}
