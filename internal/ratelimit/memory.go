package ratelimit

import (
	"context"
	"time"
)

// Defaults for zero fields of MemoryConfig and RedisConfig.
const (
	// DefaultMaxBuckets bounds the buckets a limiter holds, and separately the balances: about
	// 200 bytes each.
	DefaultMaxBuckets = 1 << 20
	// DefaultIdleCredits is how long a balance with nothing to write back stays in memory
	// after its last use; the next decision seeds it again from the request.
	DefaultIdleCredits = time.Hour
)

// MemoryConfig configures a Memory limiter. Zero fields take the defaults.
type MemoryConfig struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxBuckets bounds the buckets held, and separately the credit balances
	// (DefaultMaxBuckets when ≤ 0). Expired buckets and idle balances make room; when none
	// has, a decision that needs a new one fails with ErrFull.
	MaxBuckets int
	// IdleCredits is how long a balance already returned by Balances stays in memory without
	// being used (DefaultIdleCredits when ≤ 0). Once forgotten, it is seeded again from the
	// next request's Credits, which by then must hold the written-back balance.
	IdleCredits time.Duration
}

// Memory is a Limiter whose state lives in this process: exact here, and shared with no other
// node. It needs no background goroutine.
type Memory struct {
	t *table
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns a Memory limiter.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxBuckets
	}
	if cfg.IdleCredits <= 0 {
		cfg.IdleCredits = DefaultIdleCredits
	}
	return &Memory{t: newTable(cfg.Now, cfg.MaxBuckets, cfg.IdleCredits)}
}

// Decide implements Limiter.
func (m *Memory) Decide(_ context.Context, req Request) (Decision, error) {
	nowMs := m.t.now().UnixMilli()
	var buf [maxInline]spec
	specs, err := plan(&req, nowMs, &buf)
	if err != nil {
		return Decision{}, err
	}
	return m.t.decide(&req, specs, nowMs)
}

// Balances implements Limiter.
func (m *Memory) Balances() []Credits { return m.t.drain() }

// Len is the number of buckets and of credit balances held.
func (m *Memory) Len() (buckets, balances int) { return m.t.size() }
