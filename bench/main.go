// Command bench measures lanyard against its baselines in one run on loopback, as ratios
// (DESIGN.md "Performance targets"):
//
//	(a)  a bare net/http handler writing a small JSON answer
//	(b)  a bare httputil.ReverseProxy to an upstream
//	(b2) the same with a BufferPool
//	(c)  lanyard's gateway with key auth (and authorization) to the same upstream
//	(d)  POST /v1/verify
//	(e)  GET /v1/authz
//	(f)  GET /v1/me with a key (the native API)
//	(g)  the gateway with a key and two layered scoped tokens; (h) issuing a scoped token
//	(i)  the gateway with a plan, in process; (j) through Redis exact; (k) through Redis fast
//	(l)  GET /v1/authz with a plan, in process; (m) through Redis exact — forward auth with
//	     one Redis round trip per request, the case DESIGN.md's ≥ 0.40 (a) is about
//	(n)  POST /v1/verify with a plan, in process; (o) through Redis exact; (p) through Redis
//	     fast — the limiter's decision as a ratio to (d), the verify path without a limit
//
// Every case runs at one connection and at saturation, interleaved and repeated (-rounds),
// and the best round of each is reported: requests/s, p50 and p99, and each ratio against its
// target. The servers run in one process and the load generator in another; on Linux, with
// taskset available, each is pinned to its own core (-pin), so the generator does not starve the
// servers on a small machine. Nothing leaves 127.0.0.1.
//
//	go run ./bench                  # 3 s per case, 2 rounds
//	go run ./bench -duration 5s -rounds 3 -conns 64
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/lanyardhq/lanyard/bench/internal/loadgen"
)

func main() {
	serveMode := flag.Bool("serve", false, "internal: run the servers and print their addresses")
	loadMode := flag.String("load", "", "internal: run one load (JSON spec) and print the result")
	duration := flag.Duration("duration", 3*time.Second, "how long each case runs")
	rounds := flag.Int("rounds", 2, "how many times every case runs (interleaved); the best counts")
	conns := flag.Int("conns", 32, "connections at saturation")
	pin := flag.Bool("pin", true, "pin the servers and the load generator to a core each (taskset)")
	redisURL := flag.String("redis", "", "a Redis (redis://127.0.0.1:6379/0) for the gateway case with a plan shared through Redis; none: skipped")
	flag.Parse()
	switch {
	case *serveMode:
		if err := serve(*redisURL); err != nil {
			fmt.Fprintln(os.Stderr, "bench: serve:", err)
			os.Exit(1)
		}
		return
	case *loadMode != "":
		if err := loadFromSpec(*loadMode); err != nil {
			fmt.Fprintln(os.Stderr, "bench: load:", err)
			os.Exit(1)
		}
		return
	}
	if err := orchestrate(*duration, *rounds, *conns, *pin, *redisURL); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func orchestrate(duration time.Duration, rounds, conns int, pin bool, redisURL string) error {
	srv := loadgen.Command(pin, 0, "-serve", "-redis", redisURL)
	srv.Env = append(os.Environ(), "GOMAXPROCS=1")
	srv.Stderr = os.Stderr
	out, err := srv.StdoutPipe()
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	var t targets
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the servers did not start: %w", err)
	}
	if err := json.Unmarshal([]byte(line), &t); err != nil {
		return err
	}
	cases := t.cases()
	best := map[string]map[int]result{}
	for round := 0; round < rounds; round++ {
		for _, c := range cases {
			for _, n := range []int{1, conns} {
				spec, _ := json.Marshal(loadSpec{Case: c, Conns: n, Duration: duration})
				cmd := loadgen.Command(pin, 1, "-load", string(spec))
				cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
				cmd.Stderr = os.Stderr
				b, err := cmd.Output()
				if err != nil {
					return fmt.Errorf("%s at %d connections: %w", c.Name, n, err)
				}
				var r result
				if err := json.Unmarshal(b, &r); err != nil {
					return err
				}
				if r.Errors > 0 {
					return fmt.Errorf("%s at %d connections: %d requests failed (first: %s)", c.Name, n, r.Errors, r.FirstError)
				}
				if best[c.Name] == nil {
					best[c.Name] = map[int]result{}
				}
				if prev, ok := best[c.Name][n]; !ok || r.RPS > prev.RPS {
					best[c.Name][n] = r
				}
			}
		}
	}
	report(os.Stdout, cases, best, conns, pin)
	return nil
}

