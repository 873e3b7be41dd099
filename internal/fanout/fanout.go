// Package fanout carries revocations from the lanyard node that made them to every other node of
// the same store, and lets a caller wait until they have arrived (CONTRACT §1, §11.33).
//
// Each node keeps resolved credentials, resources and grants in an in-process cache
// (internal/cache) whose entries live at most the staleness bound, cache.staleness (1 s by
// default). The node that makes a change forgets what it revoked before it answers; the other
// nodes learn of it through this package, normally within tens of milliseconds, and in any case
// within the bound, when their entries expire.
//
// # One mechanism: a log in the store
//
// Every write the cache calls revoking (cache.Options.Publish: a deleted key, token, user,
// resource or grant, a reissue, a demotion, a changed password, a changed or moved resource) is
// appended to the store's revocation log after it committed: its seq, its time, the id of the
// node that made it and what it revoked (store.Revoked). Each node tails the log every
// PollInterval, reading the entries after the last seq it applied, and makes its cache forget
// what each entry of another node names (Options.Forget: the credentials it names, and the whole
// resource and grant cache). The store gives seqs in commit order, so reading "after seq n"
// never skips an entry.
//
// The log lives in the store that every node shares already, so there is no second system to
// run, secure or watch, and it works the same on PostgreSQL and on SQLite. With --redis a bus
// (Options.Bus: Redis pub/sub) wakes the tailers: a node that appended publishes a notification,
// and the others read the log when it arrives instead of on their next poll, so a revocation
// costs the others one read, not a poll each every 25 ms. While the bus is up a node still reads
// the log every BusPoll (a quarter of the bound) in case a notification was lost; when the
// subscription drops (Redis down, a connection that stops answering pings) it polls every
// PollInterval again and resubscribes by itself. The bus only wakes: every entry is in the log
// whether or not its notification arrives, so losing the bus costs latency, never a revocation. Entries are trimmed
// once they are older than KeepLog (a minute, far past the staleness bound; the newest is kept
// so that seqs keep growing).
//
// # Nodes and heartbeats
//
// Each node has an id (server.node_id, by default "<hostname>:<port>") and a row in the store:
// when it started, when it was last seen, and the seq of the newest entry it applied. Register
// writes the row before the node serves its first request; the tailer writes it again at least
// every HeartbeatInterval (2 s), and at once when it applied another node's entry. A node seen
// within LiveWindow (10 s) is live: GET /v1/nodes lists the live nodes. A node that stops
// gracefully dates its last heartbeat to the zero time, so it stops counting as live at once;
// rows not seen for KeepNodes are deleted.
//
// # Waiting for a revocation (?wait=propagated)
//
// Wait returns once every other live node has applied every entry this node appended, or at
// the staleness bound with the ids of the nodes that have not (by then their caches have
// expired what the entries name anyway). A lone node answers at once.
//
// # When the log cannot be reached
//
// Appending happens beside the request, not in it, so a revoking call is no slower for the
// fan-out. An entry that cannot be appended is kept and tried again every tick until the bound
// has passed (later, every node's cache has forgotten it anyway); a tick whose read fails is
// logged once and retried on the next tick, so the tailer resumes by itself when the store
// answers again. Meanwhile the cache's lifetime keeps staleness within the bound, and a node
// that cannot reach the store cannot resolve anything new either: it fails closed.
package fanout

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// The package's intervals and windows.
const (
	// PollInterval is how often a node reads the revocation log.
	PollInterval = 25 * time.Millisecond
	// HeartbeatInterval is the longest a node goes without writing its row.
	HeartbeatInterval = 2 * time.Second
	// LiveWindow is how recently a node must have been seen to count as live.
	LiveWindow = 10 * time.Second
	// KeepLog is how long entries stay in the revocation log.
	KeepLog = time.Minute
	// KeepNodes is how long the row of a node that is no longer seen is kept.
	KeepNodes = 24 * time.Hour
	// trimInterval is how often a node trims the log and the node rows.
	trimInterval = 10 * time.Second
	// waitInterval is how often Wait reads the node rows.
	waitInterval = 10 * time.Millisecond
	// batch bounds the entries one read of the log returns.
	batch = 500
)

