package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// propagationPhase is one state of the fan-out and what was measured in it.
type propagationPhase struct {
	name, target, note string
	took               []time.Duration // sorted once the phase ends
	missed             int
}

// pct is the p-th percentile of the phase's times (nearest rank; 100 is the largest).
func (p *propagationPhase) pct(pc int) time.Duration {
	if len(p.took) == 0 {
		return 0
	}
	return p.took[max(0, (len(p.took)*pc+99)/100-1)]
}

// give up on a revocation the other node has not seen after this long: five times the bound.
var notSeenAfter = 5 * staleness

// propagation measures revocations between two nodes, a and b, over db, each time from the
// answer to DELETE /v1/keys/{id} on a to b's first refusal of the key: without Redis, n with
// the revocation log as it is, n with it locked and n/5 once it is unlocked; then, when
// redisServer names a redis-server binary, with a Redis of the benchmark's own, n with it up,
// n with it stopped and n once it is back.
//
// The revocation log is where revocations live: every node reads it, every 25 ms without
// Redis (internal/fanout). With Redis (server.redis), pub/sub is only the wake-up: the node
// that appended publishes, the others read the log at once, and read it every quarter of the
// staleness bound otherwise; when the subscription drops they read it every 25 ms again, and
// subscribe again by themselves. So there are two things to drop. Redis is dropped by stopping
// it. The log is dropped by holding LOCK TABLE revocations IN ACCESS EXCLUSIVE MODE in a
// transaction of our own: every node's reads and appends of the log then wait (and give up at
// the staleness bound, again and again) while everything else the store serves answers as
// before; then only the expiry of the nodes' cache entries carries a revocation.
func propagation(ctx context.Context, pin bool, db *database, n int, rng *rand.Rand, redisServer string) ([]propagationPhase, error) {
	phases, err := logPhases(ctx, pin, db, n, rng)
	if err != nil || redisServer == "" {
		return phases, err
	}
	bus, err := busPhases(ctx, pin, db, n, rng, redisServer)
	return append(phases, bus...), err
}

// logPhases measures the fan-out of nodes without Redis: with the log as it is, locked, and
// unlocked. The lock is checked by finding lanyard's sessions waiting on it.
func logPhases(ctx context.Context, pin bool, db *database, n int, rng *rand.Rand) ([]propagationPhase, error) {
	bases, stop, _, err := startNodes(pin, "", "a="+db.dsn, "b="+db.dsn)
	if err != nil {
		return nil, err
	}
	defer stop()
	m := revoker{a: bases["a"], b: bases["b"], resource: db.d.orgRef(0), rng: rng}
	polled := propagationPhase{name: "no Redis (log polled every 25 ms)", target: "p99 ≤ 50 ms"}
	locked := propagationPhase{name: "log locked (staleness bound)", target: "≤ 1 s, the staleness bound"}
	unlocked := propagationPhase{name: "log unlocked", target: "as no Redis"}
	if err := m.measure(&polled, n); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "LOCK TABLE revocations IN ACCESS EXCLUSIVE MODE"); err != nil {
		return nil, err
	}
	waiting, err := waitingOnLog(ctx, tx, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if waiting == 0 {
		return nil, fmt.Errorf("no node waits on the locked revocation log: the fan-out was not dropped")
	}
	if err := m.measure(&locked, n); err != nil {
		return nil, err
	}
	waitingAtEnd, err := waitingOnLog(ctx, tx, 2*time.Second)
	if err != nil {
		return nil, err
	}
	locked.note = fmt.Sprintf("lanyard sessions waiting on the log's lock: %d when the phase began, %d when it ended", waiting, waitingAtEnd)
	if err := tx.Rollback(ctx); err != nil {
		return nil, err
	}
	if err := m.measure(&unlocked, max(1, n/5)); err != nil {
		return nil, err
	}
	return []propagationPhase{polled, locked, unlocked}, stop()
}

