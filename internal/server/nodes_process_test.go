package server

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/fanout"
	"github.com/lanyardhq/lanyard/internal/testenv"
)

// process is one `lanyard serve` OS process of a test. Its instance talks to it, and stops it
// with SIGTERM (an error unless it exits 0).
type process struct {
	*instance
	id, addr string
	args     []string
	bin      string
	cmd      *exec.Cmd
	done     chan struct{} // closed once it exited; exit is then its error
	exit     error
	killed   atomic.Bool
}

// buildLanyard builds the lanyard binary into a directory of t's.
func buildLanyard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lanyard")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "github.com/lanyardhq/lanyard/cmd/lanyard")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr is a loopback address nothing listens on (for a node that is started again at the
// same address).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess runs `lanyard serve --addr addr --node-id id args…` with the test's bootstrap
// token. Unless early, it returns once the node answers /healthz — which a node whose store
// answers does only once it is listed among the nodes.
func startProcess(t *testing.T, bin, id, addr string, early bool, args ...string) *process {
	t.Helper()
	p := &process{id: id, addr: addr, args: args, bin: bin, done: make(chan struct{})}
	logs := &syncBuffer{}
	p.instance = &instance{t: t, base: "http://" + addr, stderr: logs}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr, "--node-id", id}, args...)...)
	p.cmd.Env = []string{BootstrapEnv + "=" + testBootstrap}
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = logs, logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exit = p.cmd.Wait(); close(p.done) }()
	var once sync.Once
	var stopErr error
	p.instance.stop = func() error {
		once.Do(func() {
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
				stopErr = p.exit
			case <-time.After(15 * time.Second):
				p.cmd.Process.Kill()
				<-p.done
				stopErr = fmt.Errorf("%s did not exit within 15 s of SIGTERM", id)
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil && !p.killed.Load() {
			t.Errorf("%s stopped with %v", id, err)
		}
		if t.Failed() {
			t.Logf("the log of %s (pid %d), last lines:\n%s", id, p.cmd.Process.Pid, lastLines(logs.String(), 40))
		}
	})
	if !early {
		p.waitFor(t, 30*time.Second, "/healthz", 200)
	}
	return p
}

// waitFor asks path until it answers status, failing t after d or if the process exits.
func (p *process) waitFor(t *testing.T, d time.Duration, path string, status int) time.Duration {
	t.Helper()
	return within(t, d, p.id+" answers "+path+" with "+fmt.Sprint(status), func() bool {
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v):\n%s", p.id, p.exit, lastLines(p.stderr.String(), 40))
		default:
		}
		s, _ := tryGet(p.base, path, "")
		return s == status
	})
}

