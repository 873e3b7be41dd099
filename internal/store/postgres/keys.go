package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

// SQL lists of the secret kinds that belong to keys and to tokens.
const (
	keyKinds   = "('key_token', 'key_secret')"
	tokenKinds = "('personal', 'admin', 'bootstrap')"
)

const keyCols = "id, name, format, prefix, owner, resource, role, plan, metadata, allowed_cidrs, credits, expires_at, last_used_at, created_at, created_by"

// keySelect reads keyCols of the table alias k, the json columns as text.
const keySelect = `k.id, k.name, k.format, k.prefix, k.owner, k.resource, k.role, k.plan, k.metadata::text,
	k.allowed_cidrs::text, k.credits::text, k.expires_at, k.last_used_at, k.created_at, k.created_by`

// keyRow holds a keys row as scanned; every column is nullable so that the same scan serves
// the LEFT JOIN in Resolve.
type keyRow struct {
	id, name, format, prefix, owner, resource, role, plan *string
	metadata, cidrs, credits, createdBy                   *string
	expires, lastUsed, created                            *time.Time
}

func (r *keyRow) dest() []any {
	return []any{&r.id, &r.name, &r.format, &r.prefix, &r.owner, &r.resource, &r.role, &r.plan,
		&r.metadata, &r.cidrs, &r.credits, &r.expires, &r.lastUsed, &r.created, &r.createdBy}
}

