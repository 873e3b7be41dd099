package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// Appender writes events that belong to no change.
type Appender interface {
	AppendEvents(ctx context.Context, evs []store.Event) error
}

// ActionRefused is the action of a refused-credential event.
const ActionRefused = "credential.refused"

// maxPending bounds the distinct refusals held between two flushes, and those given rows of
// their own in a minute; past it, refusals are folded into one overflow event per action and
// minute so memory stays bounded under a flood from many addresses.
const maxPending = 10_000

// maxPerAddress is how many distinct refusals (target and detail) of one action from one client
// address get events of their own in a minute; the rest of that minute fold into one event for
// the address, with targetMany and detailMany, so a flood of random tokens from one address
// writes at most maxPerAddress+1 events per action and minute (CONTRACT §11.61).
const maxPerAddress = 20

// The target and detail of the event that counts an address's refusals past maxPerAddress.
const (
	targetMany = "many"
	detailMany = "more distinct credentials from this address"
)

type refusalKey struct {
	action                  string
	ip, fingerprint, reason string
	minute                  int64
	// fold marks a count of refusals past a bound (an address's, or maxPending): Run writes
	// it once its minute has ended, so that it is one event per minute, not one per flush.
	fold bool
}

// addrKey is an action from one client address, in the current minute.
type addrKey struct{ action, ip string }

// Refusals aggregates refused credentials per client address, token fingerprint, reason and
// minute, and writes them in batches in the background, so a flood of garbage becomes a
// handful of counted events instead of a flood of writes: an address gets at most
// maxPerAddress distinct refusals of its own per action and minute, the rest counted together.
type Refusals struct {
	fp  Fingerprinter
	out Appender
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	pending map[refusalKey]pending
	// minute is the minute own and perAddr count in; they restart when a later one begins,
	// and are kept across flushes so that flushing often gives an address no more rows.
	minute  int64
	own     map[refusalKey]claim // refusals given events of their own this minute
	perAddr map[addrKey]int      // how many of own each address has

	claims Claims // nil: this node decides alone
}

// claim is where a refusal of own stands with the other nodes (Share).
type claim byte

const (
	unclaimed claim = iota // not yet asked: it has its own events so far
	claimed                // one of the address's first maxPerAddress across the nodes
	denied                 // past them: folded from now on
)

// NewRefusals returns an aggregator writing to out that fingerprints secrets with key, the
// instance key (store.Store.InstanceKey); it panics when key is shorter than 16 bytes.
func NewRefusals(out Appender, key []byte, now func() time.Time, log *slog.Logger) *Refusals {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Refusals{fp: NewFingerprinter(key), out: out, now: now, log: log, pending: make(map[refusalKey]pending),
		own: make(map[refusalKey]claim), perAddr: make(map[addrKey]int)}
}

// Share makes the nodes sharing c count an address's distinct refusals together, so that
// across all of them it gets at most maxPerAddress events of its own per action and minute
// (plus one folded event per node). Each flush claims the refusals new to it in one call; when
// the call fails, the node's own count decides, as without sharing. Call it before Run.
func (r *Refusals) Share(c Claims) { r.claims = c }

// Fingerprint names secret by its keyed fingerprint (Fingerprinter), for targets and details
// of RecordEvent that stand for a secret, such as an email that may be a mistyped password.
func (r *Refusals) Fingerprint(secret string) string { return r.fp.Fingerprint(secret) }

// Record counts one refused credential, named by its keyed fingerprint.
func (r *Refusals) Record(ip, secret, reason string) {
	r.RecordEvent(ActionRefused, ip, r.Fingerprint(secret), reason)
}

// RecordEvent counts one refusal of another kind (a failed or throttled login), aggregated like
// refused credentials: per action, client address, target, detail and minute, with at most
// maxPerAddress distinct targets and details per action, address and minute. target and detail
// must hold no secret; name one by r.Fingerprint.
func (r *Refusals) RecordEvent(action, ip, target, detail string) {
	now := r.now().Unix()
	k := refusalKey{action: action, ip: ip, fingerprint: target, reason: detail, minute: now / 60}
	r.mu.Lock()
	defer r.mu.Unlock()
	if k.minute > r.minute { // a refusal timed just before one already counted starts nothing
		r.minute = k.minute
		clear(r.own)
		clear(r.perAddr)
	}
	if c, ok := r.own[k]; !ok {
		a := addrKey{action: action, ip: ip}
		switch {
		case r.perAddr[a] >= maxPerAddress:
			k = foldKey(k)
		case len(r.own) >= maxPending:
			k = overflowKey(action, k.minute)
		default:
			r.own[k] = unclaimed
			r.perAddr[a]++
		}
	} else if c == denied {
		k = foldKey(k)
	}
	if _, ok := r.pending[k]; !ok && len(r.pending) >= maxPending {
		k = overflowKey(action, k.minute)
	}
	p := r.pending[k]
	if p.count == 0 {
		p.first = now
	}
	p.count++
	r.pending[k] = p
}