// Options configure a Fanout.
type Options struct {
	// Store is the shared store.
	Store store.Store
	// ID is this node's id.
	ID string
	// Forget makes this node's cache forget what another node revoked.
	Forget func(store.Revoked)
	// Bound is the staleness bound (cache.staleness): how long Wait waits at most, and how long
	// an entry that could not be appended is tried again.
	Bound time.Duration
	// Now is the clock of the times written to the store (time.Now when nil).
	Now func() time.Time
	// Logger receives the tailer's warnings (none when nil).
	Logger *slog.Logger
	// Poll overrides PollInterval (tests).
	Poll time.Duration
	// Bus, when set, wakes this node's tailer when another node appended, and the others'
	// when this one did (Redis pub/sub with --redis).
	Bus Bus
	// BusPoll is how often the log is read while the bus is up, in case a notification was
	// lost: by default a quarter of Bound, at least Poll.
	BusPoll time.Duration
}

// Fanout is one node's side of the fan-out: it publishes this node's revocations, applies the
// others', keeps the node's row alive and answers waits. It is safe for concurrent use.
type Fanout struct {
	o Options
	// started is when Register ran, written before Run starts.
	started time.Time

	// applied is the seq of the newest entry of the log this node has read; only Register
	// and Run write it.
	applied atomic.Int64
	// published is the greatest seq this node appended.
	published atomic.Int64

	// wake tells the publisher that Publish queued an entry.
	wake chan struct{}
	// busUp says the bus is subscribed.
	busUp atomic.Bool

	mu sync.Mutex
	// pending are the entries not appended yet, oldest first; only the publisher removes them.
	pending []store.Revocation
	// failing and publishFailing say the tailer's last tick, and the publisher's last append,
	// failed.
	failing, publishFailing bool
}

// New returns the fan-out of the node o.ID; call Register, then Run.
func New(o Options) *Fanout {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Poll <= 0 {
		o.Poll = PollInterval
	}
	if o.Bound <= 0 {
		o.Bound = time.Second
	}
	if o.Forget == nil {
		o.Forget = func(store.Revoked) {}
	}
	if o.BusPoll <= 0 {
		o.BusPoll = max(o.Poll, o.Bound/4)
	}
	return &Fanout{o: o, wake: make(chan struct{}, 1)}
}

// ID is this node's id.
func (f *Fanout) ID() string { return f.o.ID }

// BusUp reports whether the node hears the other nodes' notifications (Options.Bus) now.
func (f *Fanout) BusUp() bool { return f.busUp.Load() }

// Applied is the seq of the newest entry of the log this node has read.
func (f *Fanout) Applied() int64 { return f.applied.Load() }

// Register starts reading the log at its newest entry (this node's cache holds nothing older)
// and writes the node's row, so that the node is listed before it serves.
func (f *Fanout) Register(ctx context.Context) error {
	last, err := f.o.Store.LastRevocation(ctx)
	if err != nil {
		return err
	}
	f.applied.Store(last)
	f.started = f.o.Now()
	return f.heartbeat(ctx, f.started)
}

func (f *Fanout) heartbeat(ctx context.Context, seen time.Time) error {
	return f.o.Store.Heartbeat(ctx, store.Node{ID: f.o.ID, StartedAt: f.started, LastSeenAt: seen, Applied: f.applied.Load()})
}

// Publish queues what a write of this node revoked for the log (cache.Options.Publish); Run's
// publisher appends it at once, and again every tick while that fails, until the bound has
// passed. The write has been made: the request does not wait for the append, and Wait knows
// the entry is on its way.
func (f *Fanout) Publish(_ context.Context, r store.Revoked) {
	f.mu.Lock()
	f.pending = append(f.pending, store.Revocation{At: f.o.Now(), Node: f.o.ID, Revoked: r})
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default: // the publisher is awake already
	}
}

