package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Modes and redis_down policies: the words of the config's rate_limit section.
const (
	ModeExact = "exact" // one atomic script per decision: exact across nodes
	ModeFast  = "fast"  // decide from a local share, reconcile in the background

	DownClosed = "closed" // refuse: the decision is an *UnavailableError (503)
	DownLocal  = "local"  // each node enforces its share: limit ÷ nodes
	DownOpen   = "open"   // allow
)

// Defaults for zero fields of RedisConfig.
const (
	DefaultTimeout     = 500 * time.Millisecond
	DefaultWaitTimeout = time.Second
	DefaultProbeEvery  = time.Second
	DefaultSyncEvery   = 100 * time.Millisecond
	DefaultCreditsTTL  = 7 * 24 * time.Hour
	DefaultPrefix      = "lanyard:rl:"
)

// expirySlack keeps a window's counter in Redis this long after the window ends, for nodes
// whose clocks run a little behind.
const expirySlack = 5 * time.Second

// RedisConfig configures a Redis limiter. Zero fields take the defaults.
type RedisConfig struct {
	// Options say how to reach Redis (redis.ParseURL of --redis). They are copied, and the
	// copy's timeouts replaced: every call gives up after Timeout, and none is retried.
	Options *redis.Options
	// Mode is ModeExact (default) or ModeFast.
	Mode string
	// Down is what decisions do while Redis is unreachable: DownClosed (default), DownLocal or
	// DownOpen.
	Down string
	// Nodes is how many nodes share the limits, for fast mode's shares and redis_down local
	// (default 1); SetNodes changes it.
	Nodes int
	// Timeout bounds every Redis call (DefaultTimeout): a decision under redis_down closed
	// fails within it when Redis does not answer.
	Timeout time.Duration
	// WaitTimeout bounds how long a decision waits for a free connection when every one is
	// busy (DefaultWaitTimeout), before its Redis call: a decision takes at most WaitTimeout +
	// Timeout. A wait that runs out is this node's overload, not Redis's failure: that one
	// decision follows redis_down (counted in Stats.Overloads), and Redis is not marked
	// unreachable.
	WaitTimeout time.Duration
	// ProbeEvery is how often Redis is pinged (DefaultProbeEvery): a failed ping marks it
	// unreachable, a successful one reachable again.
	ProbeEvery time.Duration
	// SyncEvery is how often fast mode reconciles its shares (DefaultSyncEvery).
	SyncEvery time.Duration
	// CreditsTTL is how long an unused balance stays in Redis (DefaultCreditsTTL); after
	// that the next decision seeds it again from the request's Credits.
	CreditsTTL time.Duration
	// Prefix starts every Redis key (DefaultPrefix).
	Prefix string
	// Now is the clock; time.Now when nil. Nodes sharing Redis need clocks that agree to well
	// under a second: a window is placed by the clock of the node deciding.
	Now func() time.Time
	// Logger receives a line when Redis becomes unreachable and when it answers again.
	Logger *slog.Logger
	// OnHealth, when set, is called on each of those changes (err is nil when healthy), from
	// whichever goroutine found out; it must not block.
	OnHealth func(healthy bool, err error)
	// MaxBuckets and IdleCredits bound the state held in this process (fast mode's shares,
	// redis_down local's), as in MemoryConfig.
	MaxBuckets  int
	IdleCredits time.Duration
}

