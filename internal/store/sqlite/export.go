package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"

	"github.com/lanyardhq/lanyard/internal/store"
)

// exportQueries read every table in Export's order; the columns of each are those its scanner
// in export reads.
var exportQueries = struct{ meta, users, resources, keys, secrets, revoked, scoped, grants, usage, events string }{
	meta:  "SELECT name, value FROM meta ORDER BY name",
	users: "SELECT " + userCols + " FROM users ORDER BY created_at, id",
	resources: `WITH RECURSIVE tree(type, id, depth) AS (
			SELECT type, id, 0 FROM resources WHERE parent_type IS NULL
			UNION ALL
			SELECT r.type, r.id, tree.depth + 1 FROM resources r JOIN tree ON r.parent_type = tree.type AND r.parent_id = tree.id
			WHERE tree.depth < ` + fmt.Sprint(maxDepth) + `)
		SELECT r.type, r.id, r.name, r.parent_type, r.parent_id, r.plan, r.created_at
		FROM resources r JOIN tree ON tree.type = r.type AND tree.id = r.id
		ORDER BY tree.depth, r.created_at, r.id, r.type`,
	keys:    "SELECT " + keyCols + " FROM keys ORDER BY created_at, id",
	secrets: "SELECT hash, kind, id, user_id, expires_at, created_at FROM secrets ORDER BY created_at, id, hash",
	revoked: "SELECT hash, at FROM revoked ORDER BY at, hash",
	scoped:  "SELECT " + scopedCols + " FROM scoped_tokens ORDER BY created_at, id",
	grants:  "SELECT " + grantCols + " FROM grants ORDER BY resource, principal",
	usage:   "SELECT key_id, hour, requests, refusals FROM key_usage ORDER BY key_id, hour",
	events: `SELECT seq, at, actor, credential, action, target, resource, result, ip, count, detail, ancestry
		FROM events ORDER BY seq`,
}

