package ratelimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Reconciliation: fast mode decides from a table of local shares and, every SyncEvery, pushes
// what it spent to Redis and reads back what every node spent; redis_down local pushes what it
// spent once Redis answers again.

// winSnap is one window counter to push.
type winSnap struct {
	b                            *bucket
	key                          string
	lenMs, index, endMs, pending int64
	total                        *redis.IntCmd
	shard                        *shard
}

// balSnap is one balance to push.
type balSnap struct {
	b                  *balance
	shard              *shard
	seed               Credits
	setAt              int64
	pending, period    int64
	carry, carryPeriod int64
	args               []any
	res                *redis.Cmd
}

// pushBatch bounds the commands of one pipeline.
const pushBatch = 512

// push sends to Redis what t spent since its last push. With apply, t then reads what every node
// spent: each window's count, each balance's state, and the shares that follow from them. On
// error nothing is lost: what was not pushed is pushed next time.
func (r *Redis) push(ctx context.Context, t *table, apply bool) error {
	nowMs := r.cfg.Now().UnixMilli()
	var wins []winSnap
	var bals []balSnap
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, b := range s.touchedBuckets {
			b.touched = false
			for _, c := range b.ctrs {
				if c.endMs > nowMs && (c.pending > 0 || apply) {
					wins = append(wins, winSnap{b: b, shard: s, key: r.windowKey(b.key, spec{lenMs: c.lenMs, index: c.index}),
						lenMs: c.lenMs, index: c.index, endMs: c.endMs, pending: c.pending})
				}
			}
		}
		clear(s.touchedBuckets)
		s.touchedBuckets = s.touchedBuckets[:0]
		for _, b := range s.touchedBalances {
			b.touched = false
			bals = append(bals, balSnap{b: b, shard: s, seed: b.seed, setAt: b.setAt, pending: b.pending,
				period: b.period, carry: b.carry, carryPeriod: b.carryPeriod})
		}
		clear(s.touchedBalances)
		s.touchedBalances = s.touchedBalances[:0]
		s.mu.Unlock()
	}
	for len(wins) > 0 || len(bals) > 0 {
		nw := min(len(wins), pushBatch)
		nb := min(len(bals), pushBatch-nw)
		if err := r.pushBatch(ctx, t, wins[:nw], bals[:nb], nowMs, apply); err != nil {
			t.retouch(wins, bals)
			return err
		}
		wins, bals = wins[nw:], bals[nb:]
	}
	return nil
}

func (r *Redis) pushBatch(ctx context.Context, t *table, wins []winSnap, bals []balSnap, nowMs int64, apply bool) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	pipe := r.rdb.Pipeline()
	for i := range wins {
		w := &wins[i]
		w.total = pipe.IncrBy(ctx, w.key, w.pending)
		pipe.PExpireAt(ctx, w.key, time.UnixMilli(w.endMs+expirySlack.Milliseconds()))
	}
	for i := range bals {
		b := &bals[i]
		args := r.creditArgs(make([]any, 0, 13), seed(&b.seed), nowMs)
		b.args = append(args, b.carry, b.carryPeriod, b.pending, b.period)
		b.res = syncCreditsScript.EvalSha(ctx, pipe, []string{r.cfg.Prefix + "c:" + b.b.key}, b.args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		for i := range wins {
			if err := wins[i].total.Err(); err != nil {
				return err
			}
		}
		// Redis lost its scripts (a restart, SCRIPT FLUSH): run the script by its source.
		for i := range bals {
			b := &bals[i]
			if err := b.res.Err(); redis.HasErrorPrefix(err, "NOSCRIPT") {
				b.res = syncCreditsScript.Run(ctx, r.rdb, []string{r.cfg.Prefix + "c:" + b.b.key}, b.args...)
			}
			if err := b.res.Err(); err != nil {
				return err
			}
		}
	}
	for i := range wins {
		w := &wins[i]
		w.shard.mu.Lock()
		if c := w.b.counter(w.lenMs); c != nil && c.index == w.index {
			c.pending -= w.pending
			if apply {
				c.known = w.total.Val()
				c.share = ceilDiv(max(0, c.limit-c.known), max(1, t.nodes()))
			}
		}
		w.shard.mu.Unlock()
	}
	for i := range bals {
		b := &bals[i]
		st, err := b.res.Int64Slice()
		if err != nil || len(st) != stateLen {
			continue // pushed; the state is read again next time
		}
		b.shard.mu.Lock()
		bal := b.b
		if bal.setAt == b.setAt {
			bal.unpend(b.pending, b.period)
			bal.unpend(b.carry, b.carryPeriod)
			if l := ledgerFromState(st); apply && l.setAt >= bal.setAt {
				// Redis's balance, less what this node spent since the snapshot.
				before := bal.ledger
				bal.ledger = l
				bal.rem = max(0, l.rem-bal.pending-bal.carry)
				bal.share = ceilDiv(l.rem, max(1, t.nodes()))
				if bal.ledger != before && !bal.dirty {
					bal.dirty = true
					b.shard.dirty = append(b.shard.dirty, bal)
				}
			}
		}
		b.shard.mu.Unlock()
	}
	return nil
}

// unpend takes amount, pushed, off what bal still has to push for period.
func (bal *balance) unpend(amount, period int64) {
	if amount > 0 && bal.pending > 0 && bal.period == period {
		d := min(amount, bal.pending)
		bal.pending -= d
		amount -= d
	}
	if amount > 0 && bal.carry > 0 && bal.carryPeriod == period {
		bal.carry -= min(amount, bal.carry)
	}
}

// retouch lists again for the next push what a failed push took.
func (t *table) retouch(wins []winSnap, bals []balSnap) {
	for _, w := range wins {
		w.shard.mu.Lock()
		if !w.b.touched {
			w.b.touched = true
			w.shard.touchedBuckets = append(w.shard.touchedBuckets, w.b)
		}
		w.shard.mu.Unlock()
	}
	for _, b := range bals {
		b.shard.mu.Lock()
		if !b.b.touched {
			b.b.touched = true
			b.shard.touchedBalances = append(b.shard.touchedBalances, b.b)
		}
		b.shard.mu.Unlock()
	}
}
