package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/postgres/pgtest"
	"github.com/lanyardhq/lanyard/internal/store/storetest"
	"github.com/lanyardhq/lanyard/internal/testenv"
)

// Every store a test opens lives in a schema of its own, made for it (and dropped when the test
// ends) in a database that this test process makes on the server LANYARD_TEST_POSTGRES names and
// drops when it ends. A schema rather than a database per store: a database takes about 0.3 s
// to make on a busy machine, a schema a few milliseconds, and the suite makes dozens; the
// store's statements name no schema, so a URL with search_path=<schema> puts everything it makes
// there. The database of its own keeps the tests apart from anything else on the server. Tests
// that take connections away (TestDroppedConnections, TestUnavailable) get a database of their
// own (freshDB), since that is what they act on.

// shared is the database this test process keeps its schemas in.
var shared struct {
	once sync.Once
	url  string // empty until made
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.url != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := pgtest.DropDatabase(ctx, shared.url); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		cancel()
	}
	os.Exit(code)
}

// freshSchema creates an empty schema and returns the URL of a store kept in it; it is dropped
// when t ends.
func freshSchema(t *testing.T) string {
	t.Helper()
	admin := testenv.Postgres(t)
	shared.once.Do(func() { shared.url, shared.err = pgtest.CreateDatabase(admin) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	name := "s_" + pgtest.RandomName()
	pgtest.Exec(t, shared.url, "CREATE SCHEMA "+name)
	t.Cleanup(func() { pgtest.Exec(t, shared.url, "DROP SCHEMA "+name+" CASCADE") })
	u, _ := url.Parse(shared.url)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// freshDB creates an empty database and returns its URL; it is dropped when t ends.
func freshDB(t *testing.T) string { return pgtest.Database(t) }

// open opens the store at url, closed when t ends.
func open(t *testing.T, url string) *DB {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	testenv.Postgres(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, freshSchema(t)) })
}

func TestReopen(t *testing.T) {
	testenv.Postgres(t)
	storetest.RunReopen(t, freshSchema, func(t *testing.T, url string) store.Store { return open(t, url) })
}

// TestSynchronousCommit: every connection of the pool has synchronous_commit on, although the
// test server (scripts/test-services.sh) runs with it off, and although the URL asks for off.
func TestSynchronousCommit(t *testing.T) {
	url := freshSchema(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var server string
	if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&server); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Logf("a plain session of the server has synchronous_commit = %s", server)

	for _, u := range []string{url, url + "&synchronous_commit=off"} {
		s := open(t, u)
		// Hold several connections at once so that each is a different session.
		var conns []interface{ Release() }
		for range 4 {
			c, err := s.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			var v string
			if err := c.QueryRow(ctx, "SHOW synchronous_commit").Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != "on" {
				t.Errorf("synchronous_commit = %q on a pool connection (URL %s), want on", v, u)
			}
		}
		for _, c := range conns {
			c.Release()
		}
		s.Close()
	}
}

// TestMigrationsRace: nodes opening a fresh database at once apply each migration exactly once
// (the advisory lock), all succeed, and all get the same instance key.
func TestMigrationsRace(t *testing.T) {
	url := freshSchema(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	const nodes = 6
	var (
		mu      sync.Mutex
		applied = map[int]int{}
		wg      sync.WaitGroup
		start   = make(chan struct{})
		dbs     = make([]*DB, nodes)
		errs    = make([]error, nodes)
	)
	for i := range nodes {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = OpenWith(t.Context(), url, Options{applied: func(v int) {
				mu.Lock()
				applied[v]++
				mu.Unlock()
			}})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, m := range ms {
		if applied[m.version] != 1 {
			t.Errorf("migration %s applied %d times, want once", m.name, applied[m.version])
		}
	}
	var rows int
	if err := dbs[0].pool.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", rows, len(ms))
	}
	key, err := dbs[0].InstanceKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i, db := range dbs[1:] {
		if k, err := db.InstanceKey(t.Context()); err != nil || !bytes.Equal(k, key) {
			t.Errorf("node %d: instance key %x, %v; want %x like node 0", i+1, k, err, key)
		}
	}
	if v, err := dbs[0].SchemaVersion(t.Context()); err != nil || v != len(ms) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(ms))
	}
}