// Redis is a Limiter whose state lives in Redis, shared by every node using it, in exact or fast
// mode and with a policy for when Redis is unreachable: see the package doc.
//
// Its methods are safe for concurrent use. Close stops its background work.
type Redis struct {
	cfg   RedisConfig
	rdb   *redis.Client
	nodes atomic.Int64

	slots     chan struct{} // one per connection a decision may hold
	healthy   atomic.Bool
	failures  atomic.Uint64
	fallbacks atomic.Uint64
	overloads atomic.Uint64

	mu      sync.Mutex // guards lastErr and downAt
	lastErr error
	downAt  time.Time

	fast  *table     // fast mode: the local shares
	local *table     // redis_down local: the shares decided without Redis, until pushed
	seen  seenLog    // exact mode: balances changed since Balances
	pipe  *pipeliner // exact mode: the decisions' way to Redis

	kick chan struct{} // a failure asks the probe to look again at once
	stop context.CancelFunc
	done chan struct{}
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a Redis limiter and starts its background work: the probe and, in fast mode,
// the reconciliation. Redis need not answer yet: until it does, decisions follow cfg.Down.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	if cfg.Options == nil {
		return nil, errors.New("ratelimit: no redis options")
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeExact
	case ModeExact, ModeFast:
	default:
		return nil, fmt.Errorf("ratelimit: mode %q is not exact or fast", cfg.Mode)
	}
	switch cfg.Down {
	case "":
		cfg.Down = DownClosed
	case DownClosed, DownLocal, DownOpen:
	default:
		return nil, fmt.Errorf("ratelimit: redis_down %q is not closed, local or open", cfg.Down)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = DefaultWaitTimeout
	}
	if cfg.ProbeEvery <= 0 {
		cfg.ProbeEvery = DefaultProbeEvery
	}
	if cfg.SyncEvery <= 0 {
		cfg.SyncEvery = DefaultSyncEvery
	}
	if cfg.CreditsTTL <= 0 {
		cfg.CreditsTTL = DefaultCreditsTTL
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxBuckets
	}
	if cfg.IdleCredits <= 0 {
		cfg.IdleCredits = DefaultIdleCredits
	}

	opts := BoundedOptions(cfg.Options, cfg.Timeout)
	// Pipelines (fast mode's sync) on the main pool: one ping then speaks for every call.
	opts.PipelinePoolSize = -1
	if opts.PoolSize <= 0 {
		// A decision holds a connection for one round trip: a busy node wants more than
		// go-redis's 10 per CPU.
		opts.PoolSize = 32 * runtime.GOMAXPROCS(0)
	}

	r := &Redis{cfg: cfg, rdb: redis.NewClient(opts), kick: make(chan struct{}, 1), done: make(chan struct{}),
		// Decisions take turns for the pool's connections here, where a long wait can be told
		// apart from a slow Redis; two are left for the probe and the sync.
		slots: make(chan struct{}, max(1, opts.PoolSize-2))}
	r.nodes.Store(int64(max(1, cfg.Nodes)))
	r.healthy.Store(true)
	if cfg.Mode == ModeFast {
		r.fast = newTable(cfg.Now, cfg.MaxBuckets, cfg.IdleCredits)
		r.fast.fast, r.fast.track, r.fast.nodes = true, true, r.nodes.Load
	}
	if cfg.Down == DownLocal {
		r.local = newTable(cfg.Now, cfg.MaxBuckets, cfg.IdleCredits)
		r.local.track, r.local.noWriteBack = true, true
		r.local.divisor.Store(int64(max(1, cfg.Nodes)))
	}
	r.seen.init(cfg.MaxBuckets)

	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	if cfg.Mode == ModeExact {
		r.pipe = newPipeliner(r.rdb, decideScript, cfg.Timeout)
		r.pipe.start(ctx)
	}
	r.probe(ctx)
	go r.loop(ctx)
	return r, nil
}

