package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/postgres"
)

// loadReport is what a load did: how long each step took and how large the tables came out.
type loadReport struct {
	// Already is true when the database held this very dataset: nothing was written.
	Already bool
	// Copy is generating the tokens and copying the rows; Index rebuilding the indexes;
	// Vacuum VACUUM (ANALYZE) of the tables.
	Copy, Index, Vacuum time.Duration
	// Sizes are the tables' total sizes (indexes and TOAST included), by table, and the
	// database's, in bytes.
	Sizes    map[string]int64
	Database int64
}

// loadedTables are the tables a load writes.
var loadedTables = []string{"resources", "keys", "secrets", "grants"}

// indexedTables are the tables whose indexes a load drops and builds again once the rows are
// in: building a B-tree from sorted input is many times faster than inserting ten million
// random hashes into one.
var indexedTables = []string{"keys", "secrets", "grants"}

// load writes d into the PostgreSQL database at dsn, which must be empty of keys, resources
// and grants (or hold d already, when it does nothing), in one transaction: the schema comes
// from lanyard's migrations (postgres.Open applies them), the rows go in with COPY in batches
// of batch keys, and the indexes of keys, secrets and grants are dropped first and built again
// at the end from the definitions read from the database before the drop, then checked
// against them. A load that fails leaves the database as it found it. progress, when not nil,
// hears how far the load is.
func load(ctx context.Context, dsn string, d dataset, batch int, progress io.Writer) (loadReport, error) {
	var rep loadReport
	if d.Keys <= 0 || d.Orgs <= 0 || batch <= 0 {
		return rep, errors.New("keys, orgs and batch must be positive")
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		return rep, err
	}
	st.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return rep, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if progress == nil {
		progress = io.Discard
	}

	counts, err := rowCounts(ctx, conn)
	if err != nil {
		return rep, err
	}
	if counts["keys"]+counts["resources"]+counts["grants"] > 0 {
		same, err := holds(ctx, conn, d, counts)
		if err != nil {
			return rep, err
		}
		if !same {
			return rep, fmt.Errorf("the database is not empty (%d keys, %d resources, %d grants) and does not hold %d keys of %d organizations from seed %q: load into a new database",
				counts["keys"], counts["resources"], counts["grants"], d.Keys, d.Orgs, d.Seed)
		}
		rep.Already = true
		return rep, sizes(ctx, conn, &rep)
	}

	start := time.Now()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return rep, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Room to sort each index in memory, and one core for it: the machine is shared.
	for _, set := range []string{"SET LOCAL maintenance_work_mem = '512MB'", "SET LOCAL max_parallel_maintenance_workers = 0"} {
		if _, err := tx.Exec(ctx, set); err != nil {
			return rep, err
		}
	}
	before, err := indexDefs(ctx, tx)
	if err != nil {
		return rep, err
	}
	for _, ix := range before {
		if ix.Referenced {
			continue // a foreign key leans on it: it stays, and is filled row by row
		}
		stmt := "DROP INDEX " + pgx.Identifier{ix.Name}.Sanitize()
		if ix.Constraint != "" {
			stmt = "ALTER TABLE " + pgx.Identifier{ix.Table}.Sanitize() + " DROP CONSTRAINT " + pgx.Identifier{ix.Constraint}.Sanitize()
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return rep, fmt.Errorf("%s: %w", stmt, err)
		}
	}

	now := time.Now().UTC().Truncate(time.Second) // lanyard writes times to the second
	orgs := make([][]any, d.Orgs)
	for j := range orgs {
		orgs[j] = []any{"organization", d.org(j), now}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"resources"}, []string{"type", "id", "created_at"}, pgx.CopyFromRows(orgs)); err != nil {
		return rep, fmt.Errorf("copying resources: %w", err)
	}
	var keys, secrets, grants [][]any
	for lo := 0; lo < d.Keys; lo += batch {
		hi := min(lo+batch, d.Keys)
		keys, secrets, grants = keys[:0], secrets[:0], grants[:0]
		for i := lo; i < hi; i++ {
			tok, id, ref := d.token(i), keyID(i), d.orgRef(i)
			hash := credential.Hash(tok)
			keys = append(keys, []any{id, "scale", store.FormatToken, credential.DisplayPrefix(tok), ref, keyRole, now, "bench"})
			secrets = append(secrets, []any{hash[:], store.KindKeyToken, id, now})
			grants = append(grants, []any{ref, "key:" + id, keyRole, now})
		}
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"keys", []string{"id", "name", "format", "prefix", "resource", "role", "created_at", "created_by"}, keys},
			{"secrets", []string{"hash", "kind", "id", "created_at"}, secrets},
			{"grants", []string{"resource", "principal", "role", "created_at"}, grants},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				return rep, fmt.Errorf("copying %s: %w", c.table, err)
			}
		}
		if done := hi; done == d.Keys || done/1_000_000 != lo/1_000_000 {
			fmt.Fprintf(progress, "%d keys in %s\n", done, time.Since(start).Round(time.Second))
		}
	}
	rep.Copy = time.Since(start)

	start = time.Now()
	for _, ix := range before {
		if ix.Referenced {
			continue
		}
		stmt := ix.Def
		if ix.Constraint != "" {
			stmt = "ALTER TABLE " + pgx.Identifier{ix.Table}.Sanitize() + " ADD CONSTRAINT " + pgx.Identifier{ix.Constraint}.Sanitize() + " " + ix.ConstraintDef
		}
		t := time.Now()
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return rep, fmt.Errorf("%s: %w", stmt, err)
		}
		fmt.Fprintf(progress, "%s in %s\n", stmt, time.Since(t).Round(time.Millisecond))
	}
	after, err := indexDefs(ctx, tx)
	if err != nil {
		return rep, err
	}
	if !slices.Equal(before, after) {
		return rep, fmt.Errorf("the indexes built again differ from the migrations' (before: %v, after: %v)", before, after)
	}
	if err := tx.Commit(ctx); err != nil {
		return rep, err
	}
	rep.Index = time.Since(start)

	// Set the hint bits and the visibility map now, and give the planner its statistics,
	// rather than leave that to the benchmark's first reads and to autovacuum.
	start = time.Now()
	for _, t := range loadedTables {
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+pgx.Identifier{t}.Sanitize()); err != nil {
			return rep, err
		}
	}
	rep.Vacuum = time.Since(start)
	return rep, sizes(ctx, conn, &rep)
}

