package ratelimit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// table is the in-process state of windows and credit balances: the whole state of Memory, the
// local shares of Redis fast mode, and the per-node shares of redis_down local. It is sharded by
// a hash of the bucket (and of the credits key) so that decisions on different buckets rarely
// wait for one another; a decision locks the one or two shards it reads, so it is atomic.
type table struct {
	now     func() time.Time
	seed    maphash.Seed
	perMax  int          // entries (buckets, and balances) one shard may hold
	idleMs  int64        // a clean balance untouched this long is forgotten
	divisor atomic.Int64 // redis_down local: every limit and balance is divided by it; else 1
	// fast holds every window and balance to a share between syncs (Redis fast mode).
	fast  bool
	nodes func() int64 // fast: the node count the shares divide by
	// track lists what changed for sync to push to Redis (fast mode, redis_down local).
	track bool
	// noWriteBack: no caller takes this table's balances (redis_down local's are shares).
	noWriteBack bool
	shards      [shardCount]shard
}

const (
	shardCount = 64
	// sweepEvery is how often a shard drops expired buckets and idle balances; a full shard
	// also sweeps when it must make room, at most once per fullSweepEvery.
	sweepEvery     = time.Minute
	fullSweepEvery = time.Second
)

type shard struct {
	mu       sync.Mutex
	idx      int
	buckets  map[string]*bucket
	balances map[string]*balance
	sweepAt  int64 // ms: the next periodic sweep
	fullAt   int64 // ms: the earliest next sweep to make room
	dirty    []*balance
	// track: what changed since the last sync.
	touchedBuckets  []*bucket
	touchedBalances []*balance
}

// bucket is the windows of one bucket key.
type bucket struct {
	key     string
	ctrs    []counter // one per window length
	endMs   int64     // when its last window ends; from then it holds nothing
	touched bool
}

// counter is one window of a bucket.
type counter struct {
	lenMs, index, endMs int64
	limit               int64 // the limit last decided against (fast: for the share)
	known               int64 // fast: Redis's count at the last sync, this node's pushes included
	pending             int64 // spent here since the last sync; without Redis, the whole count
	share               int64 // fast: what pending may reach before the next sync
}

// balance is one key's live credits.
type balance struct {
	key string
	ledger
	seed    Credits // what it was seeded from (sync seeds Redis with it)
	lastMs  int64
	dirty   bool // changed since Balances last returned it
	touched bool // track: listed for the next sync
	// track: what was spent here and not yet pushed: pending in ledger.period, carry in
	// carryPeriod (an earlier period, when a refill came before the push).
	pending, carry, carryPeriod int64
	share                       int64 // fast: what pending may reach before the next sync
}

func newTable(now func() time.Time, maxEntries int, idle time.Duration) *table {
	t := &table{now: now, seed: maphash.MakeSeed(), perMax: max(1, (maxEntries+shardCount-1)/shardCount),
		idleMs: idle.Milliseconds(), nodes: func() int64 { return 1 }}
	t.divisor.Store(1)
	for i := range t.shards {
		t.shards[i] = shard{idx: i, buckets: make(map[string]*bucket), balances: make(map[string]*balance)}
	}
	return t
}

func (t *table) shard(key string) *shard {
	return &t.shards[maphash.String(t.seed, key)%shardCount]
}

// lockPair locks a and b (either may be nil, or both the same shard) in index order.
func lockPair(a, b *shard) {
	switch {
	case a == nil && b == nil:
	case a == nil || a == b:
		b.mu.Lock()
	case b == nil:
		a.mu.Lock()
	case a.idx < b.idx:
		a.mu.Lock()
		b.mu.Lock()
	default:
		b.mu.Lock()
		a.mu.Lock()
	}
}

func unlockPair(a, b *shard) {
	if a != nil {
		a.mu.Unlock()
	}
	if b != nil && b != a {
		b.mu.Unlock()
	}
}

