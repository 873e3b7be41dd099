package postgres

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

// exportQueries read every table in Export's order; the columns of each are those its scanner
// in Export reads.
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
	keys:    "SELECT " + keySelect + " FROM keys k ORDER BY k.created_at, k.id",
	secrets: "SELECT hash, kind, id, user_id, expires_at, created_at FROM secrets ORDER BY created_at, id, hash",
	revoked: "SELECT hash, at FROM revoked ORDER BY at, hash",
	scoped:  "SELECT " + scopedCols + " FROM scoped_tokens ORDER BY created_at, id",
	grants:  "SELECT " + grantCols + " FROM grants ORDER BY resource, principal",
	usage:   "SELECT key_id, hour, requests, refusals FROM key_usage ORDER BY key_id, hour",
	events: `SELECT seq, at, actor, credential, action, target, resource, result, ip, count, detail, ancestry
		FROM events ORDER BY seq`,
}

// Export reads the whole store in one REPEATABLE READ, READ ONLY transaction (a snapshot:
// writers go on meanwhile) and calls fn with each record, in the order store.Store documents.
// It has no deadline but ctx's.
func (db *DB) Export(ctx context.Context, fn func(store.Record) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return wrapCtx(ctx, "export", err)
	}
	defer tx.Rollback(ctx)
	steps := []struct {
		query string
		scan  func(pgx.Row) (store.Record, error)
	}{
		{exportQueries.meta, func(r pgx.Row) (store.Record, error) {
			var m store.Meta
			err := r.Scan(&m.Name, &m.Value)
			return store.Record{Meta: &m}, err
		}},
		{exportQueries.users, func(r pgx.Row) (store.Record, error) {
			u, err := scanUser(r)
			return store.Record{User: &u}, err
		}},
		{exportQueries.resources, func(r pgx.Row) (store.Record, error) {
			res, err := scanResource(r)
			return store.Record{Resource: &res}, err
		}},
		{exportQueries.keys, func(r pgx.Row) (store.Record, error) {
			k, err := scanKey(r)
			return store.Record{Key: &k}, err
		}},
		{exportQueries.secrets, func(r pgx.Row) (store.Record, error) {
			var (
				s       store.Secret
				b       []byte
				userID  *string
				expires *time.Time
				created time.Time
			)
			if err := r.Scan(&b, &s.Kind, &s.ID, &userID, &expires, &created); err != nil {
				return store.Record{}, err
			}
			h, err := hashOf(b)
			if err != nil {
				return store.Record{}, err
			}
			s.Hash, s.UserID, s.ExpiresAt, s.CreatedAt = h, deref(userID), utcPtr(expires), utc(created)
			return store.Record{Secret: &s}, nil
		}},
		{exportQueries.revoked, func(r pgx.Row) (store.Record, error) {
			var (
				b  []byte
				at time.Time
			)
			if err := r.Scan(&b, &at); err != nil {
				return store.Record{}, err
			}
			h, err := hashOf(b)
			return store.Record{Revoked: &store.RevokedHash{Hash: h, At: utc(at)}}, err
		}},
		{exportQueries.scoped, func(r pgx.Row) (store.Record, error) {
			t, err := scanScoped(r)
			return store.Record{Scoped: &t}, err
		}},
		{exportQueries.grants, func(r pgx.Row) (store.Record, error) {
			g, err := scanGrant(r)
			return store.Record{Grant: &g}, err
		}},
		{exportQueries.usage, func(r pgx.Row) (store.Record, error) {
			var u store.UsageHour
			err := r.Scan(&u.KeyID, &u.Hour, &u.Requests, &u.Refusals)
			u.Hour = utc(u.Hour)
			return store.Record{Usage: &u}, err
		}},
		{exportQueries.events, func(r pgx.Row) (store.Record, error) {
			var (
				ev         store.Event
				seq, count int64
				at         time.Time
				anc        string
			)
			if err := r.Scan(&seq, &at, &ev.Actor, &ev.Credential, &ev.Action, &ev.Target, &ev.Resource,
				&ev.Result, &ev.IP, &count, &ev.Detail, &anc); err != nil {
				return store.Record{}, err
			}
			ev.ID, ev.At, ev.Count = eventID(seq), utc(at), int(count)
			return store.Record{Event: &ev, Ancestry: ancestryRefs(anc)}, nil
		}},
	}
	for _, st := range steps {
		if err := exportRows(ctx, tx, st.query, st.scan, fn); err != nil {
			return err
		}
	}
	return nil
}

