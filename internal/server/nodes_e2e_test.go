package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/postgres"
	"github.com/lanyardhq/lanyard/internal/store/postgres/pgtest"
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

// probe asks GET /v1/me with a bearer token and returns the status, without the harness's
// OpenAPI check (it runs in timed loops).
var probeClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}

func probe(t *testing.T, base, token string) int { return get(t, base, "/v1/me", token) }

// get asks GET path (with a bearer token, when one is given) and returns the status.
func get(t *testing.T, base, path, token string) int {
	s, err := tryGet(base, path, token)
	if err != nil {
		t.Error(err)
	}
	return s
}

// tryGet is get for a server that may not listen yet: a failed request is an error, not a
// failed test.
func tryGet(base, path, token string) (int, error) {
	hr, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := probeClient.Do(hr)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// revoke deletes a key with a raw request (no OpenAPI check: it is timed) and returns the status.
func revokeKey(t *testing.T, base, id, query string) int {
	hr, err := http.NewRequest("DELETE", base+"/v1/keys/"+id+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+testBootstrap)
	resp, err := probeClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (c *cluster) newKey(t *testing.T, on int, owner string) (id, token string) {
	t.Helper()
	k := c.nodes[on].must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap,
		body: `{"name": "k", "owner": "user:` + owner + `"}`}).json(t)
	return k["id"].(string), k["token"].(string)
}

// liveIDs is GET /v1/nodes on node on, as sorted ids.
func (c *cluster) liveIDs(t *testing.T, on int) []string {
	t.Helper()
	got := c.nodes[on].must(200, req{method: "GET", path: "/v1/nodes", token: testBootstrap}).json(t)
	var ids []string
	for _, n := range got["nodes"].([]any) {
		m := n.(map[string]any)
		for _, f := range []string{"started_at", "last_seen_at"} {
			at, err := time.Parse(time.RFC3339, m[f].(string))
			if err != nil || time.Since(at) > time.Minute || time.Until(at) > time.Minute {
				t.Errorf("node %v: %s = %v", m["id"], f, m[f])
			}
		}
		ids = append(ids, m["id"].(string))
	}
	sort.Strings(ids)
	return ids
}

