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
	own     map[refusalKey]struct{} // refusals given events of their own this minute
	perAddr map[addrKey]int         // how many of own each address has
}

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
		own: make(map[refusalKey]struct{}), perAddr: make(map[addrKey]int)}
}

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
	if _, ok := r.own[k]; !ok {
		a := addrKey{action: action, ip: ip}
		switch {
		case r.perAddr[a] >= maxPerAddress:
			k.fingerprint, k.reason, k.fold = targetMany, detailMany, true
		case len(r.own) >= maxPending:
			k = overflowKey(action, k.minute)
		default:
			r.own[k] = struct{}{}
			r.perAddr[a]++
		}
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

// overflowKey counts, for a minute, the refusals of action past the bound on what is held.
func overflowKey(action string, minute int64) refusalKey {
	return refusalKey{action: action, fingerprint: "overflow", reason: "many distinct refusals", minute: minute, fold: true}
}

// pending is one aggregated refusal: how many, and when the first of them happened.
type pending struct {
	count int
	first int64 // unix seconds
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
	if !all {
		for k, p := range batch {
			if k.fold && k.minute >= minute {
				r.pending[k] = p
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
