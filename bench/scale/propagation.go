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

// propagationPhase is one state of the notification bus and what was measured in it.
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

// propagation starts two nodes, a and b, over db, and measures n revocations made on a with
// the notification bus up, n with it dropped, and n/5 once it is back, each time from the
// answer to DELETE /v1/keys/{id} on a to b's first refusal of the key.
//
// The notification bus of lanyard is the revocation log, a table every node tails every 25 ms
// (internal/fanout); there is no LISTEN/NOTIFY session to cut. The bus is dropped for real by
// holding LOCK TABLE revocations IN ACCESS EXCLUSIVE MODE in a transaction of our own: every
// node's reads and appends of the log then wait (and give up at the staleness bound, again and
// again) while everything else the store serves answers as before. The drop is checked by
// finding lanyard's sessions waiting on that lock.
func propagation(ctx context.Context, pin bool, db *database, n int, rng *rand.Rand) ([]propagationPhase, error) {
	bases, stop, err := startNodes(pin, "a="+db.dsn, "b="+db.dsn)
	if err != nil {
		return nil, err
	}
	defer stop()
	a, b := bases["a"], bases["b"]
	phases := []propagationPhase{
		{name: "up", target: "p99 ≤ 50 ms"},
		{name: "dropped (the revocation log locked)", target: "≤ 1 s (the staleness bound)"},
		{name: "back up", target: "as up"},
	}
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for i := range phases {
		p := &phases[i]
		count := n
		var tx pgx.Tx
		switch i {
		case 1:
			if tx, err = conn.Begin(ctx); err != nil {
				return nil, err
			}
			if _, err := tx.Exec(ctx, "LOCK TABLE revocations IN ACCESS EXCLUSIVE MODE"); err != nil {
				return nil, err
			}
			waiting, err := waitingOnLog(ctx, tx, 2*time.Second)
			if err != nil {
				return nil, err
			}
			if waiting == 0 {
				return nil, fmt.Errorf("no node waits on the locked revocation log: the bus was not dropped")
			}
			p.note = fmt.Sprintf("lanyard sessions waiting on the log's lock: %d when the phase began", waiting)
		case 2:
			count = max(1, n/5)
		}
		for range count {
			took, err := revokeOnce(a, b, db.d.orgRef(0), time.Duration(rng.Int64N(int64(staleness))))
			if err != nil {
				return nil, fmt.Errorf("bus %s: %w", p.name, err)
			}
			if took < 0 {
				p.missed++
				continue
			}
			p.took = append(p.took, took)
		}
		if tx != nil {
			waiting, err := waitingOnLog(ctx, tx, 2*time.Second)
			if err != nil {
				return nil, err
			}
			p.note += fmt.Sprintf(", %d when it ended", waiting)
			if err := tx.Rollback(ctx); err != nil {
				return nil, err
			}
		}
		slices.Sort(p.took)
	}
	return phases, stop()
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
