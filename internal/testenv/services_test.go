package testenv_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/lanyardhq/lanyard/internal/testenv"
)

// These tests prove that the services scripts/test-services.sh brings up answer, through the
// same helper every test that needs them uses: under .ci/run (LANYARD_TEST_REQUIRE=1) a service
// that did not come up fails here first, by name, before any store or limiter test does.

func TestPostgresAnswers(t *testing.T) {
	url := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", testenv.PostgresEnv, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatalf("SHOW server_version: %v", err)
	}
	t.Logf("PostgreSQL %s", version)
}

func TestRedisAnswers(t *testing.T) {
	url := testenv.Redis(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s=%q: %v", testenv.RedisEnv, url, err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if got, err := rdb.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			t.Logf("Redis %s", v)
		}
	}
}

// The programs some tests run: each answers its version.
func TestProgramsRun(t *testing.T) {
	for _, tt := range []struct {
		name string
		path func(testing.TB) string
		args []string
		want string // in the combined output
	}{
		{"chromium", testenv.Chromium, []string{"--version"}, "Chromium "},
		{"nginx", testenv.Nginx, []string{"-v"}, "nginx version: nginx/"},
		{"promtool", testenv.Promtool, []string{"--version"}, "promtool, version "},
		{"redis-server", testenv.RedisServer, []string{"--version"}, "Redis server v="},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, path, tt.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", path, strings.Join(tt.args, " "), err, out)
			}
			i := strings.Index(string(out), tt.want)
			if i < 0 {
				t.Fatalf("%s %s printed %q, want %q in it", path, strings.Join(tt.args, " "), out, tt.want)
			}
			line, _, _ := strings.Cut(string(out[i:]), "\n")
			t.Log(line)
		})
	}
}
