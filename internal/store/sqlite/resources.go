package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lanyardhq/lanyard/internal/store"
)

const resourceCols = "type, id, name, parent_type, parent_id, plan, created_at"

// maxDepth bounds the walk up a resource's ancestors. The tree has no cycles (UpdateResource
// refuses them); the bound only keeps a damaged database from looping.
const maxDepth = 4096

// splitRef splits "type/id" at its first '/'. ok is false unless both parts are non-empty: such
// a string names no resource.
func splitRef(ref string) (typ, id string, ok bool) {
	typ, id, ok = strings.Cut(ref, "/")
	return typ, id, ok && typ != "" && id != ""
}

// refsJSON encodes the refs that can name a resource (see splitRef) as a JSON array for
// json_each; ok is false when there is none.
func refsJSON(refs []string) (string, bool) {
	valid := make([]string, 0, len(refs))
	for _, ref := range refs {
		if _, _, ok := splitRef(ref); ok {
			valid = append(valid, ref)
		}
	}
	if len(valid) == 0 {
		return "", false
	}
	b, _ := json.Marshal(valid) // strings always encode
	return string(b), true
}

// stringsJSON encodes ss as a JSON array for json_each (an empty array, never null).
func stringsJSON(ss []string) string {
	if len(ss) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ss) // strings always encode
	return string(b)
}

// refPairs selects (type, id) pairs from a JSON array of valid refs bound to its one
// placeholder.
const refPairs = "SELECT substr(value, 1, instr(value, '/') - 1), substr(value, instr(value, '/') + 1) FROM json_each(?)"

// subtree is a query over a recursive table sub(type, id) holding the refs of a JSON array
// bound to its one placeholder (see refsJSON; whether or not they are stored resources) and
// every stored descendant of them; sel is its select list, e.g. "type, id".
func subtree(sel string) string {
	return `WITH RECURSIVE sub(type, id) AS (` + refPairs + `
		UNION
		SELECT r.type, r.id FROM resources r JOIN sub ON r.parent_type = sub.type AND r.parent_id = sub.id)
	SELECT ` + sel + ` FROM sub`
}

func scanResource(row scanner) (store.Resource, error) {
	var (
		r                 store.Resource
		parentT, parentID sql.NullString
		created           int64
	)
	if err := row.Scan(&r.Type, &r.ID, &r.Name, &parentT, &parentID, &r.Plan, &created); err != nil {
		return store.Resource{}, err
	}
	if parentT.Valid {
		r.Parent = parentT.String + "/" + parentID.String
	}
	r.CreatedAt = fromUnix(created)
	return r, nil
}

// getResource reads the resource ref; sql.ErrNoRows when there is none (or ref cannot name
// one).
func getResource(ctx context.Context, q querier, ref string) (store.Resource, error) {
	typ, id, ok := splitRef(ref)
	if !ok {
		return store.Resource{}, sql.ErrNoRows
	}
	return scanResource(q.QueryRowContext(ctx, "SELECT "+resourceCols+" FROM resources WHERE type = ? AND id = ?", typ, id))
}

// parentArgs are the parent_type and parent_id columns of a resource whose parent is ref
// (NULL for ""); ok is false when ref cannot name a resource.
func parentArgs(ref string) (typ, id sql.NullString, ok bool) {
	if ref == "" {
		return typ, id, true
	}
	t, i, ok := splitRef(ref)
	if !ok {
		return typ, id, false
	}
	return sql.NullString{String: t, Valid: true}, sql.NullString{String: i, Valid: true}, true
}

