package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

const resourceCols = "type, id, name, parent_type, parent_id, plan, created_at"

// maxDepth bounds the walk up a resource's ancestors. The tree has no cycles (UpdateResource
// refuses them); the bound only keeps a damaged database from looping.
const maxDepth = 4096

// params collects the arguments of a statement built piece by piece and numbers their
// placeholders.
type params []any

// add appends v and returns its placeholder.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// subtree is a query over a recursive table sub(type, id) holding the resources (types[i],
// ids[i]) — stored or not — and every stored descendant of them; sel is its select list, e.g.
// "type, id".
func subtree(p *params, types, ids []string, sel string) string {
	return `WITH RECURSIVE sub(type, id) AS (
		SELECT t COLLATE "C", i COLLATE "C" FROM unnest(` + p.add(types) + `::text[], ` + p.add(ids) + `::text[]) AS u(t, i)
		UNION
		SELECT r.type, r.id FROM resources r JOIN sub ON r.parent_type = sub.type AND r.parent_id = sub.id)
	SELECT ` + sel + ` FROM sub`
}

func scanResource(row pgx.Row) (store.Resource, error) {
	var (
		r                 store.Resource
		parentT, parentID *string
		created           time.Time
	)
	if err := row.Scan(&r.Type, &r.ID, &r.Name, &parentT, &parentID, &r.Plan, &created); err != nil {
		return store.Resource{}, err
	}
	if parentT != nil && parentID != nil {
		r.Parent = *parentT + "/" + *parentID
	}
	r.CreatedAt = utc(created)
	return r, nil
}

// getResource reads the resource ref; pgx.ErrNoRows when there is none (or ref cannot name
// one).
func getResource(ctx context.Context, q querier, ref string) (store.Resource, error) {
	typ, id, ok := splitRef(ref)
	if !ok || !storable(ref) {
		return store.Resource{}, pgx.ErrNoRows
	}
	return scanResource(q.QueryRow(ctx, "SELECT "+resourceCols+" FROM resources WHERE type = $1 AND id = $2", typ, id))
}

// parentArgs are the parent_type and parent_id columns of a resource whose parent is ref
// (NULL for ""); ok is false when ref cannot name a resource.
func parentArgs(ref string) (typ, id *string, ok bool) {
	if ref == "" {
		return nil, nil, true
	}
	t, i, ok := splitRef(ref)
	if !ok || !storable(ref) {
		return nil, nil, false
	}
	return &t, &i, true
}

// ancestors returns the refs of ref's stored ancestors and of ref itself, root first; nil when
// ref is no stored resource.
func ancestors(ctx context.Context, q querier, ref string) ([]string, error) {
	typ, id, ok := splitRef(ref)
	if !ok || !storable(ref) {
		return nil, nil
	}
	return queryStrings(ctx, q, `WITH RECURSIVE up(type, id, depth) AS (
			SELECT type, id, 0 FROM resources WHERE type = $1 AND id = $2
			UNION ALL
			SELECT r.parent_type, r.parent_id, up.depth + 1 FROM resources r JOIN up ON r.type = up.type AND r.id = up.id
			WHERE r.parent_type IS NOT NULL AND up.depth < $3)
		SELECT type || '/' || id FROM up ORDER BY depth DESC`, typ, id, maxDepth)
}

// resourceExists reports whether ref is a stored resource.
func resourceExists(ctx context.Context, q querier, ref string) (bool, error) {
	typ, id, ok := splitRef(ref)
	if !ok || !storable(ref) {
		return false, nil
	}
	var exists bool
	err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM resources WHERE type = $1 AND id = $2)", typ, id).Scan(&exists)
	return exists, err
}

