package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// SQL lists of the secret kinds that belong to keys and to tokens.
const (
	keyKinds   = "('key_token', 'key_secret')"
	tokenKinds = "('personal', 'admin', 'bootstrap')"
)

const keyCols = "id, name, format, prefix, owner, resource, role, plan, metadata, allowed_cidrs, credits, expires_at, last_used_at, created_at, created_by"

// keyRow holds a keys row as scanned; every column is nullable so that the same scan serves
// the LEFT JOIN in Resolve.
type keyRow struct {
	id, name, format, prefix, owner, resource, role, plan sql.NullString
	metadata, cidrs, credits, createdBy                   sql.NullString
	expires, lastUsed, created                            sql.NullInt64
}

func (r *keyRow) dest() []any {
	return []any{&r.id, &r.name, &r.format, &r.prefix, &r.owner, &r.resource, &r.role, &r.plan,
		&r.metadata, &r.cidrs, &r.credits, &r.expires, &r.lastUsed, &r.created, &r.createdBy}
}

func (r *keyRow) key() (store.Key, error) {
	k := store.Key{
		ID:         r.id.String,
		Name:       r.name.String,
		Format:     r.format.String,
		Prefix:     r.prefix.String,
		Owner:      r.owner.String,
		Resource:   r.resource.String,
		Role:       r.role.String,
		Plan:       r.plan.String,
		ExpiresAt:  timePtr(r.expires),
		LastUsedAt: timePtr(r.lastUsed),
		CreatedAt:  fromUnix(r.created.Int64),
		CreatedBy:  r.createdBy.String,
	}
	if err := fromJSON(r.metadata, &k.Metadata); err != nil {
		return store.Key{}, fmt.Errorf("key %s metadata: %w", k.ID, err)
	}
	if err := fromJSON(r.cidrs, &k.AllowedCIDRs); err != nil {
		return store.Key{}, fmt.Errorf("key %s allowed_cidrs: %w", k.ID, err)
	}
	if err := fromJSON(r.credits, &k.Credits); err != nil {
		return store.Key{}, fmt.Errorf("key %s credits: %w", k.ID, err)
	}
	return k, nil
}

func scanKey(row scanner) (store.Key, error) {
	var r keyRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Key{}, err
	}
	return r.key()
}

func getKey(ctx context.Context, q querier, id string) (store.Key, error) {
	return scanKey(q.QueryRowContext(ctx, "SELECT "+keyCols+" FROM keys WHERE id = ?", id))
}

// mutableKeyArgs encodes the JSON columns UpdateKey may change (and CreateKey sets): metadata,
// allowed_cidrs and credits, NULL when nil or empty.
func mutableKeyArgs(k store.Key) (metadata, cidrs, credits sql.NullString, err error) {
	if metadata, err = jsonText(k.Metadata, len(k.Metadata) == 0); err != nil {
		return
	}
	if cidrs, err = jsonText(k.AllowedCIDRs, len(k.AllowedCIDRs) == 0); err != nil {
		return
	}
	credits, err = jsonText(k.Credits, k.Credits == nil)
	return
}