// ancestors returns the refs of ref's stored ancestors and of ref itself, root first; nil when
// ref is no stored resource.
func ancestors(ctx context.Context, q querier, ref string) ([]string, error) {
	typ, id, ok := splitRef(ref)
	if !ok {
		return nil, nil
	}
	up, err := queryStrings(ctx, q, `WITH RECURSIVE up(type, id, depth) AS (
			SELECT type, id, 0 FROM resources WHERE type = ? AND id = ?
			UNION ALL
			SELECT r.parent_type, r.parent_id, up.depth + 1 FROM resources r JOIN up ON r.type = up.type AND r.id = up.id
			WHERE r.parent_type IS NOT NULL AND up.depth < ?)
		SELECT type || '/' || id FROM up ORDER BY depth DESC`, typ, id, maxDepth)
	if err != nil {
		return nil, err
	}
	return up, nil
}

// resourceExists reports whether ref is a stored resource.
func resourceExists(ctx context.Context, q querier, ref string) (bool, error) {
	typ, id, ok := splitRef(ref)
	if !ok {
		return false, nil
	}
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM resources WHERE type = ? AND id = ?", typ, id).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// CreateResource stores r and writes ev, in one transaction; ev's ancestry includes r. r.Type
// and r.ID must be non-empty and r.Type must not contain '/' (else ErrInvalid): "type/id" has
// to name r unambiguously. ErrConflict when the type/id is taken; ErrNotFound when r.Parent is
// set and names no stored resource. On any error nothing is written. Types and which type may
// parent which are not checked here.
func (db *DB) CreateResource(ctx context.Context, r store.Resource, ev store.Event) error {
	if r.Type == "" || r.ID == "" || strings.Contains(r.Type, "/") {
		return fmt.Errorf("sqlite: create resource: %q is no type/id: %w", r.Ref(), store.ErrInvalid)
	}
	parentT, parentID, ok := parentArgs(r.Parent)
	if !ok {
		return fmt.Errorf("sqlite: create resource: parent %q: %w", r.Parent, store.ErrNotFound)
	}
	return db.write(ctx, "create resource", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO resources ("+resourceCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			r.Type, r.ID, r.Name, parentT, parentID, r.Plan, unix(r.CreatedAt))
		if isForeignKey(err) {
			return fmt.Errorf("sqlite: create resource: parent %q: %w", r.Parent, store.ErrNotFound)
		}
		if err != nil {
			return wrap("create resource "+r.Ref(), err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetResource returns the resource "type/id", or ErrNotFound.
func (db *DB) GetResource(ctx context.Context, ref string) (store.Resource, error) {
	r, err := getResource(ctx, db.r, ref)
	if err != nil {
		return store.Resource{}, wrap("get resource", err)
	}
	return r, nil
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
		if afterT, afterID, ok = splitRef(page.AfterID); !ok {
			return nil, fmt.Errorf("sqlite: list resources: %q is no type/id", page.AfterID)
		}
	}
	cond, args := "1", []any(nil)
	if f.Type != "" {
		cond += " AND type = ?"
		args = append(args, f.Type)
	}
	if f.Parent != "" {
		t, i, ok := splitRef(f.Parent)
		if !ok {
			return nil, nil
		}
		cond += " AND parent_type = ? AND parent_id = ?"
		args = append(args, t, i)
	}
	if f.Within != nil {
		within, ok := refsJSON(f.Within)
		if !ok {
			return nil, nil
		}
		cond += " AND (type, id) IN (" + subtree("type, id") + ")"
		args = append(args, within)
	}
	args = append(args, unix(page.AfterCreated), afterID, afterT, limitOf(page))
	rows, err := db.r.QueryContext(ctx, "SELECT "+resourceCols+" FROM resources WHERE "+cond+
		" AND (created_at, id, type) > (?, ?, ?) ORDER BY created_at, id, type LIMIT ?", args...)
	if err != nil {
		return nil, wrap("list resources", err)
	}
	defer rows.Close()
	var out []store.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, wrap("list resources", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list resources", err)
	}
	return out, nil
}

// UpdateResource reads the resource, applies fn and saves Name, Plan and Parent in one
// transaction with ev; other changes fn makes are dropped. It returns the resource as stored.
// ErrNotFound when there is no such resource (fn is not called) or when a changed Parent names
// no stored resource; ErrInvalid when the new Parent is the resource itself or one of its
// descendants. An error from fn or guard (run after fn) aborts the update and is returned unchanged. When the parent
// changes, ev's ancestry names ev.Resource's ancestors both before and after the move, so the
// event is found under the old place and the new one.
func (db *DB) UpdateResource(ctx context.Context, ref string, fn func(*store.Resource) error, guard store.Guard, ev store.Event) (store.Resource, error) {
	var out store.Resource
	err := db.write(ctx, "update resource", func(tx *sql.Tx) error {
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
			return fmt.Errorf("sqlite: update resource %s: parent %q: %w", self, r.Parent, store.ErrNotFound)
		}
		var before string
		if r.Parent != oldParent {
			if r.Parent != "" {
				up, err := ancestors(ctx, tx, r.Parent)
				if err != nil {
					return wrap("update resource", err)
				}
				if len(up) == 0 {
					return fmt.Errorf("sqlite: update resource %s: parent %q: %w", self, r.Parent, store.ErrNotFound)
				}
				if slices.Contains(up, self) {
					return fmt.Errorf("sqlite: update resource %s: %s is itself or below it: %w", self, r.Parent, store.ErrInvalid)
				}
			}
			if ev.Action != "" {
				if before, err = ancestry(ctx, tx, ev.Resource); err != nil {
					return wrap("update resource", err)
				}
			}
		}
		typ, id, _ := splitRef(self)
		if _, err := tx.ExecContext(ctx, "UPDATE resources SET name = ?, plan = ?, parent_type = ?, parent_id = ? WHERE type = ? AND id = ?",
			r.Name, r.Plan, parentT, parentID, typ, id); err != nil {
			if isForeignKey(err) {
				return fmt.Errorf("sqlite: update resource %s: parent %q: %w", self, r.Parent, store.ErrNotFound)
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
	var rev store.Revoked
	err := db.write(ctx, "delete resource", func(tx *sql.Tx) error {
		root, ok := refsJSON([]string{ref})
		if !ok {
			return fmt.Errorf("sqlite: delete resource %s: %w", ref, store.ErrNotFound)
		}
		refs, err := queryStrings(ctx, tx, "SELECT r.type || '/' || r.id FROM resources r WHERE (r.type, r.id) IN ("+
			subtree("type, id")+") ORDER BY r.created_at, r.id, r.type", root)
		if err != nil {
			return wrap("delete resource", err)
		}
		if !slices.Contains(refs, ref) {
			return fmt.Errorf("sqlite: delete resource %s: %w", ref, store.ErrNotFound)
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
		all := stringsJSON(refs)
		keyIDs, err := queryStrings(ctx, tx, "SELECT id FROM keys WHERE resource IN (SELECT value FROM json_each(?)) ORDER BY created_at, id", all)
		if err != nil {
			return wrap("delete resource", err)
		}
		keys := stringsJSON(keyIDs)
		var grants int64
		for i, st := range []struct{ q, arg string }{
			{"DELETE FROM grants WHERE resource IN (SELECT value FROM json_each(?))", all},
			{"DELETE FROM grants WHERE principal IN (SELECT 'key:' || value FROM json_each(?))", keys},
			{"DELETE FROM secrets WHERE kind IN " + keyKinds + " AND id IN (SELECT value FROM json_each(?))", keys},
			{"DELETE FROM keys WHERE id IN (SELECT value FROM json_each(?))", keys},
			{"DELETE FROM resources WHERE (type, id) IN (" + refPairs + ")", all},
		} {
			res, err := tx.ExecContext(ctx, st.q, st.arg)
			if err != nil {
				return wrap("delete resource", err)
			}
			if i == 0 {
				if grants, err = res.RowsAffected(); err != nil {
					return wrap("delete resource", err)
				}
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
