package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

const grantCols = "resource, principal, role, created_at"

func scanGrant(row pgx.Row) (store.Grant, error) {
	var (
		g       store.Grant
		created time.Time
	)
	if err := row.Scan(&g.Resource, &g.Principal, &g.Role, &created); err != nil {
		return store.Grant{}, err
	}
	g.CreatedAt = utc(created)
	return g, nil
}

// insertGrant stores g, or replaces the role of the grant of g.Principal on g.Resource (which
// then keeps its CreatedAt), and returns it as stored. It does not check that the resource
// exists.
func insertGrant(ctx context.Context, tx querier, op string, g store.Grant) error {
	_, err := upsertGrant(ctx, tx, op, g)
	return err
}

func upsertGrant(ctx context.Context, tx querier, op string, g store.Grant) (store.Grant, error) {
	out, err := scanGrant(tx.QueryRow(ctx, "INSERT INTO grants ("+grantCols+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (resource, principal) DO UPDATE SET role = excluded.role RETURNING `+grantCols,
		g.Resource, g.Principal, g.Role, ts(g.CreatedAt)))
	if err != nil {
		return store.Grant{}, wrap(op, err)
	}
	return out, nil
}

// PutGrant stores the grant of g.Principal on g.Resource, or replaces the role of the one
// there is (which keeps its CreatedAt), and writes ev, in one transaction. It returns the grant
// as stored. ErrNotFound when g.Resource is no stored resource, or g.Principal names no stored
// user or key. guard may run more than once (a retried transaction).
func (db *DB) PutGrant(ctx context.Context, g store.Grant, guard store.Guard, ev store.Event) (store.Grant, error) {
	var out store.Grant
	err := db.write(ctx, "put grant", func(tx *txn) error {
		if err := runGuard(ctx, tx, guard); err != nil {
			return err
		}
		ok, err := resourceExists(ctx, tx, g.Resource)
		if err != nil {
			return wrap("put grant", err)
		}
		if !ok {
			return fmt.Errorf("postgres: put grant: resource %q: %w", g.Resource, store.ErrNotFound)
		}
		// The principal must exist in this same transaction: a grant racing the deletion of
		// its user must not survive it, or a later user with the same id would inherit it.
		if ok, err := principalExists(ctx, tx, g.Principal); err != nil {
			return wrap("put grant", err)
		} else if !ok {
			return fmt.Errorf("postgres: put grant: principal %q: %w", g.Principal, store.ErrNotFound)
		}
		if out, err = upsertGrant(ctx, tx, "put grant", g); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Grant{}, err
	}
	return out, nil
}

// DeleteGrant removes the grant of principal on resource and writes ev, in one transaction.
// ErrNotFound (and no event, guard not called) when there is none.
func (db *DB) DeleteGrant(ctx context.Context, resource, principal string, guard store.Guard, ev store.Event) error {
	if !storable(resource, principal) {
		return fmt.Errorf("postgres: delete grant of %s on %s: %w", principal, resource, store.ErrNotFound)
	}
	return db.write(ctx, "delete grant", func(tx *txn) error {
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM grants WHERE resource = $1 AND principal = $2)",
			resource, principal).Scan(&exists); err != nil {
			return wrap("delete grant", err)
		}
		if !exists {
			return fmt.Errorf("postgres: delete grant of %s on %s: %w", principal, resource, store.ErrNotFound)
		}
		if err := runGuard(ctx, tx, guard); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM grants WHERE resource = $1 AND principal = $2", resource, principal); err != nil {
			return wrap("delete grant", err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// ListGrants returns up to page.Limit grants (50 when it is not positive) on resource alone
// (not its ancestors), ordered by (CreatedAt, Principal in byte order), strictly after the
// page's position, whose AfterID is the principal of the last grant seen. A resource that does
// not exist has no grants: no error.
func (db *DB) ListGrants(ctx context.Context, resource string, page store.Page) ([]store.Grant, error) {
	if !storable(page.AfterID) {
		return nil, fmt.Errorf("postgres: list grants: the position %q is no principal: %w", page.AfterID, store.ErrInvalid)
	}
	if !storable(resource) {
		return nil, nil
	}
	return read(ctx, db, "list grants", func(ctx context.Context) ([]store.Grant, error) {
		return collect(ctx, db.pool, scanGrant, "SELECT "+grantCols+` FROM grants
			WHERE resource = $1 AND (created_at, principal) > ($2, $3)
			ORDER BY created_at, principal LIMIT $4`,
			resource, pos(page.AfterCreated), page.AfterID, limitOf(page))
	})
}

// GrantsOf returns every grant of principal ("user:<id>" or "key:<id>"), ordered by resource.
func (db *DB) GrantsOf(ctx context.Context, principal string) ([]store.Grant, error) {
	return read(ctx, db, "grants of", func(ctx context.Context) ([]store.Grant, error) {
		return grantsOf(ctx, db.pool, principal)
	})
}

func grantsOf(ctx context.Context, q querier, principal string) ([]store.Grant, error) {
	if !storable(principal) {
		return nil, nil
	}
	return collect(ctx, q, scanGrant, "SELECT "+grantCols+" FROM grants WHERE principal = $1 ORDER BY resource", principal)
}

// txView is the store.View a Guard reads: the resources, grants and keys as the write
// transaction sees them. A serialization failure it meets is noted on the transaction, so the
// attempt is retried whatever error the guard makes of it.
type txView struct{ tx *txn }

func (v txView) note(err error) error {
	if err != nil && isSerialization(err) && v.tx.retry == nil {
		v.tx.retry = err
	}
	return err
}

func (v txView) GetResource(ctx context.Context, ref string) (store.Resource, error) {
	r, err := getResource(ctx, v.tx, ref)
	if err != nil {
		return store.Resource{}, v.note(wrap("get resource", err))
	}
	return r, nil
}

func (v txView) GrantsOf(ctx context.Context, principal string) ([]store.Grant, error) {
	gs, err := grantsOf(ctx, v.tx, principal)
	if err != nil {
		return nil, v.note(wrap("grants of", err))
	}
	return gs, nil
}

func (v txView) CountKeys(ctx context.Context, owner, resource string, at time.Time) (int, error) {
	if !storable(owner, resource) {
		return 0, nil
	}
	cond, arg := "owner = $1", owner
	if owner == "" {
		cond, arg = "owner IS NULL AND resource = $1", resource
	}
	var n int
	err := v.tx.QueryRow(ctx, "SELECT count(*) FROM keys WHERE "+cond+" AND (expires_at IS NULL OR expires_at > $2)", arg, pos(at)).Scan(&n)
	if err != nil {
		return 0, v.note(wrap("count keys", err))
	}
	return n, nil
}

// runGuard runs a change's access check inside its transaction; a nil guard checks nothing.
func runGuard(ctx context.Context, tx *txn, guard store.Guard) error {
	if guard == nil {
		return nil
	}
	return guard(ctx, txView{tx: tx})
}

// principalExists reports whether "user:<id>" or "key:<id>" names a stored user or key.
func principalExists(ctx context.Context, tx querier, principal string) (bool, error) {
	var q string
	kind, id, _ := strings.Cut(principal, ":")
	switch kind {
	case "user":
		q = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)"
	case "key":
		q = "SELECT EXISTS (SELECT 1 FROM keys WHERE id = $1)"
	default:
		return false, nil
	}
	if !storable(id) {
		return false, nil
	}
	var ok bool
	err := tx.QueryRow(ctx, q, id).Scan(&ok)
	return ok, err
}
