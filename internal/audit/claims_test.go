package audit

import (
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/testenv"
)

// floodNodes sends flood distinct tokens from one address round-robin to nodes, plus one token
// that every node sees, flushing as Run does; then the minute ends and every node flushes. It
// returns the events written, by all nodes.
func floodNodes(t *testing.T, nodes []*Refusals, out *sink, now *time.Time, flood int) []store.Event {
	t.Helper()
	for i := range flood {
		n := nodes[i%len(nodes)]
		n.Record("192.0.2.66", "lk_flood_"+strconv.Itoa(i), "unknown or revoked")
		n.Record("192.0.2.66", "lk_everywhere", "unknown or revoked")
		if i%300 == 299 {
			*now = now.Add(5 * time.Second)
			for _, n := range nodes {
				if err := n.flush(t.Context(), false); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	*now = now.Add(time.Minute)
	for _, n := range nodes {
		if err := n.flush(t.Context(), false); err != nil {
			t.Fatal(err)
		}
	}
	return out.evs
}

// TestRefusalsSharedAcrossNodes: three nodes sharing claims through Redis give a flooding
// address at most maxPerAddress distinct refusals of its own in all (a refusal seen by several
// nodes may get a row from each), and one folded row per node; every refusal is counted.
func TestRefusalsSharedAcrossNodes(t *testing.T) {
	rdb, _, prefix := testenv.RedisKeys(t)
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	out := &sink{}
	var nodes []*Refusals
	for range 3 {
		n := NewRefusals(out, testKey, func() time.Time { return now }, nil)
		n.Share(NewRedisClaims(rdb, prefix))
		nodes = append(nodes, n)
	}
	const flood = 3000
	evs := floodNodes(t, nodes, out, &now, flood)
	own, folded, count := map[string]bool{}, 0, 0
	for _, e := range evs {
		count += e.Count
		if e.Target == targetMany {
			folded++
		} else {
			own[e.Target] = true
		}
	}
	if len(own) > maxPerAddress || folded > len(nodes) || count != 2*flood {
		t.Fatalf("%d distinct refusals with rows of their own (max %d), %d folded rows (max %d), count %d (want %d)",
			len(own), maxPerAddress, folded, len(nodes), count, 2*flood)
	}
	if !own[nodes[0].Fingerprint("lk_everywhere")] {
		t.Error("the token every node saw first has no row of its own")
	}
}

// TestRefusalsSharedWithoutRedis: when the claims cannot be made, each node keeps its own bound
// and counts everything.
func TestRefusalsSharedWithoutRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	out := &sink{}
	n := NewRefusals(out, testKey, func() time.Time { return now }, nil)
	n.Share(NewRedisClaims(rdb, ""))
	const flood = 600
	evs := floodNodes(t, []*Refusals{n}, out, &now, flood)
	count := 0
	for _, e := range evs {
		count += e.Count
	}
	if len(evs) > 2*maxPerAddress+2 || count != 2*flood {
		t.Fatalf("%d rows (want at most %d), count %d (want %d)", len(evs), 2*maxPerAddress+2, count, 2*flood)
	}
}
