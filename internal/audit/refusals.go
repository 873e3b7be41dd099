package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// maxPending bounds the distinct refusals held between two flushes; past it, refusals are
// folded into one overflow event per minute so memory stays bounded under a flood.
const maxPending = 10_000

type refusalKey struct {
	action                  string
	ip, fingerprint, reason string
	minute                  int64
}

// Refusals aggregates refused credentials per client address, token fingerprint, reason and
// minute, and writes them in batches in the background, so a flood of garbage becomes a
// handful of counted events instead of a flood of writes.
type Refusals struct {
	out Appender
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	pending map[refusalKey]pending
}

// NewRefusals returns an aggregator writing to out.
func NewRefusals(out Appender, now func() time.Time, log *slog.Logger) *Refusals {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Refusals{out: out, now: now, log: log, pending: make(map[refusalKey]pending)}
}

// Fingerprint names a presented secret in the audit trail without revealing it: the first 12
// hex digits of its SHA-256.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// Record counts one refused credential.
func (r *Refusals) Record(ip, secret, reason string) {
	r.RecordEvent(ActionRefused, ip, Fingerprint(secret), reason)
}

// RecordEvent counts one refusal of another kind (a failed or throttled login), aggregated like
// refused credentials: per action, client address, target, detail and minute. target and detail
// must hold no secret; name one by its Fingerprint.
func (r *Refusals) RecordEvent(action, ip, target, detail string) {
	k := refusalKey{action: action, ip: ip, fingerprint: target, reason: detail, minute: r.now().Unix() / 60}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.pending[k]; !ok && len(r.pending) >= maxPending {
		k = refusalKey{action: action, fingerprint: "overflow", reason: "many distinct refusals", minute: k.minute}
	}
	p := r.pending[k]
	if p.count == 0 {
		p.first = r.now().Unix()
	}
	p.count++
	r.pending[k] = p
}

// pending is one aggregated refusal: how many, and when the first of them happened.
type pending struct {
	count int
	first int64 // unix seconds
}

// Flush writes what was recorded since the last flush.
func (r *Refusals) Flush(ctx context.Context) error {
	r.mu.Lock()
	batch := r.pending
	r.pending = make(map[refusalKey]pending)
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

// Run flushes every interval until ctx ends, then once more with flushCtx.
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
			if err := r.Flush(ctx); err != nil {
				r.log.Error("writing refused credentials to the audit trail", "error", err)
			}
		}
	}
}