// foldKey is where k is counted when it gets no event of its own: with the rest of its
// address's refusals of the minute.
func foldKey(k refusalKey) refusalKey {
	k.fingerprint, k.reason, k.fold = targetMany, detailMany, true
	return k
}

// overflowKey counts, for a minute, the refusals of action past the bound on what is held.
func overflowKey(action string, minute int64) refusalKey {
	return refusalKey{action: action, fingerprint: "overflow", reason: "many distinct refusals", minute: minute, fold: true}
}

// pending is one aggregated refusal: how many, and when the first of them happened.
type pending struct {
	count int
	first int64 // unix seconds
}

// merge adds q's refusals to p's.
func (p pending) merge(q pending) pending {
	switch {
	case q.count == 0:
		return p
	case p.count == 0:
		return q
	}
	return pending{count: p.count + q.count, first: min(p.first, q.first)}
}

// Flush writes everything recorded since the last flush.
func (r *Refusals) Flush(ctx context.Context) error { return r.flush(ctx, true) }

// flush writes what was recorded since the last flush; unless all is set, the counts of the
// current minute's refusals past a bound stay behind until the minute has ended, so that each
// is written as one event.
func (r *Refusals) flush(ctx context.Context, all bool) error {
	minute := r.now().Unix() / 60
	r.mu.Lock()
	batch := r.pending
	r.pending = make(map[refusalKey]pending)
	groups, keys := r.toClaim(batch)
	r.mu.Unlock()
	if len(groups) > 0 {
		if err := r.claims.Claim(ctx, groups, maxPerAddress); err != nil {
			r.log.Warn("sharing refused credentials' counts through Redis; this node counts alone meanwhile", "error", err)
			groups = nil
		}
	}
	r.mu.Lock()
	r.settle(batch, groups, keys)
	if !all {
		for k, p := range batch {
			if k.fold && k.minute >= minute {
				r.pending[k] = p.merge(r.pending[k])
				delete(batch, k)
			}
		}
	}
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	evs := make([]store.Event, 0, len(batch))
	for k, p := range batch {
		evs = append(evs, store.Event{
			At:     time.Unix(p.first, 0).UTC(), // when the first of them happened
			Count:  p.count,
			Action: k.action,
			Target: k.fingerprint,
			Result: "refused",
			IP:     k.ip,
			Detail: k.reason,
		})
	}
	return r.out.AppendEvents(ctx, evs)
}

// toClaim groups the refusals of batch that have events of their own and were not yet claimed
// with the other nodes, by action, address and minute; keys[i][j] is the refusal of
// groups[i].Members[j]. r.mu must be held.
func (r *Refusals) toClaim(batch map[refusalKey]pending) (groups []ClaimGroup, keys [][]refusalKey) {
	if r.claims == nil {
		return nil, nil
	}
	type groupKey struct {
		action, ip string
		minute     int64
	}
	at := map[groupKey]int{}
	for k := range batch {
		if k.fold || k.minute == r.minute && r.own[k] != unclaimed {
			continue
		}
		gk := groupKey{k.action, k.ip, k.minute}
		i, ok := at[gk]
		if !ok {
			i = len(groups)
			at[gk] = i
			groups = append(groups, ClaimGroup{Action: k.action, IP: k.ip, Minute: k.minute})
			keys = append(keys, nil)
		}
		// A distinct refusal within its group: target and detail (neither holds a newline).
		groups[i].Members = append(groups[i].Members, k.fingerprint+"\n"+k.reason)
		keys[i] = append(keys[i], k)
	}
	return groups, keys
}

// settle applies the answers of a claim to batch: a refusal denied its own events is folded
// into its address's count, and so are its later ones this minute. r.mu must be held.
func (r *Refusals) settle(batch map[refusalKey]pending, groups []ClaimGroup, keys [][]refusalKey) {
	for i, g := range groups {
		for j, k := range keys[i] {
			r.settleOne(batch, k, g.Granted[j])
		}
	}
}

func (r *Refusals) settleOne(batch map[refusalKey]pending, k refusalKey, granted bool) {
	c := denied
	if granted {
		c = claimed
	}
	if _, mine := r.own[k]; mine && k.minute == r.minute {
		r.own[k] = c
	}
	if !granted {
		f := foldKey(k)
		batch[f] = batch[k].merge(batch[f])
		delete(batch, k)
	}
}

// Run flushes every interval until ctx ends, then flushes everything once more with flushCtx. A
// count of refusals past a bound is written once its minute has ended.
func (r *Refusals) Run(ctx, flushCtx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := r.Flush(flushCtx); err != nil {
				r.log.Error("writing refused credentials to the audit trail", "error", err)
			}
			return
		case <-t.C:
			if err := r.flush(ctx, false); err != nil {
				r.log.Error("writing refused credentials to the audit trail", "error", err)
			}
		}
	}
}