// Export reads the whole store in one read transaction (a snapshot: WAL lets writers go on
// meanwhile) and calls fn with each record, in the order store.Store documents. An event
// written before migration 0002, which has no ancestry, is exported under its own resource,
// which is what finds it.
func (db *DB) Export(ctx context.Context, fn func(store.Record) error) error {
	tx, err := db.r.BeginTx(ctx, nil) // the read pool is query_only
	if err != nil {
		return wrap("export", err)
	}
	defer tx.Rollback()
	each := func(query string, scan func(scanner) (store.Record, error)) error {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return wrap("export", err)
		}
		defer rows.Close()
		for rows.Next() {
			rec, err := scan(rows)
			if err != nil {
				return wrap("export", err)
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		return wrap("export", rows.Err())
	}
	steps := []struct {
		query string
		scan  func(scanner) (store.Record, error)
	}{
		{exportQueries.meta, func(r scanner) (store.Record, error) {
			var m store.Meta
			err := r.Scan(&m.Name, &m.Value)
			return store.Record{Meta: &m}, err
		}},
		{exportQueries.users, func(r scanner) (store.Record, error) {
			u, err := scanUser(r)
			return store.Record{User: &u}, err
		}},
		{exportQueries.resources, func(r scanner) (store.Record, error) {
			res, err := scanResource(r)
			return store.Record{Resource: &res}, err
		}},
		{exportQueries.keys, func(r scanner) (store.Record, error) {
			k, err := scanKey(r)
			return store.Record{Key: &k}, err
		}},
		{exportQueries.secrets, func(r scanner) (store.Record, error) {
			var (
				s       store.Secret
				b       []byte
				userID  sql.NullString
				expires sql.NullInt64
				created int64
			)
			if err := r.Scan(&b, &s.Kind, &s.ID, &userID, &expires, &created); err != nil {
				return store.Record{}, err
			}
			h, err := hashOf(b)
			if err != nil {
				return store.Record{}, err
			}
			s.Hash, s.UserID, s.ExpiresAt, s.CreatedAt = h, userID.String, timePtr(expires), fromUnix(created)
			return store.Record{Secret: &s}, nil
		}},
		{exportQueries.revoked, func(r scanner) (store.Record, error) {
			var (
				b  []byte
				at int64
			)
			if err := r.Scan(&b, &at); err != nil {
				return store.Record{}, err
			}
			h, err := hashOf(b)
			return store.Record{Revoked: &store.RevokedHash{Hash: h, At: fromUnix(at)}}, err
		}},
		{exportQueries.scoped, func(r scanner) (store.Record, error) {
			var (
				t                store.ScopedToken
				b                []byte
				parent           sql.NullString
				expires, created int64
			)
			if err := r.Scan(&b, &t.ID, &t.Type, &t.Resource, &t.Credential, &parent, &expires, &created); err != nil {
				return store.Record{}, err
			}
			h, err := hashOf(b)
			t.Hash, t.Parent, t.ExpiresAt, t.CreatedAt = h, parent.String, fromUnix(expires), fromUnix(created)
			return store.Record{Scoped: &t}, err
		}},
		{exportQueries.grants, func(r scanner) (store.Record, error) {
			g, err := scanGrant(r)
			return store.Record{Grant: &g}, err
		}},
		{exportQueries.usage, func(r scanner) (store.Record, error) {
			var (
				u    store.UsageHour
				hour int64
			)
			err := r.Scan(&u.KeyID, &hour, &u.Requests, &u.Refusals)
			u.Hour = fromUnix(hour)
			return store.Record{Usage: &u}, err
		}},
		{exportQueries.events, func(r scanner) (store.Record, error) {
			var (
				ev      store.Event
				seq, at int64
				anc     sql.NullString
			)
			if err := r.Scan(&seq, &at, &ev.Actor, &ev.Credential, &ev.Action, &ev.Target, &ev.Resource,
				&ev.Result, &ev.IP, &ev.Count, &ev.Detail, &anc); err != nil {
				return store.Record{}, err
			}
			ev.ID, ev.At = eventID(seq), fromUnix(at)
			rec := store.Record{Event: &ev, Ancestry: splitAncestry(anc.String)}
			if !anc.Valid && ev.Resource != "" {
				rec.Ancestry = []string{ev.Resource}
			}
			return rec, nil
		}},
	}
	for _, st := range steps {
		if err := each(st.query, st.scan); err != nil {
			return err
		}
	}
	return nil
}

// splitAncestry lists the refs an events.ancestry names, in order; nil for none.
func splitAncestry(anc string) []string {
	var refs []string
	for _, ref := range strings.Split(strings.Trim(anc, "|"), "|") {
		if ref != "" {
			refs = append(refs, ref)
		}
	}
	return refs
}

// errNotEmpty is Import's answer to a store that holds records already.
var errNotEmpty = fmt.Errorf("sqlite: import: the store is not empty: %w", store.ErrConflict)

// Import writes records into the empty store in one write transaction, as store.Store
// documents. A user's email_norm is computed from its email, as CreateUser does. An event's
// ancestry is written from Record.Ancestry, with its rows of event_resources.
func (db *DB) Import(ctx context.Context, records iter.Seq2[store.Record, error]) error {
	return db.write(ctx, "import", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM resources) +
			(SELECT count(*) FROM keys) + (SELECT count(*) FROM secrets) + (SELECT count(*) FROM revoked) +
			(SELECT count(*) FROM scoped_tokens) + (SELECT count(*) FROM grants) + (SELECT count(*) FROM events)`).Scan(&n); err != nil {
			return wrap("import", err)
		}
		if n > 0 {
			return errNotEmpty
		}
		for rec, err := range records {
			if err != nil {
				return err
			}
			if err := importRecord(ctx, tx, rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// importRecord writes one record in tx.
func importRecord(ctx context.Context, tx *sql.Tx, rec store.Record) error {
	var err error
	switch {
	case rec.Meta != nil:
		if err := rec.Meta.Check(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
			rec.Meta.Name, rec.Meta.Value)
	case rec.User != nil:
		u := *rec.User
		_, err = tx.ExecContext(ctx, "INSERT INTO users ("+userCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			u.ID, u.Email, store.NormalizeEmail(u.Email), u.Name, u.PasswordHash, boolInt(u.Admin), unix(u.CreatedAt), unix(u.UpdatedAt))
	case rec.Resource != nil:
		r := *rec.Resource
		parentT, parentID, ok := parentArgs(r.Parent)
		if r.Type == "" || r.ID == "" || strings.Contains(r.Type, "/") || !ok {
			return fmt.Errorf("sqlite: import: resource %q (parent %q) is no type/id: %w", r.Ref(), r.Parent, store.ErrInvalid)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO resources ("+resourceCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			r.Type, r.ID, r.Name, parentT, parentID, r.Plan, unix(r.CreatedAt))
	case rec.Key != nil:
		k := *rec.Key
		metadata, cidrs, credits, jerr := mutableKeyArgs(k)
		if jerr != nil {
			return fmt.Errorf("sqlite: import: key %s: %w", k.ID, jerr)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO keys ("+keyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			k.ID, k.Name, k.Format, k.Prefix, nullString(k.Owner), nullString(k.Resource), k.Role, k.Plan,
			metadata, cidrs, credits, nullTime(k.ExpiresAt), nullTime(k.LastUsedAt), unix(k.CreatedAt), k.CreatedBy)
	case rec.Secret != nil:
		s := *rec.Secret
		_, err = tx.ExecContext(ctx, "INSERT INTO secrets (hash, kind, id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			s.Hash[:], s.Kind, s.ID, nullString(s.UserID), nullTime(s.ExpiresAt), unix(s.CreatedAt))
	case rec.Revoked != nil:
		_, err = tx.ExecContext(ctx, "INSERT INTO revoked (hash, at) VALUES (?, ?)", rec.Revoked.Hash[:], unix(rec.Revoked.At))
	case rec.Scoped != nil:
		t := *rec.Scoped
		_, err = tx.ExecContext(ctx, "INSERT INTO scoped_tokens ("+scopedCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			t.Hash[:], t.ID, t.Type, t.Resource, t.Credential, nullString(t.Parent), unix(t.ExpiresAt), unix(t.CreatedAt))
	case rec.Grant != nil:
		g := *rec.Grant
		_, err = tx.ExecContext(ctx, "INSERT INTO grants ("+grantCols+") VALUES (?, ?, ?, ?)",
			g.Resource, g.Principal, g.Role, unix(g.CreatedAt))
	case rec.Usage != nil:
		u := *rec.Usage
		if err := u.Check(); err != nil {
			return fmt.Errorf("sqlite: import: %w", err)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO key_usage (key_id, hour, requests, refusals) VALUES (?, ?, ?, ?)",
			u.KeyID, unix(store.HourOf(u.Hour)), u.Requests, u.Refusals)
	case rec.Event != nil:
		return importEvent(ctx, tx, *rec.Event, rec.Ancestry)
	default:
		return fmt.Errorf("sqlite: import: an empty record: %w", store.ErrInvalid)
	}
	if isForeignKey(err) {
		return fmt.Errorf("sqlite: import: a record names a user or a parent resource that comes nowhere before it: %w", store.ErrInvalid)
	}
	return wrap("import", err)
}

// importEvent writes ev with its own ID and the given ancestry, and indexes it.
func importEvent(ctx context.Context, tx *sql.Tx, ev store.Event, ancestry []string) error {
	seq, err := eventSeq(ev.ID)
	if err != nil || seq < 1 {
		return fmt.Errorf("sqlite: import: event id %q: %w", ev.ID, store.ErrInvalid)
	}
	for _, ref := range ancestry {
		if ref == "" || strings.Contains(ref, "|") {
			return fmt.Errorf("sqlite: import: event %s: %q in its ancestry names no resource: %w", ev.ID, ref, store.ErrInvalid)
		}
	}
	anc := ""
	if len(ancestry) > 0 {
		anc = "|" + strings.Join(ancestry, "|") + "|"
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (seq, at, actor, credential, action, target, resource, result, ip, count, detail, ancestry)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		seq, unix(ev.At), ev.Actor, ev.Credential, ev.Action, ev.Target, ev.Resource, ev.Result, ev.IP, ev.Count, ev.Detail, anc); err != nil {
		return wrap("import", err)
	}
	for _, ref := range ancestry {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO event_resources (resource, at, seq) VALUES (?, ?, ?)",
			ref, unix(ev.At), seq); err != nil {
			return wrap("import", err)
		}
	}
	return nil
}
