package sqlite

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// TestEventsByResourceReadTheIndex checks, by the query plan rather than by the clock, that an
// audit query by resource reads only that resource's rows of event_resources, in list order,
// and fetches each event by its key: no scan of the trail and no sort, whatever the other
// filters and the page (CONTRACT §11.62).
func TestEventsByResourceReadTheIndex(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	for _, tt := range []struct {
		f    store.EventFilter
		page store.Page
	}{
		{store.EventFilter{Resource: "organization/acme"}, store.Page{}},
		{store.EventFilter{Resource: "organization/acme"}, store.Page{AfterCreated: time.Unix(5, 0), AfterID: eventID(7), Limit: 10}},
		{store.EventFilter{Resource: "organization/acme", Actor: "user:u1", Action: "key.create", Target: "key:k1", FromID: eventID(3)},
			store.Page{AfterCreated: time.Unix(5, 0), AfterID: eventID(7)}},
	} {
		query, args, err := eventsQuery(tt.f, tt.page)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := queryPlan(t, db.r, query, args...)
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(plan, "\n")
		if len(plan) != 2 || !strings.HasPrefix(plan[0], "SEARCH r USING PRIMARY KEY (resource=?") ||
			!strings.HasPrefix(plan[1], "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)") {
			t.Errorf("ListEvents(%+v, %+v) plan:\n%s\nwant a search of event_resources by resource, then of events by key", tt.f, tt.page, joined)
		}
	}
	if _, err := db.ListEvents(ctx, store.EventFilter{Resource: "organization/acme"}, store.Page{}); err != nil {
		t.Fatal(err)
	}
}

// queryPlan is the detail column of EXPLAIN QUERY PLAN for query.
func queryPlan(t *testing.T, q querier, query string, args ...any) ([]string, error) {
	t.Helper()
	rows, err := q.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			id, parent, unused int
			detail             string
		)
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}

// instrEvents is what a query by resource answered before migration 0004, straight from
// events.ancestry: the seqs of ref's events in list order.
func instrEvents(t *testing.T, db *DB, ref string) []string {
	t.Helper()
	seqs, err := queryStrings(t.Context(), db.r, `SELECT printf('%016d', seq) FROM events
		WHERE instr(ancestry, '|' || ?1 || '|') > 0 OR (ancestry IS NULL AND resource = ?1) ORDER BY at, seq`, ref)
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// listedEvents is ListEvents by ref, following pages of 2, as event IDs.
func listedEvents(t *testing.T, db *DB, ref string) []string {
	t.Helper()
	var out []string
	page := store.Page{Limit: 2}
	for range 1000 {
		evs, err := db.ListEvents(t.Context(), store.EventFilter{Resource: ref}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			out = append(out, e.ID)
		}
		if len(evs) < page.Limit {
			break
		}
		page.AfterCreated, page.AfterID = evs[len(evs)-1].At, evs[len(evs)-1].ID
	}
	return out
}

// checkSameAsInstr fails unless ListEvents finds, for each ref, exactly the events the query
// of events.ancestry finds.
func checkSameAsInstr(t *testing.T, db *DB, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		if got, want := listedEvents(t, db, ref), instrEvents(t, db, ref); !slices.Equal(got, want) {
			t.Errorf("events of %s: %q, want %q (what events.ancestry says)", ref, got, want)
		}
	}
}

// TestMigrateEventResources opens a database written at schema version 3, whose events have
// an ancestry (or none, from before 0002), and checks that migration 0004 indexes every one of
// them under each resource its ancestry names, so that queries by resource answer what they
// answered before; then that new events, moves and deletions keep doing so.
func TestMigrateEventResources(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	writeVersion(t, dir, 3,
		"INSERT INTO resources (type, id, created_at) VALUES ('organization', 'acme', 0), ('organization', 'other', 0)",
		"INSERT INTO resources (type, id, parent_type, parent_id, created_at) VALUES ('project', 'p1', 'organization', 'acme', 0)",
		`INSERT INTO events (at, action, resource, ancestry) VALUES
			(5, 'before.0002', 'project/p1', NULL),
			(1, 'create', 'organization/acme', '|organization/acme|'),
			(2, 'create', 'project/p1', '|organization/acme|project/p1|'),
			(2, 'refused', '', ''),
			(3, 'move', 'project/p1', '|organization/acme|project/p1|organization/other|'),
			(3, 'deleted', 'env/e1', '|organization/other|project/p1|env/e1|'),
			(4, 'odd', 'a|b', '|a|b|'),
			(1, 'ghost', 'org/ghost', '|org/ghost|'),
			(0, 'before.0002', 'organization/acme', NULL),
			(6, 'before.0002', '', NULL)`,
	)
	db := open(t, dir)
	refs := []string{"organization/acme", "organization/other", "project/p1", "env/e1", "org/ghost", "a", "b", "a|b", "org", "project", ""}
	checkSameAsInstr(t, db, refs[:len(refs)-1]...)
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM event_resources").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := 1 + 1 + 2 + 3 + 3 + 2 + 1 + 1; n != want {
		t.Errorf("%d rows in event_resources, want %d", n, want)
	}
	// A name with the delimiter matches only an event's own resource.
	evs, err := db.ListEvents(ctx, store.EventFilter{Resource: "a|b"}, store.Page{})
	if err != nil || len(evs) != 1 || evs[0].Action != "odd" {
		t.Errorf("events of a|b = %+v, %v; want the one event of a|b", evs, err)
	}

	// New events, a move and a deletion.
	ev := func(action, resource string) store.Event {
		return store.Event{At: time.Unix(10, 0), Action: action, Resource: resource}
	}
	mustCreate(t, db.CreateResource(ctx, store.Resource{Type: "env", ID: "e2", Parent: "project/p1"}, ev("create", "env/e2")))
	mustCreate(t, db.AppendEvents(ctx, []store.Event{ev("refused", "env/e2"), ev("refused", "a|b"), ev("refused", "")}))
	_, err = db.UpdateResource(ctx, "project/p1", func(r *store.Resource) error { r.Parent = "organization/other"; return nil }, nil, ev("move", "project/p1"))
	mustCreate(t, err)
	_, err = db.DeleteResource(ctx, "organization/other", nil, ev("delete", "organization/other"))
	mustCreate(t, err)
	mustCreate(t, db.CreateResource(ctx, store.Resource{Type: "project", ID: "p1"}, ev("create again", "project/p1")))
	checkSameAsInstr(t, db, append(refs[:len(refs)-1], "env/e2")...)
}