// BoundedOptions returns a copy of o whose every call gives up after timeout (dialing, reading,
// writing, waiting for a connection) and is never retried: the options of a Redis client on a
// request's path, which must answer or fail quickly, never hang.
func BoundedOptions(o *redis.Options, timeout time.Duration) *redis.Options {
	opts := new(*o)
	if m := o.MaintNotificationsConfig; m != nil {
		opts.MaintNotificationsConfig = new(*m)
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = timeout
	opts.DialerRetries = 1
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.PoolTimeout = timeout
	opts.MaxRetries = -1
	return opts
}

// SetNodes sets the node count (at least 1) that fast mode's shares and redis_down local divide
// by.
func (r *Redis) SetNodes(n int) {
	r.nodes.Store(int64(max(1, n)))
	if r.local != nil {
		r.local.divisor.Store(int64(max(1, n)))
	}
}

// Decide implements Limiter.
func (r *Redis) Decide(ctx context.Context, req Request) (Decision, error) {
	nowMs := r.cfg.Now().UnixMilli()
	var buf [maxInline]spec
	specs, err := plan(&req, nowMs, &buf)
	if err != nil {
		return Decision{}, err
	}
	if len(specs) == 0 && req.Credits == nil {
		return Decision{Allowed: true, Window: -1}, nil
	}
	if !r.healthy.Load() {
		return r.fallback(&req, specs, nowMs, nil)
	}
	if r.fast != nil {
		return r.fast.decide(&req, specs, nowMs)
	}
	if !r.acquire(ctx) {
		if ctx.Err() != nil {
			return Decision{}, ctx.Err()
		}
		r.overloads.Add(1)
		return r.fallback(&req, specs, nowMs, errOverloaded)
	}
	d, err := r.exact(ctx, &req, specs, nowMs)
	<-r.slots
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up before Redis answered: no sign that Redis is down.
			return Decision{}, ctx.Err()
		}
		r.failed(err)
		return r.fallback(&req, specs, nowMs, err)
	}
	return d, nil
}