// TestNewerSchema: a database a newer lanyard migrated is refused, and left as it is.
func TestNewerSchema(t *testing.T) {
	url := freshSchema(t)
	open(t, url).Close()
	pgtest.Exec(t, url, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', now())")
	_, err := Open(t.Context(), url)
	if err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// TestDroppedConnections: a change, or a read, whose connection the server dropped (a restart,
// a failover, an administrator) is tried again on a new connection, and is applied once.
func TestDroppedConnections(t *testing.T) {
	dsn := freshDB(t)
	s := open(t, dsn)
	ctx := t.Context()
	u := store.User{ID: "u0", Email: "u0@example.com", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := s.CreateUser(ctx, u, store.Event{}); err != nil {
		t.Fatal(err)
	}
	name := pgtest.Name(t, dsn)
	kill := func() {
		t.Helper()
		pgtest.Exec(t, testenv.Postgres(t), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"' AND pid <> pg_backend_pid()")
	}
	for i := range 3 {
		kill()
		u.ID, u.Email = "u"+string(rune('1'+i)), "u"+string(rune('1'+i))+"@example.com"
		if err := s.CreateUser(ctx, u, store.Event{At: time.Now(), Action: "user.create", Target: "user:" + u.ID, Count: 1}); err != nil {
			t.Fatalf("CreateUser after the connections were dropped: %v", err)
		}
		kill()
		if _, err := s.GetUser(ctx, u.ID); err != nil {
			t.Fatalf("GetUser after the connections were dropped: %v", err)
		}
	}
	evs, err := s.ListEvents(ctx, store.EventFilter{Action: "user.create"}, store.Page{})
	if err != nil || len(evs) != 3 {
		t.Errorf("ListEvents = %d events, %v; want 3: each change applied once", len(evs), err)
	}
}

// TestUnavailable: a database that cannot be reached is store.ErrUnavailable, within the call's
// deadline; Ping says so too.
func TestUnavailable(t *testing.T) {
	dsn := freshDB(t)
	s, err := OpenWith(t.Context(), dsn, Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	name := pgtest.Name(t, dsn)
	// The database goes away: connections to it are dropped and new ones refused.
	pgtest.Exec(t, testenv.Postgres(t), "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false")
	pgtest.Exec(t, testenv.Postgres(t), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"'")
	t.Cleanup(func() { pgtest.Exec(t, testenv.Postgres(t), "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true") })
	start := time.Now()
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping = %v, want ErrUnavailable", err)
	}
	err = s.CreateUser(t.Context(), store.User{ID: "u1", Email: "u1@example.com"}, store.Event{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateUser = %v, want ErrUnavailable", err)
	}
	if _, err := s.GetUser(t.Context(), "u1"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetUser = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the three calls took %v", d)
	}
}

// TestUnstorableText: strings PostgreSQL's text cannot hold (NUL, invalid UTF-8) find nothing
// when looked up, are ErrInvalid when a change would store them, and are replaced in the audit
// trail rather than fail the change.
func TestUnstorableText(t *testing.T) {
	s := open(t, freshSchema(t))
	ctx := t.Context()
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		if _, err := s.GetUserByEmail(ctx, bad+"@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUserByEmail(%q) = %v, want ErrNotFound", bad, err)
		}
		if _, err := s.GetUser(ctx, bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUser(%q) = %v, want ErrNotFound", bad, err)
		}
		if evs, err := s.ListEvents(ctx, store.EventFilter{Actor: bad}, store.Page{}); err != nil || len(evs) != 0 {
			t.Errorf("ListEvents(actor %q) = %v, %v", bad, evs, err)
		}
		err := s.CreateUser(ctx, store.User{ID: "u1", Email: "u1@example.com", Name: bad}, store.Event{})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateUser(name %q) = %v, want ErrInvalid", bad, err)
		}
	}
	ev := store.Event{At: time.Now(), Action: "user.create", Target: "user:u2", Detail: "x\x00y\xff", Count: 1}
	if err := s.CreateUser(ctx, store.User{ID: "u2", Email: "u2@example.com"}, ev); err != nil {
		t.Fatalf("CreateUser with an odd event detail: %v", err)
	}
	evs, err := s.ListEvents(ctx, store.EventFilter{Target: "user:u2"}, store.Page{})
	if err != nil || len(evs) != 1 || evs[0].Detail != "x\uFFFDy\uFFFD" {
		t.Errorf("events = %+v, %v; want the detail with U+FFFD", evs, err)
	}
}

// TestGuardsSerialize: two changes whose guards read the same state, each deciding that its
// own write is allowed only while the other's has not happened, do not both commit: a cap of
// one key per owner holds although both guards first see no key. (The first attempts of the two
// guards wait for each other, so that both read before either writes.)
func TestGuardsSerialize(t *testing.T) {
	s := open(t, freshSchema(t))
	ctx := t.Context()
	now := time.Now()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Email: "u1@example.com", CreatedAt: now, UpdatedAt: now}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	errCap := errors.New("the owner has a key already")
	var (
		mu      sync.Mutex
		calls   int
		both    = make(chan struct{})
		results = make([]error, 2)
		wg      sync.WaitGroup
	)
	guard := func(ctx context.Context, v store.View) error {
		n, err := v.CountKeys(ctx, "u1", "", now)
		if err != nil {
			return err
		}
		mu.Lock()
		calls++
		if calls == 2 {
			close(both)
		}
		first := calls <= 2
		mu.Unlock()
		if first {
			select {
			case <-both:
			case <-time.After(5 * time.Second):
			}
		}
		if n >= 1 {
			return errCap
		}
		return nil
	}
	for i := range 2 {
		wg.Go(func() {
			id := fmt.Sprintf("k%d", i)
			k := store.Key{ID: id, Format: store.FormatToken, Owner: "u1", CreatedAt: now}
			sec := store.Secret{Hash: sha(id), CreatedAt: now}
			results[i] = s.CreateKey(ctx, k, sec, guard, store.Event{})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range results {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, errCap):
			t.Errorf("CreateKey %d: %v, want nil or the guard's refusal", i, err)
		}
	}
	keys, err := s.ListKeys(ctx, store.KeyFilter{Owner: "u1"}, store.Page{})
	if ok != 1 || err != nil || len(keys) != 1 {
		t.Errorf("%d changes succeeded and %d keys are stored (%v); want exactly one of each", ok, len(keys), err)
	}
	if calls < 3 {
		t.Errorf("the guards ran %d times: the refused change was not run again", calls)
	}
}

func sha(s string) store.Hash { return sha256.Sum256([]byte(s)) }

// TestEventsByResourceUseTheIndex checks, by the query plan rather than by the clock, that an
// audit query by resource reads that resource's rows of event_resources through its key, in
// list order, then each event by its key, with tens of thousands of other tenants' events in
// the trail that match every other filter: no scan of the trail and no sort, whatever the other
// filters and the page (CONTRACT §11.62).
func TestEventsByResourceUseTheIndex(t *testing.T) {
	s := open(t, freshSchema(t))
	ctx := t.Context()
	for _, q := range []string{
		`INSERT INTO events (at, actor, action, target, resource, ancestry)
			SELECT to_timestamp(i), 'user:u1', 'key.create', 'key:k1', 'organization/o' || (i % 500), '|organization/o' || (i % 500) || '|'
			FROM generate_series(1, 30000) AS i`,
		`INSERT INTO event_resources (resource, at, seq) SELECT resource, at, seq FROM events`,
		"ANALYZE events",
		"ANALYZE event_resources",
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	after := time.Unix(5, 0)
	for _, tt := range []struct {
		f    store.EventFilter
		page store.Page
	}{
		{store.EventFilter{Resource: "organization/o7"}, store.Page{}},
		{store.EventFilter{Resource: "organization/o7"}, store.Page{AfterCreated: after, AfterID: eventID(7), Limit: 10}},
		{store.EventFilter{Resource: "organization/o7", Actor: "user:u1", Action: "key.create", Target: "key:k1", FromID: eventID(3)},
			store.Page{AfterCreated: after, AfterID: eventID(7)}},
	} {
		query, args, err := eventsQuery(tt.f, tt.page)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := queryStrings(ctx, s.pool, "EXPLAIN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(plan, "\n")
		if !strings.Contains(joined, "Scan using event_resources_pkey on event_resources r") ||
			!strings.Contains(joined, "resource = 'organization/o7'::text") ||
			strings.Contains(joined, "Sort") || strings.Contains(joined, "Seq Scan") {
			t.Errorf("ListEvents(%+v, %+v) plan:\n%s\nwant an index scan of event_resources by resource, in order, then events by key", tt.f, tt.page, joined)
		}
	}
}