// kill ends the process with SIGKILL: no chance to leave the node list or flush anything.
func (p *process) kill(t *testing.T) {
	t.Helper()
	p.killed.Store(true)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// again starts the same node (id, address, flags) anew.
func (p *process) again(t *testing.T, early bool) *process {
	t.Helper()
	return startProcess(t, p.bin, p.id, p.addr, early, p.args...)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// processConfig is the config of the nodes: cheap password hashing, a staleness bound of 1 s,
// and a gateway route (answered by /v1/authz) on the plan metered: limit requests a day per
// organization, counted in Redis in exact mode.
func processConfig(t *testing.T, limit int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lanyard.yaml")
	yaml := fmt.Sprintf(`passwords: {memory_kib: 64, iterations: 1, parallelism: 1}
cache: {staleness: 1s}
plans:
  metered:
    bucket: resource
    windows:
      - {limit: %d, window: 24h}
rate_limit: {mode: exact, redis_down: closed}
gateway:
  routes:
    - path: "/orgs/{id}/{rest...}"
      resource: {type: organization, param: id}
      plan: metered
`, limit)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// forwardAuth asks GET /v1/authz about GET uri with a bearer token and returns the status.
func forwardAuth(t *testing.T, base, uri, token string) int {
	hr, err := http.NewRequest("GET", base+"/v1/authz", nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	hr.Header.Set("X-Forwarded-Method", "GET")
	hr.Header.Set("X-Forwarded-Uri", uri)
	resp, err := probeClient.Do(hr)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestNodesAsProcesses: three `lanyard serve` processes on loopback ports over one fresh
// PostgreSQL database (through a proxy the test can cut) and one Redis. A key made on one works
// on the others; a revocation on one is refused by the others within the bound (measured), and
// with ?wait=propagated by every node on the very next request; a plan's limit holds exactly
// across the three; a node killed with SIGKILL disturbs no other, is waited for only until it
// leaves the node list, and is no longer listed once its heartbeat has expired; and a node
// started while PostgreSQL is down fails closed meanwhile (/healthz included), and serves by
// itself once the database is back (CONTRACT §1, §11.33, §11.53).
func TestNodesAsProcesses(t *testing.T) {
	u, proxy := proxiedDatabase(t)
	rs := testenv.StartRedis(t)
	bin := buildLanyard(t)
	const limit, requests = 40, 150
	args := []string{"--store", u.String(), "--redis", rs.URL(), "--config", processConfig(t, limit), "--data", t.TempDir()}
	c := &cluster{bound: time.Second}
	var procs []*process
	for i := range 3 {
		p := startProcess(t, bin, fmt.Sprintf("node-%d", i+1), freeAddr(t), false, args...)
		procs = append(procs, p)
		c.nodes, c.ids = append(c.nodes, p.instance), append(c.ids, p.id)
	}
	boot := testBootstrap

	// Keys, revocations and waits across processes; the body ends by stopping node-3 with
	// SIGTERM (it must exit 0), after which it is neither listed nor waited for.
	testCluster(t, c, 100)
	if t.Failed() {
		return
	}
	procs[2] = procs[2].again(t, false)
	c.nodes[2] = procs[2].instance
	if got := c.liveIDs(t, 0); !slices.Equal(got, c.ids) {
		t.Fatalf("after node-3 started again, GET /v1/nodes = %q", got)
	}

	// Rate limits stay exact across the three processes: requests spread over them against a
	// plan's limit accept exactly the limit. The plan's window is a UTC day; a burst that
	// straddled midnight is made again on a fresh organization.
	for attempt := 1; ; attempt++ {
		org := fmt.Sprintf("metered-%d", attempt)
		c.nodes[0].must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "` + org + `"}`})
		c.nodes[1].must(200, req{method: "PUT", path: "/v1/resources/organization/" + org + "/grants/user:u", token: boot, body: `{"role": "member"}`})
		_, tok := c.newKey(t, 2, "u")
		day := time.Now().UTC().Truncate(24 * time.Hour)
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := range requests {
			wg.Go(func() {
				s := forwardAuth(t, c.nodes[i%3].base, "/orgs/"+org+"/items", tok)
				mu.Lock()
				statuses[s]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if !time.Now().UTC().Truncate(24*time.Hour).Equal(day) && attempt == 1 {
			continue
		}
		if statuses[200] != limit || statuses[429] != requests-limit {
			t.Fatalf("%d requests over 3 processes against a limit of %d: %v (status: count), want %d allowed and the rest 429",
				requests, limit, statuses, limit)
		}
		t.Logf("%d concurrent requests over 3 processes against a limit of %d: %d allowed, %d refused with 429", requests, limit, statuses[200], statuses[429])
		break
	}

	// A node killed with SIGKILL disturbs no other.
	_, tok := c.newKey(t, 0, "u")
	for i := range c.nodes {
		if s := probe(t, c.nodes[i].base, tok); s != 200 {
			t.Fatalf("the key answers %d on %s", s, c.ids[i])
		}
	}
	procs[1].kill(t)
	killed := time.Now()
	for _, i := range []int{0, 2} {
		if s := probe(t, c.nodes[i].base, tok); s != 200 {
			t.Errorf("with node-2 killed, the key answers %d on %s", s, c.ids[i])
		}
		if s := get(t, c.nodes[i].base, "/readyz", ""); s != 200 {
			t.Errorf("with node-2 killed, /readyz on %s = %d", c.ids[i], s)
		}
	}
	// Until its heartbeat expires the dead node counts as live: a wait names it at the
	// bound, and no later.
	id, _ := c.newKey(t, 0, "u")
	asked := time.Now()
	a := c.nodes[0].do(req{method: "DELETE", path: "/v1/keys/" + id + "?wait=propagated", token: boot})
	took := time.Since(asked)
	if lagging, _ := a.json(t)["lagging"].([]any); a.status != 202 || len(lagging) != 1 || lagging[0] != "node-2" {
		t.Errorf("a revocation waited for with node-2 just killed: %d %s, want 202 naming node-2", a.status, a.body)
	}
	if took < c.bound || took > c.bound+time.Second {
		t.Errorf("a revocation waited for with node-2 just killed answered after %v, want the bound %v", took, c.bound)
	}
	within(t, fanout.LiveWindow+fanout.HeartbeatInterval+5*time.Second, "node-2 leaves GET /v1/nodes", func() bool {
		return slices.Equal(c.liveIDs(t, 2), []string{"node-1", "node-3"})
	})
	t.Logf("node-2 left GET /v1/nodes %v after it was killed (live window %v)", time.Since(killed).Round(100*time.Millisecond), fanout.LiveWindow)
	id, tok2 := c.newKey(t, 2, "u")
	asked = time.Now()
	if s := revokeKey(t, c.nodes[2].base, id, "?wait=propagated"); s != 204 || time.Since(asked) > c.bound/2 {
		t.Errorf("once node-2 left the list, DELETE ?wait=propagated = %d after %v, want 204 at once", s, time.Since(asked))
	}
	for _, i := range []int{0, 2} {
		if s := probe(t, c.nodes[i].base, tok2); s != 401 {
			t.Errorf("after a revocation waited for, the key answers %d on %s", s, c.ids[i])
		}
	}

	// PostgreSQL goes down, and node-2 starts meanwhile: it listens and fails closed on
	// everything, /healthz included (it is not listed yet), and serves by itself once the database is back.
	proxy.cut()
	procs[1] = procs[1].again(t, true)
	c.nodes[1] = procs[1].instance
	procs[1].waitFor(t, 30*time.Second, "/healthz", 503)
	tick := time.NewTicker(50 * time.Millisecond) // paces the probes over the outage
	for range 20 {
		if s := get(t, c.nodes[1].base, "/readyz", ""); s != 503 {
			t.Fatalf("node-2, started with PostgreSQL down: /readyz = %d, want 503", s)
		}
		for what, s := range map[string]int{
			"GET /v1/me (bootstrap token)": probe(t, c.nodes[1].base, boot),
			"GET /v1/me (a key)":           probe(t, c.nodes[1].base, tok),
			"GET /v1/authz (a key)":        forwardAuth(t, c.nodes[1].base, "/orgs/metered-1/items", tok),
		} {
			if s != 503 {
				t.Fatalf("node-2, started with PostgreSQL down: %s = %d, want 503", what, s)
			}
		}
		<-tick.C
	}
	tick.Stop()
	// A node waiting for its store stops at once on SIGTERM, with exit 0.
	extra := startProcess(t, bin, "node-4", freeAddr(t), true, args...)
	extra.waitFor(t, 30*time.Second, "/healthz", 503)
	asked = time.Now()
	if err := extra.stop(); err != nil || time.Since(asked) > 3*time.Second {
		t.Errorf("SIGTERM to a node waiting for its store: %v after %v, want exit 0 at once", err, time.Since(asked))
	}
	proxy.restore()
	for i, p := range procs {
		d := p.waitFor(t, 15*time.Second, "/readyz", 200)
		t.Logf("%s ready %v after PostgreSQL came back", c.ids[i], d.Round(time.Millisecond))
	}
	for i := range c.nodes {
		if got := c.liveIDs(t, i); !slices.Equal(got, c.ids) {
			t.Errorf("after the outage, GET /v1/nodes on %s = %q", c.ids[i], got)
		}
	}
	if s := probe(t, c.nodes[1].base, tok); s != 200 {
		t.Errorf("on node-2, started during the outage, the key answers %d", s)
	}
	id, tok3 := c.newKey(t, 1, "u")
	for i := range c.nodes {
		if s := probe(t, c.nodes[i].base, tok3); s != 200 {
			t.Fatalf("a key made after the outage answers %d on %s", s, c.ids[i])
		}
	}
	if s := revokeKey(t, c.nodes[1].base, id, "?wait=propagated"); s != 204 {
		t.Errorf("after the outage, DELETE ?wait=propagated on node-2 = %d, want 204", s)
	}
	for i := range c.nodes {
		if s := probe(t, c.nodes[i].base, tok3); s != 401 {
			t.Errorf("after a revocation waited for, the key answers %d on %s", s, c.ids[i])
		}
	}
}
