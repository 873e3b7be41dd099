package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store/postgres/pgtest"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// TestServeOnPostgres: --store postgres://… (or LANYARD_STORE) serves from PostgreSQL: /readyz
// answers, what one start stores the next one finds, and the bootstrap token is made once.
func TestServeOnPostgres(t *testing.T) {
	dsn := pgtest.Database(t)
	const boot = "pg-test-bootstrap-token-0123456789abcdef"
	data := t.TempDir()
	for i, args := range [][]string{{"--store", dsn}, nil} {
		vars := map[string]string{"LANYARD_BOOTSTRAP_TOKEN": boot, "LANYARD_DATA": data, "LANYARD_STORE": dsn}
		if args != nil {
			delete(vars, "LANYARD_STORE")
		}
		addr, _, stop := startServe(t, vars, append(args, "--addr", "127.0.0.1:0", "--config", cheapConfig(t))...)
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("start %d: /readyz = %d", i, res.StatusCode)
		}
		api := map[string]string{"LANYARD_ADDR": addr, "LANYARD_TOKEN": boot}
		if i == 0 {
			if code, _, errs := cli(t, api, "", "users", "create", "--email", "ann@example.com", "--id", "ann"); code != 0 {
				t.Fatalf("users create: %s", errs)
			}
		} else if code, out, errs := cli(t, api, "", "users", "get", "ann"); code != 0 || !strings.Contains(out, "ann@example.com") {
			t.Fatalf("the second start does not find what the first stored: %d %q %s", code, out, errs)
		}
		stop()
	}
	if _, err := os.Stat(filepath.Join(data, sqlite.FileName)); !os.IsNotExist(err) {
		t.Errorf("serve on PostgreSQL made a SQLite store in --data (%v)", err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM secrets WHERE kind = 'bootstrap'").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d bootstrap tokens in PostgreSQL (%v), want 1", n, err)
	}
}

// TestServeWaitsForAnUnreachableStore: a PostgreSQL that does not answer keeps serve waiting
// for it rather than exiting: it listens, says why — naming the store without its password —
// answers /healthz and /readyz 503, and exits 0 at once when it is stopped.
func TestServeWaitsForAnUnreachableStore(t *testing.T) {
	const pw = "hunter2-not-to-be-printed"
	waiting := regexp.MustCompile(`lanyard listens, but its store does not answer.*addr=(127\.0\.0\.1:\d+)`)
	for _, url := range []string{
		"postgres://lanyard:" + pw + "@127.0.0.1:1/lanyard?connect_timeout=2",
		"postgres://127.0.0.1:1/lanyard?password=" + pw + "&connect_timeout=2",
	} {
		addr, stderr, stop := startServeUntil(t, waiting, map[string]string{"LANYARD_DATA": t.TempDir()}, "--addr", "127.0.0.1:0", "--store", url)
		for path, want := range map[string]int{"/healthz": 503, "/readyz": 503} {
			res, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != want {
				t.Errorf("%s while the store is unreachable: %d, want %d", path, res.StatusCode, want)
			}
		}
		asked := time.Now()
		stop()
		if took := time.Since(asked); took > 3*time.Second {
			t.Errorf("serve waiting for its store took %v to stop", took)
		}
		if errs := stderr.String(); !strings.Contains(errs, "--store") || strings.Contains(errs, pw) {
			t.Errorf("serve with an unreachable store logged: %q", errs)
		}
	}
}

// TestServeRefusesAStoreURLThatDoesNotParse: a mistake in --store is no outage to wait for.
func TestServeRefusesAStoreURLThatDoesNotParse(t *testing.T) {
	code, _, errs := cli(t, map[string]string{"LANYARD_DATA": t.TempDir()}, "", "serve", "--addr", "127.0.0.1:0", "--store", "postgres://lanyard@127.0.0.1/lanyard?sslmode=sometimes")
	if code != 1 || !strings.Contains(errs, "does not parse") {
		t.Errorf("serve with a store URL that does not parse: %d %q", code, errs)
	}
}

// TestMigrate: migrate applies the migrations of the store serve would open, and exits.
func TestMigrate(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		code, out, errs := cli(t, map[string]string{"LANYARD_DATA": dir}, "", "migrate")
		if code != 0 || out != "" || !strings.Contains(errs, "up to date") {
			t.Fatalf("migrate: %d %q %q", code, out, errs)
		}
		if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
			t.Fatal(err)
		}
		// A second run finds nothing to do.
		if code, _, errs := cli(t, map[string]string{"LANYARD_DATA": dir}, "", "migrate"); code != 0 {
			t.Fatalf("second migrate: %d %q", code, errs)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Database(t)
		for range 2 {
			code, out, errs := cli(t, map[string]string{"LANYARD_DATA": t.TempDir()}, "", "migrate", "--store", dsn)
			if code != 0 || out != "" || !strings.Contains(errs, "up to date (version ") {
				t.Fatalf("migrate: %d %q %q", code, out, errs)
			}
		}
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM users").Scan(&n); err != nil || n != 0 {
			t.Errorf("after migrate: %d users, %v; want an empty users table", n, err)
		}
	})
	t.Run("newer schema", func(t *testing.T) {
		dsn := pgtest.Database(t)
		if code, _, errs := cli(t, nil, "", "migrate", "--store", dsn); code != 0 {
			t.Fatal(errs)
		}
		pgtest.Exec(t, dsn, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', now())")
		code, _, errs := cli(t, nil, "", "migrate", "--store", dsn)
		if code != 1 || !strings.Contains(errs, "upgrade lanyard") {
			t.Fatalf("migrate of a newer schema: %d %q", code, errs)
		}
	})
}