// exportRows calls fn with each row of query, as scan reads it.
func exportRows(ctx context.Context, tx pgx.Tx, query string, scan func(pgx.Row) (store.Record, error), fn func(store.Record) error) error {
	rows, err := tx.Query(ctx, query)
	if err != nil {
		return wrapCtx(ctx, "export", err)
	}
	defer rows.Close()
	for rows.Next() {
		rec, err := scan(rows)
		if err != nil {
			return wrapCtx(ctx, "export", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return wrapCtx(ctx, "export", rows.Err())
}

// importBatch is how many records Import sends in one round trip.
const importBatch = 500

// errNotEmpty is Import's answer to a store that holds records already.
var errNotEmpty = fmt.Errorf("postgres: import: the store is not empty: %w", store.ErrConflict)

// Import writes records into the empty store in one transaction, as store.Store documents,
// sending them in batches. It first locks every table against writers (EXCLUSIVE: nodes that
// share the store wait, and still read), so nothing is written beside it. A user's email_norm
// is computed from its email, as CreateUser does; an event keeps its ID, and the sequence goes
// on after the greatest. It is never retried (records is read once) and has no deadline but
// ctx's.
func (db *DB) Import(ctx context.Context, records iter.Seq2[store.Record, error]) error {
	return db.inTx(ctx, "import", pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, noRetries, func(tx *txn) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE meta, users, resources, keys, secrets, revoked, scoped_tokens, grants, key_usage, events, event_resources
			IN EXCLUSIVE MODE`); err != nil {
			return wrap("import", err)
		}
		var empty bool
		if err := tx.QueryRow(ctx, `SELECT NOT (EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM resources) OR
			EXISTS (SELECT 1 FROM keys) OR EXISTS (SELECT 1 FROM secrets) OR EXISTS (SELECT 1 FROM revoked) OR
			EXISTS (SELECT 1 FROM scoped_tokens) OR EXISTS (SELECT 1 FROM grants) OR EXISTS (SELECT 1 FROM events))`).Scan(&empty); err != nil {
			return wrap("import", err)
		}
		if !empty {
			return errNotEmpty
		}
		b := &pgx.Batch{}
		flush := func() error {
			if b.Len() == 0 {
				return nil
			}
			err := tx.SendBatch(ctx, b).Close()
			b = &pgx.Batch{}
			if isForeignKey(err) {
				return fmt.Errorf("postgres: import: a record names a user or a parent resource that comes nowhere before it: %w", store.ErrInvalid)
			}
			return wrap("import", err)
		}
		for rec, err := range records {
			if err != nil {
				return err
			}
			if err := queueRecord(b, rec); err != nil {
				return err
			}
			if b.Len() >= importBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT setval(pg_get_serial_sequence('events', 'seq'), coalesce(max(seq), 0) + 1, false) FROM events")
		return wrap("import", err)
	})
}

// queueRecord adds the statements that write rec to b.
func queueRecord(b *pgx.Batch, rec store.Record) error {
	switch {
	case rec.Meta != nil:
		if err := rec.Meta.Check(); err != nil {
			return err
		}
		b.Queue("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
			rec.Meta.Name, rec.Meta.Value)
	case rec.User != nil:
		u := *rec.User
		b.Queue("INSERT INTO users ("+userCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			u.ID, u.Email, store.NormalizeEmail(u.Email), u.Name, u.PasswordHash, u.Admin, ts(u.CreatedAt), ts(u.UpdatedAt))
	case rec.Resource != nil:
		r := *rec.Resource
		parentT, parentID, ok := parentArgs(r.Parent)
		if r.Type == "" || r.ID == "" || strings.Contains(r.Type, "/") || !ok {
			return fmt.Errorf("postgres: import: resource %q (parent %q) is no type/id: %w", r.Ref(), r.Parent, store.ErrInvalid)
		}
		b.Queue("INSERT INTO resources ("+resourceCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
			r.Type, r.ID, r.Name, parentT, parentID, r.Plan, ts(r.CreatedAt))
	case rec.Key != nil:
		k := *rec.Key
		metadata, cidrs, credits, err := mutableKeyArgs(k)
		if err != nil {
			return fmt.Errorf("postgres: import: key %s: %w", k.ID, err)
		}
		b.Queue("INSERT INTO keys ("+keyCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
			k.ID, k.Name, k.Format, k.Prefix, nullString(k.Owner), nullString(k.Resource), k.Role, k.Plan,
			metadata, cidrs, credits, tsPtr(k.ExpiresAt), tsPtr(k.LastUsedAt), ts(k.CreatedAt), k.CreatedBy)
	case rec.Secret != nil:
		s := *rec.Secret
		b.Queue("INSERT INTO secrets (hash, kind, id, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
			s.Hash[:], s.Kind, s.ID, nullString(s.UserID), tsPtr(s.ExpiresAt), ts(s.CreatedAt))
	case rec.Revoked != nil:
		b.Queue("INSERT INTO revoked (hash, at) VALUES ($1, $2)", rec.Revoked.Hash[:], ts(rec.Revoked.At))
	case rec.Scoped != nil:
		t := *rec.Scoped
		b.Queue("INSERT INTO scoped_tokens ("+scopedCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			t.Hash[:], t.ID, t.Type, t.Resource, t.Credential, nullString(t.Parent), ts(t.ExpiresAt), ts(t.CreatedAt))
	case rec.Grant != nil:
		g := *rec.Grant
		b.Queue("INSERT INTO grants ("+grantCols+") VALUES ($1, $2, $3, $4)", g.Resource, g.Principal, g.Role, ts(g.CreatedAt))
	case rec.Usage != nil:
		u := *rec.Usage
		if err := u.Check(); err != nil {
			return fmt.Errorf("postgres: import: %w", err)
		}
		b.Queue("INSERT INTO key_usage (key_id, hour, requests, refusals) VALUES ($1, $2, $3, $4)",
			u.KeyID, pos(store.HourOf(u.Hour)), u.Requests, u.Refusals)
	case rec.Event != nil:
		ev := *rec.Event
		seq, err := eventSeq(ev.ID)
		if err != nil || seq < 1 {
			return fmt.Errorf("postgres: import: event id %q: %w", ev.ID, store.ErrInvalid)
		}
		for _, ref := range rec.Ancestry {
			if ref == "" || strings.Contains(ref, "|") {
				return fmt.Errorf("postgres: import: event %s: %q in its ancestry names no resource: %w", ev.ID, ref, store.ErrInvalid)
			}
		}
		anc := ""
		if len(rec.Ancestry) > 0 {
			anc = text("|" + strings.Join(rec.Ancestry, "|") + "|")
		}
		b.Queue(`INSERT INTO events (seq, at, actor, credential, action, target, resource, result, ip, count, detail, ancestry)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			seq, ts(ev.At), text(ev.Actor), text(ev.Credential), text(ev.Action), text(ev.Target), text(ev.Resource),
			text(ev.Result), text(ev.IP), ev.Count, text(ev.Detail), anc)
		if refs := ancestryRefs(anc); len(refs) > 0 {
			b.Queue(`INSERT INTO event_resources (resource, at, seq)
				SELECT DISTINCT r, $2::timestamptz, $3::bigint FROM unnest($1::text[]) AS r ON CONFLICT DO NOTHING`, refs, ts(ev.At), seq)
		}
	default:
		return fmt.Errorf("postgres: import: an empty record: %w", store.ErrInvalid)
	}
	return nil
}