// CreateKey stores k and its secret, and writes ev, in one transaction. The key's Prefix is
// secret.Prefix when that is set, else k.Prefix. The secret row takes the key's id and no user
// (whatever secret.ID and secret.UserID say); an empty secret.Kind means the one of k.Format.
// A business key (no Owner; Resource and Role set) gets its grant (Resource, "key:<id>", Role,
// CreatedAt); any other grant naming "key:<id>" is deleted first, so a new key inherits
// nothing. ErrConflict when the key id or the secret's hash is taken; ErrNotFound when k.Owner
// names no user or k.Resource no stored resource. On any error nothing is written. An id is
// free again once its key is deleted.
func (db *DB) CreateKey(ctx context.Context, k store.Key, secret store.Secret, guard store.Guard, ev store.Event) error {
	kind, err := store.KeySecretKind(secret.Kind, k.Format)
	if err != nil {
		return err
	}
	if secret.Prefix != "" {
		k.Prefix = secret.Prefix
	}
	metadata, cidrs, credits, err := mutableKeyArgs(k)
	if err != nil {
		return fmt.Errorf("sqlite: create key: %w", err)
	}
	return db.write(ctx, "create key", func(tx *sql.Tx) error {
		if err := runGuard(ctx, tx, guard); err != nil {
			return err
		}
		if k.Resource != "" {
			ok, err := resourceExists(ctx, tx, k.Resource)
			if err != nil {
				return wrap("create key", err)
			}
			if !ok {
				return fmt.Errorf("sqlite: create key: resource %q: %w", k.Resource, store.ErrNotFound)
			}
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO keys ("+keyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			k.ID, k.Name, k.Format, k.Prefix, nullString(k.Owner), nullString(k.Resource), k.Role, k.Plan,
			metadata, cidrs, credits, nullTime(k.ExpiresAt), nullTime(k.LastUsedAt), unix(k.CreatedAt), k.CreatedBy)
		if isForeignKey(err) {
			return fmt.Errorf("sqlite: create key: owner %q: %w", k.Owner, store.ErrNotFound)
		}
		if err != nil {
			return wrap("create key "+k.ID, err)
		}
		s := secret
		s.Kind, s.ID, s.UserID = kind, k.ID, ""
		if err := insertSecret(ctx, tx, "create key "+k.ID, s); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM grants WHERE principal = 'key:' || ?", k.ID); err != nil {
			return wrap("create key", err)
		}
		if k.Owner == "" && k.Resource != "" && k.Role != "" {
			g := store.Grant{Resource: k.Resource, Principal: "key:" + k.ID, Role: k.Role, CreatedAt: k.CreatedAt}
			if err := insertGrant(ctx, tx, "create key "+k.ID, g); err != nil {
				return err
			}
		}
		return insertEvent(ctx, tx, ev)
	})
}

// GetKey returns the key with id, or ErrNotFound.
func (db *DB) GetKey(ctx context.Context, id string) (store.Key, error) {
	k, err := getKey(ctx, db.r, id)
	if err != nil {
		return store.Key{}, wrap("get key", err)
	}
	return k, nil
}

// keyWhere is the SQL condition (and its arguments) for f: every set field must match.
func keyWhere(f store.KeyFilter) (string, []any) {
	cond, args := "1", []any(nil)
	if f.Within != nil {
		within, ok := refsJSON(f.Within)
		if !ok {
			return "0", nil
		}
		cond += " AND resource IN (" + subtree("type || '/' || id") + ")"
		args = append(args, within)
	}
	if f.Owner != "" {
		cond += " AND owner = ?"
		args = append(args, f.Owner)
	}
	if f.Resource != "" {
		cond += " AND resource = ?"
		args = append(args, f.Resource)
	}
	switch {
	case f.Business && f.AlsoOwner != "":
		cond += " AND (owner IS NULL OR owner = ?)"
		args = append(args, f.AlsoOwner)
	case f.Business:
		cond += " AND owner IS NULL"
	}
	return cond, args
}