// report prints the table and the ratios against DESIGN.md's targets.
func report(w *os.File, cases []benchCase, best map[string]map[int]result, conns int, pinned bool) {
	fmt.Fprintf(w, "lanyard bench — loopback, best of the rounds, servers and load generator %s\n\n", map[bool]string{true: "pinned to a core each", false: "unpinned"}[pinned])
	fmt.Fprintf(w, "| case | req/s (1 conn) | p50 | p99 | req/s (%d conns) | p50 | p99 |\n|---|---:|---:|---:|---:|---:|---:|\n", conns)
	for _, c := range cases {
		one, sat := best[c.Name][1], best[c.Name][conns]
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %.0f | %s | %s |\n", c.Name, one.RPS, ms(one.P50), ms(one.P99), sat.RPS, ms(sat.P50), ms(sat.P99))
	}
	rps := func(name string) float64 { return best[name][conns].RPS }
	p99 := func(name string) float64 { return float64(best[name][1].P99) }
	fmt.Fprintf(w, "\n| ratio (saturation unless noted) | measured | target |\n|---|---:|---|\n")
	row := func(what string, v float64, target string) { fmt.Fprintf(w, "| %s | %.2f | %s |\n", what, v, target) }
	row("native GET /v1/me ÷ (a)", rps("f native /v1/me")/rps("a bare handler"), "≥ 0.90")
	row("(e) /v1/authz ÷ (a)", rps("e /v1/authz")/rps("a bare handler"), "≥ 0.90")
	row("(e) /v1/authz p99 at 1 conn ÷ (a)", p99("e /v1/authz")/p99("a bare handler"), "≤ 1.5")
	row("(d) /v1/verify ÷ (a)", rps("d /v1/verify")/rps("a bare handler"), "≥ 0.80")
	row("(c) gateway ÷ (b2)", rps("c gateway")/rps("b2 proxy+pool"), "≥ 0.90")
	row("(c) gateway ÷ (b)", rps("c gateway")/rps("b proxy"), "≥ 1.3")
	row("(c) gateway p99 at 1 conn ÷ (b2)", p99("c gateway")/p99("b2 proxy+pool"), "≤ 1.2")
	row("(g) key + event + collaborator tokens ÷ (c) key alone", rps("g gateway, key + event + collaborator tokens")/rps("c gateway"), "≥ 0.90")
	row("(i) gateway with a plan in process ÷ (c) without", rps("i gateway with a plan, in process")/rps("c gateway"), "—")
	if _, ok := best["j gateway with a plan, Redis exact"]; ok {
		row("(j) gateway with a plan through Redis (exact) ÷ (a)", rps("j gateway with a plan, Redis exact")/rps("a bare handler"), "≥ 0.40")
		row("(j) Redis exact ÷ (i) in process", rps("j gateway with a plan, Redis exact")/rps("i gateway with a plan, in process"), "—")
		row("(k) gateway with a plan through Redis (fast) ÷ (i) in process", rps("k gateway with a plan, Redis fast")/rps("i gateway with a plan, in process"), "≥ 0.90")
		row("(m) /v1/authz with a plan through Redis (exact) ÷ (a)", rps("m /v1/authz with a plan, Redis exact")/rps("a bare handler"), "≥ 0.40")
		row("(m) Redis exact ÷ (l) /v1/authz with a plan in process", rps("m /v1/authz with a plan, Redis exact")/rps("l /v1/authz with a plan, in process"), "—")
		row("(o) /v1/verify with a plan through Redis (exact) ÷ (a)", rps("o /v1/verify with a plan, Redis exact")/rps("a bare handler"), "≥ 0.40")
		row("(o) verify, Redis exact ÷ (d) verify without a limit", rps("o /v1/verify with a plan, Redis exact")/rps("d /v1/verify"), "—")
		row("(p) verify, Redis fast ÷ (d) verify without a limit", rps("p /v1/verify with a plan, Redis fast")/rps("d /v1/verify"), "—")
		row("(p) verify, Redis fast ÷ (n) in process", rps("p /v1/verify with a plan, Redis fast")/rps("n /v1/verify with a plan, in process"), "≥ 0.90")
	}
	row("(l) /v1/authz with a plan in process ÷ (e) without", rps("l /v1/authz with a plan, in process")/rps("e /v1/authz"), "—")
	row("(n) verify, in process ÷ (d) verify without a limit", rps("n /v1/verify with a plan, in process")/rps("d /v1/verify"), "—")
	fmt.Fprintf(w, "\nscoped tokens issued per second (GET /Events/e1/authorize, %d conns): %.0f\n", conns, rps("h issue an event token"))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// cases are the loads, in the order they run.
func (t targets) cases() []benchCase {
	key := "Bearer " + t.Key
	out := []benchCase{
		{Name: "a bare handler", Method: "GET", URL: t.Bare + "/v1/me"},
		{Name: "b proxy", Method: "GET", URL: t.Proxy + "/orgs/acme/items"},
		{Name: "b2 proxy+pool", Method: "GET", URL: t.ProxyPool + "/orgs/acme/items"},
		{Name: "c gateway", Method: "GET", URL: t.Lanyard + "/orgs/acme/items", Header: map[string]string{"Authorization": key}},
		{Name: "d /v1/verify", Method: "POST", URL: t.Lanyard + "/v1/verify",
			Body: `{"token": "` + t.Key + `", "resource": "organization/acme", "permission": "read"}`},
		{Name: "e /v1/authz", Method: "GET", URL: t.Lanyard + "/v1/authz",
			Header: map[string]string{"Authorization": key, "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/orgs/acme/items"}},
		{Name: "f native /v1/me", Method: "GET", URL: t.Lanyard + "/v1/me", Header: map[string]string{"Authorization": key}},
		{Name: "g gateway, key + event + collaborator tokens", Method: "GET", URL: t.Lanyard + "/Collaborators/c1/items",
			Header: map[string]string{"Authorization": key, "x-Event-Token": t.Event, "x-Collaborator-Token": t.Collaborator}},
		{Name: "h issue an event token", Method: "GET", URL: t.Lanyard + "/Events/e1/authorize", Header: map[string]string{"Authorization": key}},
		{Name: "i gateway with a plan, in process", Method: "GET", URL: t.Lanyard + "/limited/acme/items", Header: map[string]string{"Authorization": key}},
	}
	authzLimited := func(key string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + key, "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/limited/acme/items"}
	}
	verifyPlan := func(key string) string {
		return `{"token": "` + key + `", "resource": "organization/acme", "permission": "read"}`
	}
	out = append(out, benchCase{Name: "l /v1/authz with a plan, in process", Method: "GET", URL: t.Lanyard + "/v1/authz", Header: authzLimited(t.Key)},
		benchCase{Name: "n /v1/verify with a plan, in process", Method: "POST", URL: t.Lanyard + "/v1/verify", Body: verifyPlan(t.KeyPlan)})
	if t.LanyardRedis != "" {
		out = append(out, benchCase{Name: "j gateway with a plan, Redis exact", Method: "GET", URL: t.LanyardRedis + "/limited/acme/items",
			Header: map[string]string{"Authorization": "Bearer " + t.KeyRedis}},
			benchCase{Name: "k gateway with a plan, Redis fast", Method: "GET", URL: t.LanyardFast + "/limited/acme/items",
				Header: map[string]string{"Authorization": "Bearer " + t.KeyFast}},
			benchCase{Name: "m /v1/authz with a plan, Redis exact", Method: "GET", URL: t.LanyardRedis + "/v1/authz", Header: authzLimited(t.KeyRedis)},
			benchCase{Name: "o /v1/verify with a plan, Redis exact", Method: "POST", URL: t.LanyardRedis + "/v1/verify", Body: verifyPlan(t.KeyPlanRedis)},
			benchCase{Name: "p /v1/verify with a plan, Redis fast", Method: "POST", URL: t.LanyardFast + "/v1/verify", Body: verifyPlan(t.KeyPlanFast)})
	}
	return out
}

// targets are the servers' addresses and the key the lanyard cases present.
type targets struct {
	Bare, Proxy, ProxyPool, Lanyard, Key string
	KeyPlan                              string // a key with the plan "bench", for verify with a plan
	Event, Collaborator                  string
	LanyardRedis, KeyRedis, KeyPlanRedis string // a second lanyard whose plans go through Redis (exact)
	LanyardFast, KeyFast, KeyPlanFast    string // a third, through Redis in fast mode
}

type benchCase struct {
	Name, Method, URL, Body string
	Header                  map[string]string
}