// rowCounts counts the rows of the tables a load writes.
func rowCounts(ctx context.Context, conn *pgx.Conn) (map[string]int64, error) {
	counts := map[string]int64{}
	for _, t := range loadedTables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t}.Sanitize()).Scan(&n); err != nil {
			return nil, err
		}
		counts[t] = n
	}
	return counts, nil
}

// holds reports whether the database holds d: as many keys and organizations, and the first
// and last keys' hashes stored under their ids.
func holds(ctx context.Context, conn *pgx.Conn, d dataset, counts map[string]int64) (bool, error) {
	if counts["keys"] != int64(d.Keys) || counts["resources"] != int64(d.Orgs) {
		return false, nil
	}
	for _, i := range []int{0, d.Keys - 1} {
		hash := credential.Hash(d.token(i))
		var id string
		err := conn.QueryRow(ctx, "SELECT id FROM secrets WHERE hash = $1", hash[:]).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && id != keyID(i) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// indexDef is one index of a loaded table as the database defines it.
type indexDef struct {
	Table, Name, Def string
	// Constraint and ConstraintDef name the primary key or unique constraint the index
	// belongs to, if any.
	Constraint, ConstraintDef string
	// Referenced is true when a foreign key depends on the index.
	Referenced bool
}

// indexDefs reads the indexes of indexedTables, in order.
func indexDefs(ctx context.Context, tx pgx.Tx) ([]indexDef, error) {
	rows, err := tx.Query(ctx, `SELECT t.relname, ic.relname, pg_get_indexdef(i.indexrelid),
			coalesce(c.conname, ''), coalesce(pg_get_constraintdef(c.oid), ''),
			EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
		FROM pg_index i
		JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_class ic ON ic.oid = i.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = t.oid AND c.contype IN ('p', 'u')
		WHERE t.oid = ANY ($1::regclass[])
		ORDER BY t.relname, ic.relname`, indexedTables)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (indexDef, error) {
		var ix indexDef
		err := r.Scan(&ix.Table, &ix.Name, &ix.Def, &ix.Constraint, &ix.ConstraintDef, &ix.Referenced)
		return ix, err
	})
}

// sizes fills the report's table and database sizes.
func sizes(ctx context.Context, conn *pgx.Conn, rep *loadReport) error {
	rep.Sizes = map[string]int64{}
	for _, t := range loadedTables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT pg_total_relation_size($1::regclass)", t).Scan(&n); err != nil {
			return err
		}
		rep.Sizes[t] = n
	}
	return conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&rep.Database)
}
