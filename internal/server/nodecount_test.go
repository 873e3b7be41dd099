package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/fanout"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// nodeCounter records the counts countNodes reports and cancels once it has one.
type nodeCounter struct {
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *nodeCounter) SetNodes(n int) { c.n.Store(int64(n)); c.cancel() }

// TestCountNodes: the rate limiter is told how many nodes are live in the shared store, so that
// fast mode and redis_down local divide a plan by the real node count.
func TestCountNodes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes int
	}{{"one node", 1}, {"three nodes", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := sqlite.Open(t.Context(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var fan *fanout.Fanout
			for i := range tc.nodes {
				fan = fanout.New(fanout.Options{Store: st, ID: string(rune('a' + i)), Now: time.Now})
				if err := fan.Register(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c := &nodeCounter{cancel: cancel}
			countNodes(ctx, fan, c, slog.New(slog.DiscardHandler))
			if got := c.n.Load(); got != int64(tc.nodes) {
				t.Fatalf("limiter told %d nodes, want %d", got, tc.nodes)
			}
		})
	}
}