// CreateResource stores r and writes ev, in one transaction; ev's ancestry includes r. r.Type
// and r.ID must be non-empty and r.Type must not contain '/' (else ErrInvalid): "type/id" has
// to name r unambiguously. ErrConflict when the type/id is taken; ErrNotFound when r.Parent is
// set and names no stored resource. On any error nothing is written. Types and which type may
// parent which are not checked here.
func (db *DB) CreateResource(ctx context.Context, r store.Resource, ev store.Event) error {
	if r.Type == "" || r.ID == "" || strings.Contains(r.Type, "/") {
		return fmt.Errorf("postgres: create resource: %q is no type/id: %w", r.Ref(), store.ErrInvalid)
	}
	parentT, parentID, ok := parentArgs(r.Parent)
	if !ok {
		return fmt.Errorf("postgres: create resource: parent %q: %w", r.Parent, store.ErrNotFound)
	}
	return db.write(ctx, "create resource", func(tx *txn) error {
		_, err := tx.Exec(ctx, "INSERT INTO resources ("+resourceCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
			r.Type, r.ID, r.Name, parentT, parentID, r.Plan, ts(r.CreatedAt))
		if isForeignKey(err) {
			return fmt.Errorf("postgres: create resource: parent %q: %w", r.Parent, store.ErrNotFound)
		}
		if err != nil {
			return wrap("create resource "+r.Ref(), err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetResource returns the resource "type/id", or ErrNotFound.
func (db *DB) GetResource(ctx context.Context, ref string) (store.Resource, error) {
	return read(ctx, db, "get resource", func(ctx context.Context) (store.Resource, error) {
		return getResource(ctx, db.pool, ref)
	})
}

// ListResources returns up to page.Limit resources (50 when it is not positive) matching every
// set field of f, ordered by (CreatedAt, ID, Type, both in byte order), strictly after the
// page's position, whose AfterID is the "type/id" of the last resource seen ("" starts at the
// first of AfterCreated's second; anything else that is no type/id is an error). f.Type
// matches exactly; f.Parent keeps the direct children of that resource; a non-nil f.Within
// keeps the resources it names and all their descendants (an empty one: nothing).
func (db *DB) ListResources(ctx context.Context, f store.ResourceFilter, page store.Page) ([]store.Resource, error) {
	var afterT, afterID string
	if page.AfterID != "" {
		var ok bool
		if afterT, afterID, ok = splitRef(page.AfterID); !ok || !storable(page.AfterID) {
			return nil, fmt.Errorf("postgres: list resources: %q is no type/id", page.AfterID)
		}
	}
	var p params
	cond := "true"
	if f.Type != "" {
		if !storable(f.Type) {
			return nil, nil
		}
		cond += " AND type = " + p.add(f.Type)
	}
	if f.Parent != "" {
		t, i, ok := splitRef(f.Parent)
		if !ok || !storable(f.Parent) {
			return nil, nil
		}
		cond += " AND parent_type = " + p.add(t) + " AND parent_id = " + p.add(i)
	}
	if f.Within != nil {
		types, ids, ok := splitRefs(f.Within)
		if !ok {
			return nil, nil
		}
		cond += " AND (type, id) IN (" + subtree(&p, types, ids, "type, id") + ")"
	}
	query := "SELECT " + resourceCols + " FROM resources WHERE " + cond +
		" AND (created_at, id, type) > (" + p.add(pos(page.AfterCreated)) + ", " + p.add(afterID) + ", " + p.add(afterT) +
		") ORDER BY created_at, id, type LIMIT " + p.add(limitOf(page))
	return read(ctx, db, "list resources", func(ctx context.Context) ([]store.Resource, error) {
		return collect(ctx, db.pool, scanResource, query, p...)
	})
}

// UpdateResource reads the resource, applies fn and saves Name, Plan and Parent in one
// transaction with ev; other changes fn makes are dropped. It returns the resource as stored.
// ErrNotFound when there is no such resource (fn is not called) or when a changed Parent names
// no stored resource; ErrInvalid when the new Parent is the resource itself or one of its
// descendants. An error from fn or guard (run after fn) aborts the update and is returned
// unchanged. When the parent changes, ev's ancestry names ev.Resource's ancestors both before
// and after the move, so the event is found under the old place and the new one.
func (db *DB) UpdateResource(ctx context.Context, ref string, fn func(*store.Resource) error, guard store.Guard, ev store.Event) (store.Resource, error) {
	var out store.Resource
	err := db.write(ctx, "update resource", func(tx *txn) error {
		r, err := getResource(ctx, tx, ref)
		if err != nil {
			return wrap("update resource", err)
		}
		self, oldParent := r.Ref(), r.Parent
		if err := fn(&r); err != nil {
			return err
		}
		if err := runGuard(ctx, tx, guard); err != nil {
			return err
		}
		parentT, parentID, ok := parentArgs(r.Parent)
		if !ok {
			return fmt.Errorf("postgres: update resource %s: parent %q: %w", self, r.Parent, store.ErrNotFound)
		}
		var before string
		if r.Parent != oldParent {
			if r.Parent != "" {
				up, err := ancestors(ctx, tx, r.Parent)
				if err != nil {
					return wrap("update resource", err)
				}
				if len(up) == 0 {
					return fmt.Errorf("postgres: update resource %s: parent %q: %w", self, r.Parent, store.ErrNotFound)
				}
				if slices.Contains(up, self) {
					return fmt.Errorf("postgres: update resource %s: %s is itself or below it: %w", self, r.Parent, store.ErrInvalid)
				}
			}
			if ev.Action != "" {
				if before, err = ancestry(ctx, tx, ev.Resource); err != nil {
					return wrap("update resource", err)
				}
			}
		}
		typ, id, _ := splitRef(self)
		if _, err := tx.Exec(ctx, "UPDATE resources SET name = $1, plan = $2, parent_type = $3, parent_id = $4 WHERE type = $5 AND id = $6",
			r.Name, r.Plan, parentT, parentID, typ, id); err != nil {
			if isForeignKey(err) {
				return fmt.Errorf("postgres: update resource %s: parent %q: %w", self, r.Parent, store.ErrNotFound)
			}
			return wrap("update resource", err)
		}
		if out, err = getResource(ctx, tx, self); err != nil {
			return wrap("update resource", err)
		}
		if ev.Action == "" {
			return nil
		}
		after, err := ancestry(ctx, tx, ev.Resource)
		if err != nil {
			return wrap("update resource", err)
		}
		return insertEventAncestry(ctx, tx, ev, mergeAncestry(before, after))
	})
	if err != nil {
		return store.Resource{}, err
	}
	return out, nil
}

// DeleteResource removes the resource ref and all its descendants, every grant on any of them,
// and every key whose Resource is any of them with the keys' secrets and every grant naming
// those keys, and writes ev, in one transaction. ev's ancestry is computed before anything is
// deleted, so the event is found under the deleted resources' ancestors. It returns
// Revoked{Resources: the deleted resources, KeyIDs: the deleted keys}, each in list order.
// ErrNotFound (and no event) when there is no such resource. An error of guard, run once the
// resource is found, aborts the deletion and is returned unchanged.
func (db *DB) DeleteResource(ctx context.Context, ref string, guard store.Guard, ev store.Event) (store.Revoked, error) {
	types, ids, ok := splitRefs([]string{ref})
	if !ok {
		return store.Revoked{}, fmt.Errorf("postgres: delete resource %s: %w", ref, store.ErrNotFound)
	}
	var rev store.Revoked
	err := db.write(ctx, "delete resource", func(tx *txn) error {
		var p params
		refs, err := queryStrings(ctx, tx, "SELECT r.type || '/' || r.id FROM resources r WHERE (r.type, r.id) IN ("+
			subtree(&p, types, ids, "type, id")+") ORDER BY r.created_at, r.id, r.type", p...)
		if err != nil {
			return wrap("delete resource", err)
		}
		if !slices.Contains(refs, ref) {
			return fmt.Errorf("postgres: delete resource %s: %w", ref, store.ErrNotFound)
		}
		if err := runGuard(ctx, tx, guard); err != nil {
			return err
		}
		var anc string
		if ev.Action != "" {
			if anc, err = ancestry(ctx, tx, ev.Resource); err != nil {
				return wrap("delete resource", err)
			}
		}
		keyIDs, err := queryStrings(ctx, tx, "SELECT id FROM keys WHERE resource = ANY($1) ORDER BY created_at, id", refs)
		if err != nil {
			return wrap("delete resource", err)
		}
		keys := keyIDs
		if keys == nil {
			keys = []string{}
		}
		var grants int64
		for i, st := range []struct {
			q   string
			arg []string
		}{
			{"DELETE FROM grants WHERE resource = ANY($1)", refs},
			{"DELETE FROM grants WHERE principal = ANY(SELECT 'key:' || k FROM unnest($1::text[]) AS k)", keys},
			{"DELETE FROM secrets WHERE kind IN " + keyKinds + " AND id = ANY($1)", keys},
			{"DELETE FROM keys WHERE id = ANY($1)", keys},
			{`DELETE FROM resources WHERE (type, id) IN (SELECT split_part(r, '/', 1), substr(r, strpos(r, '/') + 1)
				FROM unnest($1::text[]) AS r)`, refs},
		} {
			tag, err := tx.Exec(ctx, st.q, st.arg)
			if err != nil {
				return wrap("delete resource", err)
			}
			if i == 0 {
				grants = tag.RowsAffected()
			}
		}
		rev = store.Revoked{Resources: refs, KeyIDs: keyIDs}
		if ev.Detail == "" {
			ev.Detail = fmt.Sprintf("deleted %d resources (itself and %d below it), %d grants on them, %d keys confined to them",
				len(refs), len(refs)-1, grants, len(keyIDs))
		}
		return insertEventAncestry(ctx, tx, ev, anc)
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return rev, nil
}

// errNoRows reports whether err is pgx's "no rows".
func errNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
