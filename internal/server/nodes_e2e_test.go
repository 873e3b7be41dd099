package server

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/postgres"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// cluster is several lanyard nodes serving one store, each started through Run on its own
// loopback port with its own node id.
type cluster struct {
	nodes []*instance
	ids   []string
	// open opens the shared store directly (to play a node that never reads the log).
	open func(t *testing.T) store.Store
	// bound is the staleness bound the nodes run with.
	bound time.Duration
}

// startCluster starts n nodes over the store that storeURL names ("" for SQLite in dir).
func startCluster(t *testing.T, n int, storeURL, dir string, bound time.Duration) *cluster {
	t.Helper()
	c := &cluster{bound: bound}
	for i := range n {
		id := fmt.Sprintf("node-%d", i+1)
		dataDir := dir
		if storeURL != "" {
			dataDir = t.TempDir()
		}
		c.nodes = append(c.nodes, start(t, startOpts{dataDir: dataDir, mutate: func(cfg *config.Config) {
			cfg.Server.Store = storeURL
			cfg.Server.NodeID = id
			cfg.Cache.Staleness = bound
		}}))
		c.ids = append(c.ids, id)
	}
	c.open = func(t *testing.T) store.Store {
		t.Helper()
		var st store.Store
		var err error
		if storeURL != "" {
			st, err = postgres.Open(t.Context(), storeURL)
		} else {
			st, err = sqlite.Open(t.Context(), dir)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return c
}

// TestWaitNamesLaggingNodes: a live node that does not confirm is named at the bound, with 202
// — on every revoking route — while the change is made all the same; /v1/tokens/revoke still
// answers 200.
func TestWaitNamesLaggingNodes(t *testing.T) {
	const bound = 100 * time.Millisecond
	c := startCluster(t, 1, "", t.TempDir(), bound)
	in := c.nodes[0]
	st := c.open(t)
	ghost := func() { // live, but never reads the log
		t.Helper()
		if err := st.Heartbeat(t.Context(), store.Node{ID: "ghost:1", StartedAt: time.Now(), LastSeenAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	boot := testBootstrap
	must := func(status int, method, path, body string) answer {
		t.Helper()
		return in.must(status, req{method: method, path: path, token: boot, body: body})
	}
	must(201, "POST", "/v1/users", `{"id": "ann", "email": "ann@example.com", "password": "`+annPassword+`"}`)
	must(201, "POST", "/v1/resources", `{"type": "organization", "id": "acme"}`)
	must(200, "PUT", "/v1/resources/organization/acme/grants/user:ann", `{"role": "admin"}`)
	for _, k := range []string{"k1", "k2", "k3"} {
		must(201, "POST", "/v1/keys", `{"name": "k", "id": "`+k+`", "owner": "user:ann"}`)
	}
	leaked := must(201, "POST", "/v1/keys", `{"name": "k", "id": "k5", "owner": "user:ann"}`).json(t)["token"].(string)
	must(201, "POST", "/v1/keys", `{"name": "ci", "id": "b1", "resource": "organization/acme", "role": "member"}`)
	must(201, "POST", "/v1/keys", `{"name": "ci", "id": "b2", "resource": "organization/acme", "role": "member"}`)
	must(200, "POST", "/v1/users/ann/admin", "")
	pat1 := in.mustLogin("ann@example.com", annPassword)
	pat2 := in.mustLogin("ann@example.com", annPassword)

	// A lone node (the ghost not yet there) answers at once.
	must(204, "DELETE", "/v1/keys/k1?wait=propagated", "")
	// Anything but propagated is refused, and nothing is revoked.
	must(400, "DELETE", "/v1/keys/k2?wait=soon", "")
	must(200, "GET", "/v1/keys/k2", "")

	tests := []struct {
		method, path, token, body string
		status                    int
	}{
		{"DELETE", "/v1/keys/k2", boot, "", 202},
		{"POST", "/v1/keys/k3/reissue", boot, "", 202},
		{"POST", "/v1/tokens/revoke", "", `{"token": "` + leaked + `"}`, 200},
		{"DELETE", "/v1/keys?owner=user:ann", boot, "", 202},
		{"DELETE", "/v1/users/ann/admin", boot, "", 202},
		{"DELETE", "/v1/tokens/business/b1", boot, "", 202},
		{"DELETE", "/v1/tokens/business?resource=organization/acme", boot, "", 202},
		{"DELETE", "/v1/tokens/personal", pat1, "", 202},
		{"DELETE", "/v1/tokens/personal/all", pat2, "", 202},
		{"DELETE", "/v1/resources/organization/acme/grants/user:ann", boot, "", 202},
		{"DELETE", "/v1/resources/organization/acme", boot, "", 202},
		{"DELETE", "/v1/users/ann", boot, "", 202},
	}
	for _, tc := range tests {
		ghost()
		start := time.Now()
		path := tc.path + "?wait=propagated"
		if strings.Contains(tc.path, "?") {
			path = tc.path + "&wait=propagated"
		}
		a := in.do(req{method: tc.method, path: path, token: tc.token, body: tc.body})
		took := time.Since(start)
		if a.status != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.method, path, a.status, a.body, tc.status)
			continue
		}
		got := a.json(t)
		if lagging, _ := got["lagging"].([]any); len(lagging) != 1 || lagging[0] != "ghost:1" {
			t.Errorf("%s %s: lagging %v, want [ghost:1]", tc.method, tc.path, got["lagging"])
		}
		if took < bound {
			t.Errorf("%s %s answered after %v, before the bound %v", tc.method, tc.path, took, bound)
		}
		if strings.HasSuffix(tc.path, "/reissue") && got["token"] == nil {
			t.Errorf("a reissue answered at the bound lost its new token: %v", got)
		}
	}
	// Every one of those was made: ann and everything of hers is gone.
	must(404, "GET", "/v1/users/ann", "")
	must(404, "GET", "/v1/resources/organization/acme", "")
}

// TestDefaultNodeID: without server.node_id a node is "<hostname>:<port>", and it is listed
// by the time it answers anything.
func TestDefaultNodeID(t *testing.T) {
	in := start(t, startOpts{})
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no hostname: %v", err)
	}
	_, port, _ := strings.Cut(strings.TrimPrefix(in.base, "http://"), ":")
	got := in.must(200, req{method: "GET", path: "/v1/nodes", token: testBootstrap}).json(t)["nodes"].([]any)
	if len(got) != 1 || got[0].(map[string]any)["id"] != host+":"+port {
		t.Errorf("GET /v1/nodes = %v, want one node %s:%s", got, host, port)
	}
}