// ceilDiv is ⌈a/b⌉ for a ≥ 0, b ≥ 1.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// divide is a share of a limit or balance n: n itself, or ⌊n/divisor⌋ under redis_down local,
// at least 1 when n is.
func divide(n, divisor int64) int64 {
	if divisor <= 1 || n == 0 {
		return n
	}
	return max(1, n/divisor)
}

// decide decides req, whose windows are specs, at nowMs.
func (t *table) decide(req *Request, specs []spec, nowMs int64) (Decision, error) {
	var bs, cs *shard
	if len(specs) > 0 {
		bs = t.shard(req.Bucket)
	}
	if req.Credits != nil {
		cs = t.shard(req.Credits.Key)
	}
	lockPair(bs, cs)
	defer unlockPair(bs, cs)
	if bs != nil && nowMs >= bs.sweepAt {
		t.sweep(bs, nowMs)
	}
	if cs != nil && cs != bs && nowMs >= cs.sweepAt {
		t.sweep(cs, nowMs)
	}

	cost := req.Cost
	div := t.divisor.Load()
	// shareOnly stays true while every check that refuses is a fast-mode share, not a limit.
	shareOnly := true
	nodes := int64(1)
	if t.fast {
		nodes = max(1, t.nodes())
	}

	var usedBuf, limBuf [maxInline]int64
	var okBuf [maxInline]bool
	used, limits, ok := usedBuf[:0], limBuf[:0], okBuf[:0]
	var b *bucket
	if bs != nil {
		b = bs.buckets[req.Bucket]
	}
	for _, s := range specs {
		lim := divide(s.limit, div)
		var c *counter
		if b != nil {
			c = b.counter(s.lenMs)
		}
		var u, pending int64
		share := int64(-1) // none
		if c != nil && c.index == s.index {
			u, pending = c.known+c.pending, c.pending
			if t.fast {
				share = c.share
			}
		} else if t.fast {
			share = ceilDiv(s.limit, nodes)
		}
		used, limits = append(used, u), append(limits, lim)
		within := u+cost <= lim
		shareOnly = shareOnly && within
		ok = append(ok, within && shareAllows(share, pending, cost))
	}

	var bal *balance
	var led ledger
	credOK, fresh, refilled := true, false, false
	if cs != nil {
		bal = cs.balances[req.Credits.Key]
		sd := seed(req.Credits)
		sd.rem, sd.amount = divide(sd.rem, div), divide(sd.amount, div)
		if bal == nil || bal.setAt < sd.setAt {
			led, fresh = sd, true
		} else {
			led = bal.ledger
		}
		refilled = led.refill(nowMs)
		credOK = led.rem >= cost
		shareOnly = shareOnly && credOK
		if t.fast {
			share, pending := ceilDiv(led.rem, nodes), int64(0)
			if !fresh && !refilled {
				share, pending = bal.share, bal.pending
			}
			credOK = credOK && shareAllows(share, pending, cost)
		}
	}

	var ledp *ledger
	var key string
	if cs != nil {
		ledp, key = &led, req.Credits.Key
	}
	d := verdict(nowMs, specs, used, limits, ok, cost, key, ledp, credOK)
	if !d.Allowed && shareOnly {
		// Only this node's share refused: the next sync renews it.
		d.RetryAfter = 1
	}
	if req.DryRun {
		return d, nil
	}
	spend := d.Allowed && cost > 0
	if spend {
		// Make room before changing anything, so that ErrFull spends nothing.
		if bs != nil && b == nil && !t.room(bs, nowMs, true) {
			return Decision{}, ErrFull
		}
		if cs != nil && bal == nil && !t.room(cs, nowMs, false) {
			return Decision{}, ErrFull
		}
		if bs != nil && b == nil {
			b = &bucket{key: req.Bucket}
			bs.buckets[req.Bucket] = b
		}
		for _, s := range specs {
			t.spendWindow(bs, b, s, cost, nodes)
		}
	}
	if cs != nil && (spend || (bal != nil && (refilled || fresh))) {
		if bal == nil {
			bal = &balance{key: req.Credits.Key}
			cs.balances[req.Credits.Key] = bal
		}
		t.setLedger(cs, bal, req.Credits, led, fresh, refilled, nodes)
		if spend {
			bal.rem -= cost
			bal.pending += cost
		}
		bal.lastMs = nowMs
		if !bal.dirty && !t.noWriteBack {
			bal.dirty = true
			cs.dirty = append(cs.dirty, bal)
		}
		if t.track && !bal.touched {
			bal.touched = true
			cs.touchedBalances = append(cs.touchedBalances, bal)
		}
	}
	return d, nil
}