func (r *keyRow) key() (store.Key, error) {
	k := store.Key{
		ID:         deref(r.id),
		Name:       deref(r.name),
		Format:     deref(r.format),
		Prefix:     deref(r.prefix),
		Owner:      deref(r.owner),
		Resource:   deref(r.resource),
		Role:       deref(r.role),
		Plan:       deref(r.plan),
		ExpiresAt:  utcPtr(r.expires),
		LastUsedAt: utcPtr(r.lastUsed),
		CreatedBy:  deref(r.createdBy),
	}
	if r.created != nil {
		k.CreatedAt = utc(*r.created)
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

func scanKey(row pgx.Row) (store.Key, error) {
	var r keyRow
	if err := row.Scan(r.dest()...); err != nil {
		return store.Key{}, err
	}
	return r.key()
}

func getKey(ctx context.Context, q querier, id string) (store.Key, error) {
	if !storable(id) {
		return store.Key{}, pgx.ErrNoRows
	}
	return scanKey(q.QueryRow(ctx, "SELECT "+keySelect+" FROM keys k WHERE k.id = $1", id))
}

// mutableKeyArgs encodes the JSON columns UpdateKey may change (and CreateKey sets): metadata,
// allowed_cidrs and credits, NULL when nil or empty.
func mutableKeyArgs(k store.Key) (metadata, cidrs, credits *string, err error) {
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
// free again once its key is deleted. guard may run more than once (a retried transaction).
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
		return fmt.Errorf("postgres: create key: %w", err)
	}
	return db.write(ctx, "create key", func(tx *txn) error {
		if err := runGuard(ctx, tx, guard); err != nil {
			return err
		}
		if k.Resource != "" {
			ok, err := resourceExists(ctx, tx, k.Resource)
			if err != nil {
				return wrap("create key", err)
			}
			if !ok {
				return fmt.Errorf("postgres: create key: resource %q: %w", k.Resource, store.ErrNotFound)
			}
		}
		_, err := tx.Exec(ctx, "INSERT INTO keys ("+keyCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
			k.ID, k.Name, k.Format, k.Prefix, nullString(k.Owner), nullString(k.Resource), k.Role, k.Plan,
			metadata, cidrs, credits, tsPtr(k.ExpiresAt), tsPtr(k.LastUsedAt), ts(k.CreatedAt), k.CreatedBy)
		if isForeignKey(err) {
			return fmt.Errorf("postgres: create key: owner %q: %w", k.Owner, store.ErrNotFound)
		}
		if err != nil {
			return wrap("create key "+k.ID, err)
		}
		s := secret
		s.Kind, s.ID, s.UserID = kind, k.ID, ""
		if err := insertSecret(ctx, tx, "create key "+k.ID, s); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM grants WHERE principal = 'key:' || $1", k.ID); err != nil {
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
	return read(ctx, db, "get key", func(ctx context.Context) (store.Key, error) {
		return getKey(ctx, db.pool, id)
	})
}

// keyWhere is the SQL condition on keys k for f (every set field must match), its arguments
// added to p; ok is false when f can match no key.
func keyWhere(p *params, f store.KeyFilter) (cond string, ok bool) {
	if !storable(f.Owner, f.Resource, f.AlsoOwner) {
		return "", false
	}
	cond = "true"
	if f.Within != nil {
		types, ids, ok := splitRefs(f.Within)
		if !ok {
			return "", false
		}
		cond += " AND k.resource IN (" + subtree(p, types, ids, "type || '/' || id") + ")"
	}
	if f.Owner != "" {
		cond += " AND k.owner = " + p.add(f.Owner)
	}
	if f.Resource != "" {
		cond += " AND k.resource = " + p.add(f.Resource)
	}
	switch {
	case f.Business && f.AlsoOwner != "":
		cond += " AND (k.owner IS NULL OR k.owner = " + p.add(f.AlsoOwner) + ")"
	case f.Business:
		cond += " AND k.owner IS NULL"
	}
	return cond, true
}

// ListKeys returns up to page.Limit keys (50 when it is not positive) matching f, ordered by
// (CreatedAt, ID in byte order), strictly after the page's position. f.Resource matches that
// resource exactly; a non-nil f.Within keeps the keys whose resource is one it names or a
// descendant of one (an empty one: none); f.Business keeps only keys without an owner.
func (db *DB) ListKeys(ctx context.Context, f store.KeyFilter, page store.Page) ([]store.Key, error) {
	if !storable(page.AfterID) {
		return nil, fmt.Errorf("postgres: list keys: the position %q is no key id: %w", page.AfterID, store.ErrInvalid)
	}
	var p params
	cond, ok := keyWhere(&p, f)
	if !ok {
		return nil, nil
	}
	query := "SELECT " + keySelect + " FROM keys k WHERE " + cond +
		" AND (k.created_at, k.id) > (" + p.add(pos(page.AfterCreated)) + ", " + p.add(page.AfterID) +
		") ORDER BY k.created_at, k.id LIMIT " + p.add(limitOf(page))
	return read(ctx, db, "list keys", func(ctx context.Context) ([]store.Key, error) {
		return collect(ctx, db.pool, scanKey, query, p...)
	})
}

// UpdateKey reads the key, applies fn and saves Name, Metadata, ExpiresAt, Plan, Credits and
// AllowedCIDRs in one transaction with ev (its Resource, when empty, is the key's); other
// changes fn makes are dropped. It returns the key as stored. ErrNotFound when there is no such
// key; an error from fn aborts the update and is returned unchanged. fn may run more than once
// (a retried transaction): it must only change the key it is given.
func (db *DB) UpdateKey(ctx context.Context, id string, fn func(*store.Key) error, ev store.Event) (store.Key, error) {
	var out store.Key
	err := db.write(ctx, "update key", func(tx *txn) error {
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return wrap("update key", err)
		}
		if err := fn(&k); err != nil {
			return err
		}
		metadata, cidrs, credits, err := mutableKeyArgs(k)
		if err != nil {
			return fmt.Errorf("postgres: update key: %w", err)
		}
		if out, err = scanKey(tx.QueryRow(ctx, `UPDATE keys k SET name = $1, metadata = $2, expires_at = $3, plan = $4, credits = $5, allowed_cidrs = $6
			WHERE k.id = $7 RETURNING `+keySelect, k.Name, metadata, tsPtr(k.ExpiresAt), k.Plan, credits, cidrs, id)); err != nil {
			return wrap("update key", err)
		}
		e := ev
		if e.Resource == "" {
			e.Resource = out.Resource // a business key's changes belong to its resource's trail
		}
		return insertEvent(ctx, tx, e)
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
	if !storable(id) {
		return store.Revoked{}, fmt.Errorf("postgres: delete key %s: %w", id, store.ErrNotFound)
	}
	err := db.write(ctx, "delete key", func(tx *txn) error {
		if _, err := tx.Exec(ctx, "DELETE FROM secrets WHERE kind IN "+keyKinds+" AND id = $1", id); err != nil {
			return wrap("delete key", err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM grants WHERE principal = 'key:' || $1", id); err != nil {
			return wrap("delete key", err)
		}
		var res *string
		err := tx.QueryRow(ctx, "DELETE FROM keys WHERE id = $1 RETURNING resource", id).Scan(&res)
		if errNoRows(err) {
			return fmt.Errorf("postgres: delete key %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return wrap("delete key", err)
		}
		e := ev
		if e.Resource == "" {
			e.Resource = deref(res) // the event belongs to the key's resource's trail
		}
		return insertEvent(ctx, tx, e)
	})
	if err != nil {
		return store.Revoked{}, err
	}
	return store.Revoked{KeyIDs: []string{id}}, nil
}

// errKeysFilter is DeleteKeys' answer to a filter that names no owner, no resource, no Within
// and not Business: revoking every key of the instance is never one call.
var errKeysFilter = fmt.Errorf("postgres: DeleteKeys needs a filter with an owner, a resource, Within or Business: %w", store.ErrInvalid)

// DeleteKeys removes every key matching f (as ListKeys matches it; Owner, Resource, Within or
// Business must be set, else ErrInvalid and nothing is deleted) with all their secrets and every
// grant naming them, in one transaction, and writes one event per deleted key: ev with Target
// "key:<id>" and, when ev.Resource is empty, the key's resource. It returns the deleted ids in
// list order. No match (an empty non-nil Within included) is not an error: an empty Revoked and
// no event.
func (db *DB) DeleteKeys(ctx context.Context, f store.KeyFilter, ev store.Event) (store.Revoked, error) {
	if f.Owner == "" && f.Resource == "" && f.Within == nil && !f.Business {
		return store.Revoked{}, errKeysFilter
	}
	var p params
	cond, ok := keyWhere(&p, f)
	if !ok {
		return store.Revoked{}, nil
	}
	var rev store.Revoked
	err := db.write(ctx, "delete keys", func(tx *txn) error {
		rev = store.Revoked{}
		type row struct{ id, resource string }
		rows, err := collect(ctx, tx, func(r pgx.Row) (row, error) {
			var x row
			err := r.Scan(&x.id, &x.resource)
			return x, err
		}, "SELECT k.id, coalesce(k.resource, '') FROM keys k WHERE "+cond+" ORDER BY k.created_at, k.id", p...)
		if err != nil {
			return wrap("delete keys", err)
		}
		if len(rows) == 0 {
			return nil
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.id
		}
		for _, q := range []string{
			"DELETE FROM secrets WHERE kind IN " + keyKinds + " AND id = ANY($1)",
			"DELETE FROM grants WHERE principal = ANY(SELECT 'key:' || k FROM unnest($1::text[]) AS k)",
			"DELETE FROM keys WHERE id = ANY($1)",
		} {
			if _, err := tx.Exec(ctx, q, ids); err != nil {
				return wrap("delete keys", err)
			}
		}
		rev.KeyIDs = slices.Clone(ids)
		if ev.Action == "" {
			return nil
		}
		c := ancestryCache{}
		for _, r := range rows {
			e := ev
			e.Target = "key:" + r.id
			if e.Resource == "" {
				e.Resource = r.resource
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
	err := db.write(ctx, "reissue key", func(tx *txn) error {
		rev = store.Revoked{}
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return wrap("reissue key", err)
		}
		kind, err := store.KeySecretKind(secret.Kind, k.Format)
		if err != nil {
			return err
		}
		old, err := collect(ctx, tx, func(r pgx.Row) ([]byte, error) {
			var b []byte
			err := r.Scan(&b)
			return b, err
		}, "SELECT hash FROM secrets WHERE kind IN "+keyKinds+" AND id = $1 ORDER BY created_at, hash", id)
		if err != nil {
			return wrap("reissue key", err)
		}
		for _, b := range old {
			h, err := hashOf(b)
			if err != nil {
				return fmt.Errorf("postgres: reissue key: %w", err)
			}
			rev.Hashes = append(rev.Hashes, h)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM secrets WHERE kind IN "+keyKinds+" AND id = $1 AND expires_at IS NOT NULL", id); err != nil {
			return wrap("reissue key", err)
		}
		if graceUntil.IsZero() {
			_, err = tx.Exec(ctx, "DELETE FROM secrets WHERE kind IN "+keyKinds+" AND id = $1", id)
		} else {
			_, err = tx.Exec(ctx, "UPDATE secrets SET expires_at = $1 WHERE kind IN "+keyKinds+" AND id = $2", ts(graceUntil), id)
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
			if _, err := tx.Exec(ctx, "UPDATE keys SET prefix = $1 WHERE id = $2", secret.Prefix, id); err != nil {
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
// one statement. Unknown ids are ignored; no event is written. It runs at READ COMMITTED, not
// SERIALIZABLE: it is bookkeeping that no change decides on, and each row's update reads the
// row's latest version, so two nodes touching the same key keep the later time.
func (db *DB) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	ids := make([]string, 0, len(used))
	for id := range used {
		if storable(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // one lock order for every node: no deadlock between two batches
	times := make([]time.Time, len(ids))
	for i, id := range ids {
		times[i] = ts(used[id])
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.inTx(ctx, "touch keys", pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, changeRetries, func(tx *txn) error {
		_, err := tx.Exec(ctx, `WITH u AS (SELECT id COLLATE "C" AS id, at FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)),
			locked AS (SELECT k.id FROM keys k JOIN u ON k.id = u.id ORDER BY k.id FOR UPDATE OF k)
			UPDATE keys k SET last_used_at = greatest(coalesce(k.last_used_at, u.at), u.at)
			FROM u WHERE k.id = u.id AND k.id IN (SELECT id FROM locked)`, ids, times)
		return wrap("touch keys", err)
	})
}
