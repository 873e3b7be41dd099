// Package testenv decides what a test does when an outside service or program it needs —
// PostgreSQL, Redis, Chromium, nginx, promtool — has not been configured for it.
//
// Each is named by an environment variable (LANYARD_TEST_POSTGRES and so on) that
// scripts/test-services.sh prints; a program a test runs itself (redis-server) may instead be
// found on PATH. A test asks for the variable through Need, or one of the
// named wrappers that call it, and gets its value. When the variable is unset the test skips and
// says which variable would run it, so that `go test ./...` passes with Go alone; with
// LANYARD_TEST_REQUIRE=1, as .ci/run sets it, the same test fails instead, so CI can never pass
// with a backend that silently went untested.
package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The variables a test can need. Each holds what the test connects to or runs.
const (
	PostgresEnv = "LANYARD_TEST_POSTGRES" // a postgres:// URL of a database the test may write to
	RedisEnv    = "LANYARD_TEST_REDIS"    // a redis:// URL of a server the test may write to
	ChromiumEnv = "LANYARD_TEST_CHROMIUM" // the path of a chromium binary
	NginxEnv    = "LANYARD_TEST_NGINX"    // the path of an nginx binary
	PromtoolEnv = "LANYARD_TEST_PROMTOOL" // the path of Prometheus's promtool
	// RedisServerEnv is the path of a redis-server binary, for tests that start and stop a
	// Redis of their own; when unset, redis-server on PATH.
	RedisServerEnv = "LANYARD_TEST_REDIS_SERVER"

	// RequireEnv set to 1 turns every skip for want of a service into a failure.
	RequireEnv = "LANYARD_TEST_REQUIRE"
)

// Postgres returns the URL of the PostgreSQL database for tests, or skips (or fails) t.
func Postgres(t testing.TB) string {
	t.Helper()
	return Need(t, PostgresEnv, "PostgreSQL")
}

// Redis returns the URL of the Redis server for tests, or skips (or fails) t.
func Redis(t testing.TB) string {
	t.Helper()
	return Need(t, RedisEnv, "Redis")
}

// Chromium returns the path of the chromium binary, or skips (or fails) t.
func Chromium(t testing.TB) string {
	t.Helper()
	return Need(t, ChromiumEnv, "Chromium")
}

// Nginx returns the path of the nginx binary, or skips (or fails) t.
func Nginx(t testing.TB) string {
	t.Helper()
	return Need(t, NginxEnv, "nginx")
}

// Promtool returns the path of Prometheus's promtool, or skips (or fails) t.
func Promtool(t testing.TB) string {
	t.Helper()
	return Need(t, PromtoolEnv, "promtool")
}

// RedisServer returns the path of a redis-server binary for a test that runs its own Redis
// (to stop and restart it), or skips (or fails) t.
func RedisServer(t testing.TB) string {
	t.Helper()
	return Program(t, RedisServerEnv, "redis-server")
}

// Program returns the path of the program name: the value of env when it is set, else name as
// found on PATH. When neither is there it is Need's decision: skip, or fail under
// LANYARD_TEST_REQUIRE=1.
func Program(t testing.TB, env, name string) string {
	t.Helper()
	return need(t, onPath(os.Getenv, exec.LookPath, env, name), env, name)
}

// onPath is getenv, except that an unset env is answered with name's path on PATH, if any.
func onPath(getenv func(string) string, lookPath func(string) (string, error), env, name string) func(string) string {
	return func(k string) string {
		v := getenv(k)
		if k == env && strings.TrimSpace(v) == "" {
			if p, err := lookPath(name); err == nil {
				return p
			}
		}
		return v
	}
}

// Need returns the value of the environment variable env, which names the service what (for
// messages: "PostgreSQL"). When it is unset or blank, Need skips t with the reason, or fails t
// when LANYARD_TEST_REQUIRE is 1. It is the one place that makes this decision: every test
// that needs a service calls it, directly or through a wrapper above.
func Need(t testing.TB, env, what string) string {
	t.Helper()
	return need(t, os.Getenv, env, what)
}

// tb is the part of testing.TB that need uses, so that a test can watch the decision.
type tb interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

func need(t tb, getenv func(string) string, env, what string) string {
	t.Helper()
	if v := strings.TrimSpace(getenv(env)); v != "" {
		return v
	}
	switch req := getenv(RequireEnv); req {
	case "", "0":
		t.Skipf("%s is not configured: set %s to run this test (bash scripts/test-services.sh prints it)", what, env)
	case "1":
		t.Fatalf("%s is required here (%s=1) but %s is unset: run bash scripts/test-services.sh (it installs and starts what is missing) and export what it prints", what, RequireEnv, env)
	default:
		// A typo in CI must not turn into a silent skip.
		t.Fatalf("%s=%q: want 1 (a missing service fails the test) or 0 (it skips); %s is unset", RequireEnv, req, env)
	}
	return ""
}