// shareAllows reports whether a fast-mode share (-1: none) allows cost after pending: within
// the share, or a first spend since the last sync (so that a cost above the share can pass).
func shareAllows(share, pending, cost int64) bool {
	return share < 0 || pending == 0 || pending+cost <= share
}

func (b *bucket) counter(lenMs int64) *counter {
	for i := range b.ctrs {
		if b.ctrs[i].lenMs == lenMs {
			return &b.ctrs[i]
		}
	}
	return nil
}

func (t *table) spendWindow(s *shard, b *bucket, sp spec, cost, nodes int64) {
	c := b.counter(sp.lenMs)
	if c == nil {
		b.ctrs = append(b.ctrs, counter{lenMs: sp.lenMs})
		c = &b.ctrs[len(b.ctrs)-1]
	}
	if c.index != sp.index {
		*c = counter{lenMs: sp.lenMs, index: sp.index, endMs: sp.endMs, share: ceilDiv(sp.limit, nodes)}
	}
	c.limit = sp.limit
	c.pending += cost
	b.endMs = max(b.endMs, sp.endMs)
	if t.track && !b.touched {
		b.touched = true
		s.touchedBuckets = append(s.touchedBuckets, b)
	}
}

// setLedger makes led, read for a decision, bal's ledger: a new seed replaces whatever bal
// spent under an older setting; a refill moves what is still to be pushed to the period it was
// spent in.
func (t *table) setLedger(s *shard, bal *balance, c *Credits, led ledger, fresh, refilled bool, nodes int64) {
	switch {
	case fresh:
		bal.seed = *c
		bal.pending, bal.carry, bal.carryPeriod = 0, 0, 0
		bal.share = ceilDiv(led.rem, nodes)
	case refilled:
		if bal.pending > 0 {
			bal.carry, bal.carryPeriod = bal.pending, bal.period
			bal.pending = 0
		}
		bal.share = ceilDiv(led.rem, nodes)
	}
	bal.ledger = led
}

// room reports whether s may take one more bucket (or balance), sweeping it when full.
func (t *table) room(s *shard, nowMs int64, buckets bool) bool {
	n := func() int {
		if buckets {
			return len(s.buckets)
		}
		return len(s.balances)
	}
	if n() < t.perMax {
		return true
	}
	if nowMs < s.fullAt {
		return false
	}
	t.sweep(s, nowMs)
	s.fullAt = nowMs + fullSweepEvery.Milliseconds()
	return n() < t.perMax
}

// sweep drops the buckets whose windows have all ended (a new one would read the same: nothing
// spent) and the balances untouched for idleMs with nothing left to write back or push.
func (t *table) sweep(s *shard, nowMs int64) {
	for k, b := range s.buckets {
		if b.endMs <= nowMs {
			delete(s.buckets, k)
		}
	}
	for k, bal := range s.balances {
		if !bal.dirty && !bal.touched && bal.lastMs+t.idleMs <= nowMs {
			delete(s.balances, k)
		}
	}
	s.sweepAt = nowMs + sweepEvery.Milliseconds()
}

// drain returns the balances changed since the last drain and marks them clean.
func (t *table) drain() []Credits {
	var out []Credits
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, b := range s.dirty {
			if b.dirty {
				out = append(out, *b.credits(b.key))
				b.dirty = false
			}
		}
		clear(s.dirty)
		s.dirty = s.dirty[:0]
		s.mu.Unlock()
	}
	return out
}

// size is the buckets and balances held.
func (t *table) size() (buckets, balances int) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		buckets += len(s.buckets)
		balances += len(s.balances)
		s.mu.Unlock()
	}
	return buckets, balances
}
