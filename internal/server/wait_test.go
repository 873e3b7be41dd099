package server

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// TestNodeWaitsForItsDatabase: a node started while its PostgreSQL cannot be reached listens at
// once and waits for it: /healthz, /readyz and every other request 503 unavailable with
// Retry-After — never a 2xx on a credentialed request — and each failed attempt logged, never
// with the password. Once the database answers, the node serves by itself, listed among the
// nodes.
func TestNodeWaitsForItsDatabase(t *testing.T) {
	u, proxy := proxiedDatabase(t)
	proxy.cut()
	const password = "never-logged-5b0c9e1d" // the test server's trust auth ignores it
	u.User = url.UserPassword(u.User.Username(), password)
	logs := &syncBuffer{}
	in := start(t, startOpts{early: true, logs: logs, mutate: func(c *config.Config) {
		c.Server.Store = u.String()
		c.Server.NodeID = "late"
	}})

	within(t, 10*time.Second, "/healthz while the database is cut off", func() bool { return get(t, in.base, "/healthz", "") == 503 })
	waiting := &instance{t: t, base: in.base} // its own OpenAPI document: none can be read yet
	for _, r := range []req{
		{method: "GET", path: "/readyz"},
		{method: "GET", path: "/v1/me", token: testBootstrap},
		{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "k"}`},
		{method: "GET", path: "/v1/nodes", token: testBootstrap},
		{method: "GET", path: "/console/"},
	} {
		a := waiting.do(r)
		if a.status != 503 || a.header.Get("Retry-After") == "" || a.errCode(t) != "unavailable" {
			t.Errorf("%s %s while the database is cut off: %d %v %s", r.method, r.path, a.status, a.header, a.body)
		}
	}
	within(t, 10*time.Second, "a second failed attempt logged", func() bool {
		return strings.Count(logs.String(), "the store does not answer yet") >= 2
	})
	select {
	case <-in.served:
		t.Fatal("the node said it serves while its database is cut off")
	default:
	}

	proxy.restore()
	d := within(t, 10*time.Second, "/readyz once the database is back", func() bool { return get(t, in.base, "/readyz", "") == 200 })
	t.Logf("ready %v after the database came back", d)
	select {
	case <-in.served:
	case <-time.After(10 * time.Second):
		t.Fatal("the node is ready but did not say it serves")
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: testBootstrap})
	if got := in.must(200, req{method: "GET", path: "/v1/nodes", token: testBootstrap}).json(t)["nodes"].([]any); len(got) != 1 || got[0].(map[string]any)["id"] != "late" {
		t.Errorf("GET /v1/nodes = %v, want the node late", got)
	}
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); strings.Contains(out, password) {
		t.Fatalf("the store's password reached the log:\n%s", out)
	}
}

// TestNodeWaitingForItsDatabaseStops: a node waiting for its store stops at once when asked to
// (SIGTERM ends Run's context), and says it stopped, not that it failed.
func TestNodeWaitingForItsDatabaseStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there: every connection is refused
	in := start(t, startOpts{early: true, mutate: func(c *config.Config) {
		c.Server.Store = "postgres://lanyard:secret@127.0.0.1:" + strconv.Itoa(port) + "/lanyard"
	}})
	within(t, 10*time.Second, "/healthz while the database cannot be reached", func() bool { return get(t, in.base, "/healthz", "") == 503 })
	asked := time.Now()
	if err := in.stop(); err != nil {
		t.Fatalf("stopping a node that waits for its store: %v", err)
	}
	if took := time.Since(asked); took > 2*time.Second {
		t.Errorf("a node waiting for its store took %v to stop", took)
	}
}

// TestSQLiteStartFailsFast: a SQLite store that cannot be opened is a mistake in the
// configuration, not an outage: the node refuses to start instead of waiting.
func TestSQLiteStartFailsFast(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = Run(ctx, Options{Config: testConfig(file), Listener: ln, Stderr: io.Discard,
		Getenv: func(k string) string { return map[string]string{BootstrapEnv: testBootstrap}[k] }})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("a data directory that is a file: Run = %v after %v, want an error at once", err, ctx.Err())
	}
}