// publish appends queued entries as they come until ctx ends, then once more.
func (f *Fanout) publish(ctx context.Context) {
	retry := time.NewTimer(f.o.Poll)
	defer retry.Stop()
	// unheard is when a notification first failed to go out (zero: none owed). It is sent
	// again every tick until it goes or the bound has passed (by then every node has read the
	// log anyway): a subscriber may be back before this node's publishing is, as when Redis
	// has just restarted.
	var unheard time.Time
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.o.Bound)
			f.flush(fctx)
			cancel()
			return
		case <-f.wake:
		case <-retry.C:
		}
		fctx, cancel := context.WithTimeout(ctx, f.o.Bound)
		before := f.published.Load()
		err := f.flush(fctx)
		if f.o.Bus != nil && (f.published.Load() != before || !unheard.IsZero()) {
			switch err := f.o.Bus.Notify(fctx); {
			case err == nil:
				unheard = time.Time{}
			case unheard.IsZero():
				unheard = time.Now()
			case time.Since(unheard) > f.o.Bound:
				unheard = time.Time{} // the others' polls have read it by now
			}
		}
		cancel()
		if err != nil || !unheard.IsZero() {
			retry.Reset(f.o.Poll)
		}
		f.mu.Lock()
		was := f.publishFailing
		f.publishFailing = err != nil
		f.mu.Unlock()
		switch {
		case err != nil && !was && ctx.Err() == nil:
			f.o.Logger.Warn("revocation fan-out: a revocation could not be written to the log; trying again until the staleness bound",
				"error", err.Error())
		case err == nil && was:
			f.o.Logger.Info("revocation fan-out: revocations are written to the log again")
		}
	}
}

// flush appends the queued entries in order, dropping those older than the bound (every
// node's cache has forgotten what they name by then); it stops at the first that fails.
func (f *Fanout) flush(ctx context.Context) error {
	for {
		f.mu.Lock()
		now := f.o.Now()
		f.pending = slices.DeleteFunc(f.pending, func(e store.Revocation) bool { return now.Sub(e.At) > f.o.Bound })
		if len(f.pending) == 0 {
			f.mu.Unlock()
			return nil
		}
		e := f.pending[0]
		f.mu.Unlock()
		if err := f.append(ctx, e); err != nil {
			return err
		}
		f.mu.Lock()
		f.pending = f.pending[1:]
		f.mu.Unlock()
	}
}

func (f *Fanout) append(ctx context.Context, e store.Revocation) error {
	seq, err := f.o.Store.AppendRevocation(ctx, e)
	if err != nil {
		return err
	}
	for {
		old := f.published.Load()
		if seq <= old || f.published.CompareAndSwap(old, seq) {
			return nil
		}
	}
}

// Run appends this node's entries, tails the log, applies the other nodes' entries, writes the
// node's row and trims the log until ctx ends; then it appends what is left and marks the node
// as stopped.
func (f *Fanout) Run(ctx context.Context) {
	published := make(chan struct{})
	go func() { f.publish(ctx); close(published) }()
	notified := make(chan struct{}, 1)
	listened := make(chan struct{})
	if f.o.Bus != nil {
		go func() {
			defer close(listened)
			wake := func() {
				select {
				case notified <- struct{}{}:
				default: // a read is due already
				}
			}
			// A change of the bus changes how often the log is read: from now, not from
			// the end of the interval that was running.
			f.o.Bus.Listen(ctx, wake, func(up bool) { f.busUp.Store(up); wake() })
		}()
	} else {
		close(listened)
	}
	// While the bus is up the log is read when it says so, and every BusPoll in case a
	// notification was lost; while it is down (or there is none), every Poll.
	interval := func() time.Duration {
		if f.busUp.Load() {
			return f.o.BusPoll
		}
		return f.o.Poll
	}
	tick := time.NewTimer(interval())
	defer tick.Stop()
	lastBeat, lastTrim := time.Now(), time.Time{}
	for {
		select {
		case <-ctx.Done():
			<-published
			<-listened
			f.leave(context.WithoutCancel(ctx))
			return
		case <-tick.C:
		case <-notified:
		}
		tick.Reset(interval())
		// A store that hangs holds one tick up for at most the bound.
		tctx, cancel := context.WithTimeout(ctx, f.o.Bound)
		foreign, err := f.tail(tctx)
		if err == nil && (foreign || time.Since(lastBeat) >= HeartbeatInterval) {
			if err = f.heartbeat(tctx, f.o.Now()); err == nil {
				lastBeat = time.Now()
			}
		}
		if err == nil && time.Since(lastTrim) >= trimInterval {
			err = f.trim(tctx)
			lastTrim = time.Now()
		}
		cancel()
		if ctx.Err() == nil {
			f.report(err)
		}
	}
}

