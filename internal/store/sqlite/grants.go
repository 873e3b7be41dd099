package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

const grantCols = "resource, principal, role, created_at"

func scanGrant(row scanner) (store.Grant, error) {
	var (
		g       store.Grant
		created int64
	)
	if err := row.Scan(&g.Resource, &g.Principal, &g.Role, &created); err != nil {
		return store.Grant{}, err
	}
	g.CreatedAt = fromUnix(created)
	return g, nil
}

func queryGrants(ctx context.Context, q querier, op, query string, args ...any) ([]store.Grant, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []store.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// insertGrant stores g, or replaces the role of the grant of g.Principal on g.Resource (which
// then keeps its CreatedAt). It does not check that the resource exists.
func insertGrant(ctx context.Context, tx *sql.Tx, op string, g store.Grant) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO grants ("+grantCols+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (resource, principal) DO UPDATE SET role = excluded.role`,
		g.Resource, g.Principal, g.Role, unix(g.CreatedAt))
	return wrap(op, err)
}

// PutGrant stores the grant of g.Principal on g.Resource, or replaces the role of the one
// there is (which keeps its CreatedAt), and writes ev, in one transaction. It returns the grant
// as stored. ErrNotFound when g.Resource is no stored resource. The principal is stored as
// given: the caller checks that it names a user or a key.
func (db *DB) PutGrant(ctx context.Context, g store.Grant, guard store.Guard, ev store.Event) (store.Grant, error) {
	var out store.Grant
	err := db.write(ctx, "put grant", func(tx *sql.Tx) error {
		if err := runGuard(ctx, tx, guard); err != nil {
			return err
		}
		ok, err := resourceExists(ctx, tx, g.Resource)
		if err != nil {
			return wrap("put grant", err)
		}
		if !ok {
			return fmt.Errorf("sqlite: put grant: resource %q: %w", g.Resource, store.ErrNotFound)
		}
		// The principal must exist in this same transaction: a grant racing the deletion of
		// its user must not survive it, or a later user with the same id would inherit it.
		if ok, err := principalExists(ctx, tx, g.Principal); err != nil {
			return wrap("put grant", err)
		} else if !ok {
			return fmt.Errorf("sqlite: put grant: principal %q: %w", g.Principal, store.ErrNotFound)
		}
		if err := insertGrant(ctx, tx, "put grant", g); err != nil {
			return err
		}
		if out, err = scanGrant(tx.QueryRowContext(ctx, "SELECT "+grantCols+" FROM grants WHERE resource = ? AND principal = ?",
			g.Resource, g.Principal)); err != nil {
			return wrap("put grant", err)
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
	return db.write(ctx, "delete grant", func(tx *sql.Tx) error {
		_, err := scanGrant(tx.QueryRowContext(ctx, "SELECT "+grantCols+" FROM grants WHERE resource = ? AND principal = ?",
			resource, principal))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: delete grant of %s on %s: %w", principal, resource, store.ErrNotFound)
		}
		if err != nil {
			return wrap("delete grant", err)
		}
		if err := runGuard(ctx, tx, guard); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM grants WHERE resource = ? AND principal = ?", resource, principal); err != nil {
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
	return queryGrants(ctx, db.r, "list grants", "SELECT "+grantCols+` FROM grants
		WHERE resource = ? AND (created_at, principal) > (?, ?)
		ORDER BY created_at, principal LIMIT ?`,
		resource, unix(page.AfterCreated), page.AfterID, limitOf(page))
}

// GrantsOf returns every grant of principal ("user:<id>" or "key:<id>"), ordered by resource.
func (db *DB) GrantsOf(ctx context.Context, principal string) ([]store.Grant, error) {
	return grantsOf(ctx, db.r, principal)
}

func grantsOf(ctx context.Context, q querier, principal string) ([]store.Grant, error) {
	return queryGrants(ctx, q, "grants of", "SELECT "+grantCols+" FROM grants WHERE principal = ? ORDER BY resource", principal)
}

// txView is the store.View a Guard reads: the resources and grants as the write transaction
// sees them.
type txView struct{ q querier }

func (v txView) GetResource(ctx context.Context, ref string) (store.Resource, error) {
	r, err := getResource(ctx, v.q, ref)
	if err != nil {
		return store.Resource{}, wrap("get resource", err)
	}
	return r, nil
}

func (v txView) GrantsOf(ctx context.Context, principal string) ([]store.Grant, error) {
	return grantsOf(ctx, v.q, principal)
}

func (v txView) CountKeys(ctx context.Context, owner, resource string, at time.Time) (int, error) {
	cond, arg := "owner = ?", owner
	if owner == "" {
		cond, arg = "owner IS NULL AND resource = ?", resource
	}
	var n int
	err := v.q.QueryRowContext(ctx, "SELECT count(*) FROM keys WHERE "+cond+" AND (expires_at IS NULL OR expires_at > ?)", arg, unix(at)).Scan(&n)
	if err != nil {
		return 0, wrap("count keys", err)
	}
	return n, nil
}

// runGuard runs a change's access check inside its transaction; a nil guard checks nothing.
func runGuard(ctx context.Context, tx *sql.Tx, guard store.Guard) error {
	if guard == nil {
		return nil
	}
	return guard(ctx, txView{q: tx})
}

// principalExists reports whether "user:<id>" or "key:<id>" names a stored user or key.
func principalExists(ctx context.Context, tx *sql.Tx, principal string) (bool, error) {
	var q string
	kind, id, _ := strings.Cut(principal, ":")
	switch kind {
	case "user":
		q = "SELECT 1 FROM users WHERE id = ?"
	case "key":
		q = "SELECT 1 FROM keys WHERE id = ?"
	default:
		return false, nil
	}
	var one int
	err := tx.QueryRowContext(ctx, q, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