// ListKeys returns up to page.Limit keys (50 when it is not positive) matching f, ordered by
// (CreatedAt, ID in byte order), strictly after the page's position. f.Resource matches that
// resource exactly; a non-nil f.Within keeps the keys whose resource is one it names or a
// descendant of one (an empty one: none); f.Business keeps only keys without an owner.
func (db *DB) ListKeys(ctx context.Context, f store.KeyFilter, page store.Page) ([]store.Key, error) {
	cond, args := keyWhere(f)
	args = append(args, unix(page.AfterCreated), unix(page.AfterCreated), page.AfterID, limitOf(page))
	rows, err := db.r.QueryContext(ctx, "SELECT "+keyCols+" FROM keys WHERE "+cond+
		" AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?", args...)
	if err != nil {
		return nil, wrap("list keys", err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, wrap("list keys", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list keys", err)
	}
	return out, nil
}

// UpdateKey reads the key, applies fn and saves Name, Metadata, ExpiresAt, Plan, Credits and
// AllowedCIDRs in one transaction with ev (its Resource, when empty, is the key's); other
// changes fn makes are dropped. It returns the
// key as stored. ErrNotFound when there is no such key; an error from fn aborts the update
// and is returned unchanged.
func (db *DB) UpdateKey(ctx context.Context, id string, fn func(*store.Key) error, ev store.Event) (store.Key, error) {
	var out store.Key
	err := db.write(ctx, "update key", func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return wrap("update key", err)
		}
		if err := fn(&k); err != nil {
			return err
		}
		metadata, cidrs, credits, err := mutableKeyArgs(k)
		if err != nil {
			return fmt.Errorf("sqlite: update key: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET name = ?, metadata = ?, expires_at = ?, plan = ?, credits = ?, allowed_cidrs = ?
			WHERE id = ?`, k.Name, metadata, nullTime(k.ExpiresAt), k.Plan, credits, cidrs, id); err != nil {
			return wrap("update key", err)
		}
		if out, err = getKey(ctx, tx, id); err != nil {
			return wrap("update key", err)
		}
		if ev.Resource == "" {
			ev.Resource = out.Resource // a business key's changes belong to its resource's trail
		}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Key{}, err
	}
	return out, nil
}

// DeleteKey removes the key, all its secrets and every grant naming it ("key:<id>"), and writes
// ev (its Resource, when empty, is the key's), in one transaction. It returns
// Revoked{KeyIDs: [id]}; ErrNotFound (and no event) when there is no such key.
func (db *DB) DeleteKey(ctx context.Context, id string, ev store.Event) (store.Revoked, error) {
	err := db.write(ctx, "delete key", func(tx *sql.Tx) error {
		if ev.Resource == "" {
			// The event belongs to the key's resource's trail, read before the key goes.
			var res sql.NullString
			if err := tx.QueryRowContext(ctx, "SELECT resource FROM keys WHERE id = ?", id).Scan(&res); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return wrap("delete key", err)
			}
			ev.Resource = res.String
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM secrets WHERE kind IN "+keyKinds+" AND id = ?", id); err != nil {
			return wrap("delete key", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM grants WHERE principal = 'key:' || ?", id); err != nil {
			return wrap("delete key", err)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM keys WHERE id = ?", id)
		if err != nil {
			return wrap("delete key", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap("delete key", err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: delete key %s: %w", id, store.ErrNotFound)
		}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return store.Revoked{KeyIDs: []string{id}}, nil
}

// errKeysFilter is DeleteKeys' answer to a filter that names no owner, no resource, no Within
// and not Business: revoking every key of the instance is never one call.
var errKeysFilter = fmt.Errorf("sqlite: DeleteKeys needs a filter with an owner, a resource, Within or Business: %w", store.ErrInvalid)

// DeleteKeys removes every key matching f (as ListKeys matches it; Owner, Resource, Within or
// Business must be set, else ErrInvalid and nothing is deleted) with all their secrets and every grant
// naming them, in one transaction, and writes one event per deleted key: ev with Target
// "key:<id>" and, when ev.Resource is empty, the key's resource. It returns the deleted ids in
// list order. No match (an empty non-nil Within included) is not an error: an empty Revoked and
// no event.
func (db *DB) DeleteKeys(ctx context.Context, f store.KeyFilter, ev store.Event) (store.Revoked, error) {
	if f.Owner == "" && f.Resource == "" && f.Within == nil && !f.Business {
		return store.Revoked{}, errKeysFilter
	}
	cond, args := keyWhere(f)
	var rev store.Revoked
	err := db.write(ctx, "delete keys", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT id, coalesce(resource, '') FROM keys WHERE "+cond+" ORDER BY created_at, id", args...)
		if err != nil {
			return wrap("delete keys", err)
		}
		var ids, resources []string
		for rows.Next() {
			var id, res string
			if err := rows.Scan(&id, &res); err != nil {
				rows.Close()
				return wrap("delete keys", err)
			}
			ids, resources = append(ids, id), append(resources, res)
		}
		if err := rows.Close(); err != nil {
			return wrap("delete keys", err)
		}
		if err := rows.Err(); err != nil {
			return wrap("delete keys", err)
		}
		if len(ids) == 0 {
			return nil
		}
		all := stringsJSON(ids)
		for _, q := range []string{
			"DELETE FROM secrets WHERE kind IN " + keyKinds + " AND id IN (SELECT value FROM json_each(?))",
			"DELETE FROM grants WHERE principal IN (SELECT 'key:' || value FROM json_each(?))",
			"DELETE FROM keys WHERE id IN (SELECT value FROM json_each(?))",
		} {
			if _, err := tx.ExecContext(ctx, q, all); err != nil {
				return wrap("delete keys", err)
			}
		}
		rev.KeyIDs = ids
		if ev.Action == "" {
			return nil
		}
		c := ancestryCache{}
		for i, id := range ids {
			e := ev
			e.Target = "key:" + id
			if e.Resource == "" {
				e.Resource = resources[i]
			}
			anc, err := c.of(ctx, tx, e.Resource)
			if err != nil {
				return wrap("delete keys", err)
			}
			if err := insertEventAncestry(ctx, tx, e, anc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return rev, nil
}

// ReissueKey gives the key a new secret in one transaction with ev. First a grace still
// running ends: the key's secret rows that already have an expiry are deleted. Then the other
// old rows are deleted (graceUntil zero) or set to expire at graceUntil. The new secret is
// stored (with the key's id, no user, and the kind of the key's format when secret.Kind is
// empty), and the key's Prefix becomes secret.Prefix when that is set. So at most two secrets
// of a key are ever live. It returns the key as stored and Revoked{Hashes: every old hash,
// deleted or now expiring}. ErrNotFound when there is no such key; ErrConflict when the new
// hash is taken.
func (db *DB) ReissueKey(ctx context.Context, id string, secret store.Secret, graceUntil time.Time, ev store.Event) (store.Key, store.Revoked, error) {
	var (
		out store.Key
		rev store.Revoked
	)
	err := db.write(ctx, "reissue key", func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return wrap("reissue key", err)
		}
		kind, err := store.KeySecretKind(secret.Kind, k.Format)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT hash FROM secrets WHERE kind IN "+keyKinds+" AND id = ? ORDER BY created_at, hash", id)
		if err != nil {
			return wrap("reissue key", err)
		}
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return wrap("reissue key", err)
			}
			h, err := hashOf(b)
			if err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: reissue key: %w", err)
			}
			rev.Hashes = append(rev.Hashes, h)
		}
		if err := rows.Close(); err != nil {
			return wrap("reissue key", err)
		}
		if err := rows.Err(); err != nil {
			return wrap("reissue key", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM secrets WHERE kind IN "+keyKinds+" AND id = ? AND expires_at IS NOT NULL", id); err != nil {
			return wrap("reissue key", err)
		}
		if graceUntil.IsZero() {
			_, err = tx.ExecContext(ctx, "DELETE FROM secrets WHERE kind IN "+keyKinds+" AND id = ?", id)
		} else {
			_, err = tx.ExecContext(ctx, "UPDATE secrets SET expires_at = ? WHERE kind IN "+keyKinds+" AND id = ?", unix(graceUntil), id)
		}
		if err != nil {
			return wrap("reissue key", err)
		}
		s := secret
		s.Kind, s.ID, s.UserID = kind, id, ""
		if err := insertSecret(ctx, tx, "reissue key", s); err != nil {
			return err
		}
		if secret.Prefix != "" {
			if _, err := tx.ExecContext(ctx, "UPDATE keys SET prefix = ? WHERE id = ?", secret.Prefix, id); err != nil {
				return wrap("reissue key", err)
			}
		}
		if out, err = getKey(ctx, tx, id); err != nil {
			return wrap("reissue key", err)
		}
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return store.Key{}, store.Revoked{}, err
	}
	return out, rev, nil
}

// TouchKeys sets each key's LastUsedAt to the later of the stored time and the given one, in
// one transaction. Unknown ids are ignored; no event is written.
func (db *DB) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return db.write(ctx, "touch keys", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, "UPDATE keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2")
		if err != nil {
			return wrap("touch keys", err)
		}
		defer stmt.Close()
		for id, at := range used {
			if _, err := stmt.ExecContext(ctx, unix(at), id); err != nil {
				return wrap("touch keys", err)
			}
		}
		return nil
	})
}