// acquire waits at most WaitTimeout for a connection slot, and reports whether it got one.
func (r *Redis) acquire(ctx context.Context) bool {
	select {
	case r.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(r.cfg.WaitTimeout)
	defer t.Stop()
	select {
	case r.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// fallback decides without Redis, as cfg.Down says: while Redis is unreachable, or for one
// decision whose call failed (cause).
func (r *Redis) fallback(req *Request, specs []spec, nowMs int64, cause error) (Decision, error) {
	r.fallbacks.Add(1)
	switch r.cfg.Down {
	case DownOpen:
		return Decision{Allowed: true, Window: -1, Degraded: true}, nil
	case DownLocal:
		d, err := r.local.decide(req, specs, nowMs)
		d.Degraded = true
		return d, err
	}
	if cause == nil {
		cause = r.lastError()
	}
	return Decision{}, &UnavailableError{RetryAfter: r.retryAfter(), Err: cause}
}

// errOverloaded is why a decision could not reach a Redis that answers: every connection was
// busy for WaitTimeout.
var errOverloaded = errors.New("every redis connection stayed busy")

// retryAfter is the Retry-After of a 503: about when the next probe may find Redis back.
func (r *Redis) retryAfter() int64 { return max(1, ceilSeconds(r.cfg.ProbeEvery.Milliseconds())) + 1 }

// exact decides req in one script run.
func (r *Redis) exact(ctx context.Context, req *Request, specs []spec, nowMs int64) (Decision, error) {
	n := len(specs)
	keys := make([]string, 0, n+1)
	args := make([]any, 0, 3+2*n+9)
	dry := "0"
	if req.DryRun {
		dry = "1"
	}
	args = append(args, req.Cost, dry, n)
	for _, s := range specs {
		keys = append(keys, r.windowKey(req.Bucket, s))
		args = append(args, s.limit, s.endMs+expirySlack.Milliseconds())
	}
	if c := req.Credits; c != nil {
		keys = append(keys, r.cfg.Prefix+"c:"+c.Key)
		args = r.creditArgs(args, seed(c), nowMs)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	var res []int64
	var err error
	if r.pipe != nil {
		res, err = r.pipe.run(ctx, keys, args)
	} else { // a round trip of its own (the benchmarks' comparison)
		res, err = decideScript.Run(ctx, r.rdb, keys, args...).Int64Slice()
	}
	if err != nil {
		return Decision{}, err
	}
	want := 1 + n
	if req.Credits != nil {
		want += stateLen
	}
	if len(res) != want {
		return Decision{}, fmt.Errorf("ratelimit: the decide script answered %d values, want %d", len(res), want)
	}

	var limBuf [maxInline]int64
	var okBuf [maxInline]bool
	used, limits, ok := res[1:1+n], limBuf[:0], okBuf[:0]
	for i, s := range specs {
		limits = append(limits, s.limit)
		ok = append(ok, used[i]+req.Cost <= s.limit)
	}
	var led *ledger
	var key string
	credOK := true
	if c := req.Credits; c != nil {
		l := ledgerFromState(res[1+n:])
		led, key, credOK = &l, c.Key, l.rem >= req.Cost
	}
	d := verdict(nowMs, specs, used, limits, ok, req.Cost, key, led, credOK)
	if res[0] == 1 && d.Credits != nil {
		r.seen.put(d.Credits)
	}
	return d, nil
}

func (r *Redis) windowKey(bucket string, s spec) string {
	b := make([]byte, 0, len(r.cfg.Prefix)+len(bucket)+32)
	b = append(b, r.cfg.Prefix...)
	b = append(b, "w:"...)
	b = append(b, bucket...)
	b = append(b, ':')
	b = strconv.AppendInt(b, s.lenMs, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, s.index, 10)
	return string(b)
}

// creditArgs appends the credit arguments of the scripts for a balance seeded as sd.
func (r *Redis) creditArgs(args []any, sd ledger, nowMs int64) []any {
	interval := 0
	if sd.interval == Month {
		interval = 1
	}
	return append(args, setAtString(sd.setAt), sd.rem, sd.period, sd.refilled, sd.amount, interval,
		periodStart(nowMs, Day), periodStart(nowMs, Month), r.cfg.CreditsTTL.Milliseconds())
}

// setAtString is SetAt in Unix ns as 20 digits, so that Lua's string order is time order.
func setAtString(ns int64) string {
	var b [20]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + ns%10)
		ns /= 10
	}
	return string(b[:])
}

// stateLen is the length of a balance's state in the scripts' replies.
const stateLen = 7

// ledgerFromState reads a balance's state from a script's reply: r, p, ra, a, i, and SetAt as
// seconds and nanoseconds.
func ledgerFromState(st []int64) ledger {
	l := ledger{rem: st[0], period: st[1], refilled: st[2], amount: st[3], setAt: st[5]*1e9 + st[6]}
	if l.amount > 0 {
		l.interval = Day
		if st[4] == 1 {
			l.interval = Month
		}
	}
	return l
}

// Balances implements Limiter. In exact mode they are the balances as Redis held them after
// this node's decisions; in fast mode, as this node last saw them. While Redis is down under
// redis_down local, what a node spends from its share is pushed to Redis when it answers
// again, not returned here.
func (r *Redis) Balances() []Credits {
	if r.fast != nil {
		return r.fast.drain()
	}
	return r.seen.drain()
}

// RedisStats are counters for metrics.
type RedisStats struct {
	Healthy   bool
	Failures  uint64 // Redis calls that failed (timeouts, refused connections, errors)
	Fallbacks uint64 // decisions made by the redis_down policy
	Overloads uint64 // of those, decisions that found every connection busy for WaitTimeout
}

// Stats returns the counters.
func (r *Redis) Stats() RedisStats {
	return RedisStats{Healthy: r.healthy.Load(), Failures: r.failures.Load(), Fallbacks: r.fallbacks.Load(),
		Overloads: r.overloads.Load()}
}

// Healthy is nil while Redis answers, else why not: for /readyz. It reads what the last call
// or probe found, so it answers at once.
func (r *Redis) Healthy() error {
	if r.healthy.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Errorf("ratelimit: redis unreachable since %s: %w", r.downAt.Format(time.RFC3339), r.lastErr)
}

func (r *Redis) lastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// failed counts a failed Redis call and asks the probe to look at once. One failed call (a
// blip, or a node too busy to read its answer in time) does not make Redis unreachable: the
// probe's ping decides.
func (r *Redis) failed(err error) {
	r.failures.Add(1)
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// down marks Redis unreachable: decisions follow cfg.Down until the probe finds it again.
func (r *Redis) down(err error) {
	r.failures.Add(1)
	r.mu.Lock()
	r.lastErr = err
	was := r.healthy.Load()
	if was {
		r.downAt = time.Now()
		r.healthy.Store(false)
	}
	r.mu.Unlock()
	if was {
		r.cfg.Logger.Warn("rate limits: redis is unreachable", "redis_down", r.cfg.Down, "err", err)
		if r.cfg.OnHealth != nil {
			r.cfg.OnHealth(false, err)
		}
	}
}

// recovered pushes what redis_down local spent while Redis was unreachable, then marks it
// reachable again and tells OnHealth. Until the push succeeds Redis stays unreachable: the
// next probe tries again, and nothing spent is lost.
func (r *Redis) recovered(ctx context.Context) {
	if r.cfg.Down == DownLocal {
		if err := r.push(ctx, r.local, false); err != nil {
			r.failures.Add(1)
			r.mu.Lock()
			r.lastErr = err
			r.mu.Unlock()
			return
		}
	}
	r.mu.Lock()
	down := time.Since(r.downAt)
	r.healthy.Store(true)
	r.mu.Unlock()
	r.cfg.Logger.Info("rate limits: redis answers again", "down_for", down.Round(time.Millisecond))
	if r.cfg.OnHealth != nil {
		r.cfg.OnHealth(true, nil)
	}
}

// probe pings Redis and records what it found.
func (r *Redis) probe(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	err := r.rdb.Ping(pctx).Err()
	cancel()
	if ctx.Err() != nil {
		return
	}
	switch {
	case err != nil:
		r.down(err)
	case !r.healthy.Load():
		r.recovered(ctx)
	case r.cfg.Down == DownLocal:
		// Decisions whose call failed while Redis stayed reachable were decided locally.
		if err := r.push(ctx, r.local, false); err != nil && ctx.Err() == nil {
			r.failed(err)
		}
	}
}

// loop probes Redis and, in fast mode, reconciles, until Close.
func (r *Redis) loop(ctx context.Context) {
	defer close(r.done)
	probe := time.NewTicker(r.cfg.ProbeEvery)
	defer probe.Stop()
	var syncC <-chan time.Time
	if r.fast != nil {
		t := time.NewTicker(r.cfg.SyncEvery)
		defer t.Stop()
		syncC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-probe.C:
			r.probe(ctx)
		case <-r.kick:
			r.probe(ctx)
		case <-syncC:
			r.sync(ctx)
		}
	}
}

// sync reconciles fast mode's shares with Redis, while Redis answers.
func (r *Redis) sync(ctx context.Context) {
	if r.fast == nil || !r.healthy.Load() {
		return
	}
	if err := r.push(ctx, r.fast, true); err != nil && ctx.Err() == nil {
		r.failed(err)
	}
}

// Close stops the background work, pushes what fast mode has not yet (when Redis answers), and
// closes the connections.
func (r *Redis) Close() error {
	r.stop()
	<-r.done
	if r.pipe != nil {
		r.pipe.wait()
	}
	if r.fast != nil && r.healthy.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*r.cfg.Timeout)
		_ = r.push(ctx, r.fast, false)
		cancel()
	}
	return r.rdb.Close()
}

// seenLog holds the balances exact mode changed since Balances last took them, sharded like a
// table; at most about max are kept (the live balances are in Redis: one not written back is
// only older in the store).
type seenLog struct {
	perMax int
	shards [16]struct {
		mu sync.Mutex
		m  map[string]*Credits
	}
}

func (s *seenLog) init(max int) {
	s.perMax = max/len(s.shards) + 1
	for i := range s.shards {
		s.shards[i].m = make(map[string]*Credits)
	}
}

func (s *seenLog) put(c *Credits) {
	var h uint32
	for i := 0; i < len(c.Key); i++ {
		h = h*31 + uint32(c.Key[i])
	}
	sh := &s.shards[h%uint32(len(s.shards))]
	sh.mu.Lock()
	if _, ok := sh.m[c.Key]; ok || len(sh.m) < s.perMax {
		sh.m[c.Key] = c
	}
	sh.mu.Unlock()
}

func (s *seenLog) drain() []Credits {
	var out []Credits
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, c := range sh.m {
			out = append(out, *c)
			delete(sh.m, k)
		}
		sh.mu.Unlock()
	}
	return out
}