// testCluster is the multi-node body, run over SQLite and PostgreSQL: the nodes list each other,
// a key made on one works on all, a revocation on one is refused by the others within the
// bound (measured over revocations revocations), and with ?wait=propagated the very next
// request on every node is refused.
func testCluster(t *testing.T, c *cluster, revocations int) {
	n := len(c.nodes)
	for i := range c.nodes {
		if got := c.liveIDs(t, i); !slices.Equal(got, c.ids) {
			t.Fatalf("GET /v1/nodes on %s = %q, want %q", c.ids[i], got, c.ids)
		}
	}
	c.nodes[0].must(201, req{method: "POST", path: "/v1/users", token: testBootstrap, body: `{"id": "u", "email": "u@example.com"}`})

	// A key made on one node works on every node.
	_, shared := c.newKey(t, 1%n, "u")
	for i, in := range c.nodes {
		if s := probe(t, in.base, shared); s != 200 {
			t.Fatalf("the key made on %s answers %d on %s", c.ids[1%n], s, c.ids[i])
		}
	}

	// Revocation on one node, refused by the others: measured from the revoking call's answer
	// to the first refused request on each other node, which asks every 2 ms.
	var mu sync.Mutex
	var lat []time.Duration
	for r := range revocations {
		origin := r % n
		id, tok := c.newKey(t, origin, "u")
		for _, in := range c.nodes {
			if s := probe(t, in.base, tok); s != 200 { // cached on every node now
				t.Fatalf("new key %s answers %d on %s", id, s, in.base)
			}
		}
		if s := revokeKey(t, c.nodes[origin].base, id, ""); s != 204 {
			t.Fatalf("DELETE /v1/keys/%s: %d", id, s)
		}
		revoked := time.Now()
		if s := probe(t, c.nodes[origin].base, tok); s != 401 {
			t.Fatalf("the revoked key answers %d on the node that revoked it", s)
		}
		var wg sync.WaitGroup
		for i, in := range c.nodes {
			if i == origin {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(2 * time.Millisecond) // paces the probes; waits for nothing
				defer tick.Stop()
				for probe(t, in.base, tok) != 401 {
					if time.Since(revoked) > 5*c.bound {
						t.Errorf("key %s revoked on %s still works on %s after %v", id, c.ids[origin], c.ids[i], time.Since(revoked))
						return
					}
					<-tick.C
				}
				d := time.Since(revoked)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("revocation seen by the other nodes, %d revocations on %d nodes (%d samples): p50 %v, p99 %v, max %v (bound %v)",
		revocations, n, len(lat), pct(0.50).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond),
		lat[len(lat)-1].Round(100*time.Microsecond), c.bound)
	if p99 := pct(0.99); p99 > c.bound {
		t.Errorf("p99 %v is over the staleness bound %v", p99, c.bound)
	}

	// ?wait=propagated: when the call answers, the very next request on every node is refused.
	var waits []time.Duration
	for r := range 10 {
		origin := r % n
		id, tok := c.newKey(t, origin, "u")
		for _, in := range c.nodes {
			if s := probe(t, in.base, tok); s != 200 {
				t.Fatalf("new key %s answers %d", id, s)
			}
		}
		start := time.Now()
		if s := revokeKey(t, c.nodes[origin].base, id, "?wait=propagated"); s != 204 {
			t.Fatalf("DELETE /v1/keys/%s?wait=propagated on %s: %d, want 204", id, c.ids[origin], s)
		}
		took := time.Since(start)
		waits = append(waits, took)
		for i, in := range c.nodes {
			if s := probe(t, in.base, tok); s != 401 {
				t.Errorf("right after a revocation waited for (%v), the key answers %d on %s", took, s, c.ids[i])
			}
		}
	}
	slices.Sort(waits)
	t.Logf("DELETE ?wait=propagated answered in: median %v, max %v (10 calls)",
		waits[len(waits)/2].Round(100*time.Microsecond), waits[len(waits)-1].Round(100*time.Microsecond))

	// A node that stops is no longer listed, and no longer waited for.
	if err := c.nodes[n-1].stop(); err != nil {
		t.Fatal(err)
	}
	if got := c.liveIDs(t, 0); !slices.Equal(got, c.ids[:n-1]) {
		t.Errorf("after %s stopped, GET /v1/nodes = %q", c.ids[n-1], got)
	}
	id, _ := c.newKey(t, 0, "u")
	start := time.Now()
	if s := revokeKey(t, c.nodes[0].base, id, "?wait=propagated"); s != 204 || time.Since(start) > c.bound {
		t.Errorf("with a stopped node, DELETE ?wait=propagated answered %d after %v", s, time.Since(start))
	}
}

// TestNodesOnPostgres: three nodes over one PostgreSQL database (CONTRACT §1, §11.33).
func TestNodesOnPostgres(t *testing.T) {
	dsn := pgtest.Database(t)
	c := startCluster(t, 3, dsn, "", time.Second)
	testCluster(t, c, 200)
}

// TestNodesOnSQLite: the same with three nodes over one SQLite file (processes on one machine
// sharing --data), with fewer revocations.
func TestNodesOnSQLite(t *testing.T) {
	c := startCluster(t, 3, "", t.TempDir(), time.Second)
	testCluster(t, c, 30)
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

// pgProxy is a TCP proxy in front of the test's PostgreSQL server that a test can cut: a
// database that is briefly unreachable for the nodes, without stopping a server others use.
type pgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func startPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

// proxiedDatabase makes a fresh PostgreSQL database and returns its URL through a pgProxy in
// front of the test's server, and the proxy.
func proxiedDatabase(t *testing.T) (*url.URL, *pgProxy) {
	t.Helper()
	u, err := url.Parse(pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startPGProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	return u, proxy
}

func (p *pgProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *pgProxy) serve(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// cut closes every connection and refuses new ones until restore.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *pgProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// within asks f every 20 ms until it is true, failing the test after d.
func within(t *testing.T, d time.Duration, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !f() {
		if time.Since(start) > d {
			t.Fatalf("%s: not after %v", what, d)
		}
		<-tick.C
	}
	return time.Since(start)
}

// TestNodesSurviveADatabaseOutage: while PostgreSQL cannot be reached, nodes fail closed —
// /readyz 503, a credential not cached 503, a cached one 503 once the staleness bound has
// passed, never a 2xx — and when it can again, they recover by themselves: the revocation
// fan-out resumes without help, and a revocation waited for is refused everywhere at once.
func TestNodesSurviveADatabaseOutage(t *testing.T) {
	u, proxy := proxiedDatabase(t)
	c := startCluster(t, 2, u.String(), "", time.Second)
	c.nodes[0].must(201, req{method: "POST", path: "/v1/users", token: testBootstrap, body: `{"id": "u", "email": "u@example.com"}`})
	id, cached := c.newKey(t, 0, "u")
	_, uncached := c.newKey(t, 0, "u")
	for _, in := range c.nodes {
		if s := probe(t, in.base, cached); s != 200 {
			t.Fatalf("key answers %d", s)
		}
	}

	proxy.cut()
	cutAt := time.Now()
	for i, in := range c.nodes {
		if s := get(t, in.base, "/readyz", ""); s != 503 {
			t.Errorf("with the database cut off, /readyz on %s = %d, want 503", c.ids[i], s)
		}
		if s := probe(t, in.base, uncached); s != 503 {
			t.Errorf("with the database cut off, a key %s has not cached answers %d, want 503", c.ids[i], s)
		}
	}
	// The cached key still works until the bound, then fails closed.
	d := within(t, 5*time.Second, "the cached key fails closed", func() bool {
		s := probe(t, c.nodes[1].base, cached)
		if s != 200 && s != 503 {
			t.Fatalf("during the outage the cached key answers %d", s)
		}
		return s == 503
	})
	if since := time.Since(cutAt); since > c.bound+500*time.Millisecond {
		t.Errorf("the cached key worked for %v after the cut (%v of polling), past the bound %v", since, d, c.bound)
	}

	proxy.restore()
	for i, in := range c.nodes {
		d := within(t, 15*time.Second, "/readyz on "+c.ids[i]+" after the outage", func() bool { return get(t, in.base, "/readyz", "") == 200 })
		t.Logf("%s ready %v after the database came back", c.ids[i], d)
	}
	if s := probe(t, c.nodes[1].base, cached); s != 200 {
		t.Fatalf("after the outage the key answers %d on %s", s, c.ids[1])
	}
	if s := revokeKey(t, c.nodes[0].base, id, "?wait=propagated"); s != 204 {
		t.Fatalf("after the outage, DELETE ?wait=propagated = %d, want 204 (the other node's fan-out did not resume)", s)
	}
	if s := probe(t, c.nodes[1].base, cached); s != 401 {
		t.Errorf("after a revocation waited for, the key answers %d on %s", s, c.ids[1])
	}
}