// tail applies every entry after the last one read, and reports whether one was another node's.
func (f *Fanout) tail(ctx context.Context) (foreign bool, err error) {
	for {
		es, err := f.o.Store.Revocations(ctx, f.applied.Load(), batch)
		if err != nil {
			return foreign, err
		}
		for _, e := range es {
			if e.Node != f.o.ID {
				f.o.Forget(e.Revoked)
				foreign = true
			}
			f.applied.Store(e.Seq)
		}
		if len(es) < batch {
			return foreign, nil
		}
	}
}

// pendingCount is how many entries wait to be appended.
func (f *Fanout) pendingCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

func (f *Fanout) trim(ctx context.Context) error {
	now := f.o.Now()
	if _, err := f.o.Store.TrimRevocations(ctx, now.Add(-KeepLog)); err != nil {
		return err
	}
	_, err := f.o.Store.DeleteNodes(ctx, now.Add(-KeepNodes))
	return err
}

// report logs when the tailer starts failing and when it works again, not on every tick.
func (f *Fanout) report(err error) {
	f.mu.Lock()
	was := f.failing
	f.failing = err != nil
	f.mu.Unlock()
	switch {
	case err != nil && !was:
		f.o.Logger.Warn("revocation fan-out: the store does not answer; other nodes' revocations reach this node within the staleness bound meanwhile",
			"error", err.Error())
	case err == nil && was:
		f.o.Logger.Info("revocation fan-out: the store answers again")
	}
}

// leave dates the node's last heartbeat to the zero time: it no longer counts as live, and no
// wait waits for it.
func (f *Fanout) leave(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, f.o.Bound)
	defer cancel()
	if err := f.heartbeat(ctx, time.Time{}); err != nil {
		f.o.Logger.Warn("revocation fan-out: could not mark this node as stopped", "error", err.Error())
	}
}

// Live lists the nodes seen within LiveWindow, this one included, by id.
func (f *Fanout) Live(ctx context.Context) ([]store.Node, error) {
	return f.o.Store.ListNodes(ctx, f.o.Now().Add(-LiveWindow))
}

// Wait returns once every other live node has applied every entry this node appended (ok), or
// when the bound has passed, with the ids of the live nodes that have not: all the other live
// nodes when an entry could not even be appended, none when the store could not say which
// nodes are live. It returns early, not ok, when ctx ends.
func (f *Fanout) Wait(ctx context.Context) (lagging []string, ok bool) {
	deadline := time.NewTimer(f.o.Bound)
	defer deadline.Stop()
	target := int64(-1) // unknown while an entry waits to be appended
	for {
		if target < 0 && f.pendingCount() == 0 {
			target = f.published.Load()
		}
		if nodes, err := f.Live(ctx); err == nil {
			lagging = lagging[:0]
			for _, n := range nodes {
				if n.ID != f.o.ID && (target < 0 || n.Applied < target) {
					lagging = append(lagging, n.ID)
				}
			}
			if len(lagging) == 0 {
				return nil, true
			}
		}
		step := time.NewTimer(waitInterval)
		select {
		case <-ctx.Done():
			step.Stop()
			return lagging, false
		case <-deadline.C:
			step.Stop()
			return lagging, false
		case <-step.C:
		}
	}
}