// busPhases measures the fan-out of nodes given a Redis of their own, started from
// redisServer: with it up, stopped, and started again. Each change is checked in the nodes'
// log (the fan-out says when its notifications stop and when they are on) and, while Redis is
// up, by the subscribers Redis counts; the notifications are counted by the PUBLISH calls Redis
// served.
func busPhases(ctx context.Context, pin bool, db *database, n int, rng *rand.Rand, redisServer string) ([]propagationPhase, error) {
	r, err := startRedis(ctx, redisServer)
	if err != nil {
		return nil, err
	}
	defer r.close()
	begun := time.Now()
	bases, stop, logs, err := startNodes(pin, r.url(), "a="+db.dsn, "b="+db.dsn)
	if err != nil {
		return nil, err
	}
	defer stop()
	if _, err := r.subscribed(ctx, logs, begun, "a", "b"); err != nil {
		return nil, err
	}
	m := revoker{a: bases["a"], b: bases["b"], resource: db.d.orgRef(0), rng: rng}
	up := propagationPhase{name: "Redis bus up", target: "p99 ≤ 50 ms"}
	down := propagationPhase{name: "Redis down (log polled every 25 ms)", target: "≤ 1 s, the staleness bound; as no Redis"}
	back := propagationPhase{name: "Redis back", target: "as Redis bus up"}
	note, err := m.measureBus(ctx, r, &up, n)
	if err != nil {
		return nil, err
	}
	up.note = fmt.Sprintf("Redis %s on this machine; %s", r.version(ctx), note)

	stopped, clientLines := time.Now(), logs.clientLines()
	r.stop()
	took, err := logs.await(busStopped, stopped, 5*time.Second, "a", "b")
	if err != nil {
		return nil, err
	}
	if err := m.measure(&down, n); err != nil {
		return nil, err
	}
	down.note = fmt.Sprintf("both nodes logged that their notifications stopped %s after Redis was sent SIGTERM; "+
		"their Redis client wrote %d lines of its own to stderr (\"redis: … connection refused\", outside lanyard's log) in the %s Redis was down",
		took.Round(time.Millisecond), logs.clientLines()-clientLines, time.Since(stopped).Round(time.Second))

	if err := r.start(ctx); err != nil {
		return nil, err
	}
	if took, err = r.subscribed(ctx, logs, r.started, "a", "b"); err != nil {
		return nil, fmt.Errorf("once Redis was back: %w", err)
	}
	if note, err = m.measureBus(ctx, r, &back, n); err != nil {
		return nil, err
	}
	back.note = fmt.Sprintf("Redis answered %s after it was started again, and both nodes had subscribed again by themselves %s after that (their log: %q; Redis: 2 subscribers); %s",
		r.answered.Sub(r.started).Round(time.Millisecond), (took - r.answered.Sub(r.started)).Round(time.Millisecond), busOn, note)
	return []propagationPhase{up, down, back}, stop()
}

// revoker makes keys on a, revokes them there and times how long b takes to refuse them.
type revoker struct {
	a, b, resource string
	rng            *rand.Rand
}

// measure times count revocations into p, each after a random wait of up to the staleness
// bound (a revocation comes at any moment of a cached entry's life).
func (m revoker) measure(p *propagationPhase, count int) error {
	for range count {
		took, err := revokeOnce(m.a, m.b, m.resource, time.Duration(m.rng.Int64N(int64(staleness))))
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if took < 0 {
			p.missed++
			continue
		}
		p.took = append(p.took, took)
	}
	slices.Sort(p.took)
	return nil
}

// measureBus is measure with Redis up: it checks that both nodes are still subscribed at the
// end, and notes how many notifications Redis carried meanwhile.
func (m revoker) measureBus(ctx context.Context, r *ownRedis, p *propagationPhase, count int) (string, error) {
	before, err := r.publishes(ctx)
	if err != nil {
		return "", err
	}
	if err := m.measure(p, count); err != nil {
		return "", err
	}
	after, err := r.publishes(ctx)
	if err != nil {
		return "", err
	}
	if subs, err := r.subscribers(ctx); err != nil || subs != 2 {
		return "", fmt.Errorf("%s: Redis counts %d subscribers at the end, not 2 (%v)", p.name, subs, err)
	}
	return fmt.Sprintf("%d notifications published (PUBLISH) for %d revocations", after-before, count), nil
}

// reportPropagation prints the fan-out's table of the two nodes over db in Markdown.
func reportPropagation(w io.Writer, db *database, prop []propagationPhase) {
	fmt.Fprintf(w, "revocation seen by the other node (two nodes over the %s database; from the revoking call's answer to the first refusal, probed every ms)\n\n", label(db))
	fmt.Fprintf(w, "| fan-out | revocations | p50 | p99 | max | not seen in 5 s | target |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, p := range prop {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %d | %s |\n", p.name, len(p.took), ms(float64(p.pct(50))), ms(float64(p.pct(99))), ms(float64(p.pct(100))), p.missed, p.target)
	}
	for _, p := range prop {
		if p.note != "" {
			fmt.Fprintf(w, "\n%s: %s\n", p.name, p.note)
		}
	}
}

// waitingOnLog counts lanyard's sessions waiting for a lock on the revocation log, looking
// for at least one for up to wait.
func waitingOnLog(ctx context.Context, tx pgx.Tx, wait time.Duration) (int, error) {
	end := time.Now().Add(wait)
	for {
		// pg_stat_activity is read once per transaction unless told to read it again, and the
		// sessions that wait come and go: each gives up at the staleness bound.
		if _, err := tx.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
			return 0, err
		}
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
			WHERE l.relation = 'revocations'::regclass AND NOT l.granted AND s.application_name = 'lanyard'`).Scan(&n)
		if err != nil || n > 0 || time.Now().After(end) {
			return n, err
		}
		time.Sleep(25 * time.Millisecond)
	}
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}

// revokeOnce makes a key on a, has both nodes cache it, waits delay (a revocation comes at any
// moment of a cached entry's life), deletes the key on a and returns how long b went on
// accepting it after the delete's answer: -1 when b still did after notSeenAfter. The node
// that revokes must refuse the key at once.
func revokeOnce(a, b, resource string, delay time.Duration) (time.Duration, error) {
	var k struct{ ID, Token string }
	body := fmt.Sprintf(`{"name": "propagation", "resource": %q, "role": "member"}`, resource)
	if err := call("POST", a+"/v1/keys", body, true, http.StatusCreated, &k); err != nil {
		return 0, err
	}
	for _, node := range []string{a, b} {
		if ok, err := valid(node, k.Token); err != nil || !ok {
			return 0, fmt.Errorf("a new key is not valid on %s (%v)", node, err)
		}
	}
	time.Sleep(delay)
	if err := call("DELETE", a+"/v1/keys/"+k.ID, "", true, http.StatusNoContent, nil); err != nil {
		return 0, err
	}
	revoked := time.Now()
	if ok, err := valid(a, k.Token); err != nil || ok {
		return 0, fmt.Errorf("the revoking node accepted its revoked key (%v)", err)
	}
	for {
		ok, err := valid(b, k.Token)
		took := time.Since(revoked)
		switch {
		case err != nil:
			return 0, err
		case !ok:
			return took, nil
		case took > notSeenAfter:
			return -1, nil
		}
		time.Sleep(time.Millisecond)
	}
}

// valid asks POST /v1/verify on node whether token is valid.
func valid(node, token string) (bool, error) {
	var ans struct{ Valid bool }
	body, _ := json.Marshal(map[string]string{"token": token})
	err := call("POST", node+"/v1/verify", string(body), false, http.StatusOK, &ans)
	return ans.Valid, err
}

// call makes a request, as the bootstrap token with admin, and decodes the answer into out,
// which must come with status want.
func call(method, url, body string, admin bool, want int, out any) error {
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+scaleBootstrap)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
