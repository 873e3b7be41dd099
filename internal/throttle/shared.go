package throttle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts the Redis keys of a Shared tracker.
const DefaultPrefix = "lanyard:login:"

// inFlightFor is how long an attempt let through counts as in flight when its node never says
// how it ended (the node died): far longer than checking a password takes.
const inFlightFor = 30 * time.Second

// Shared is a Tracker whose counts live in Redis, so that the nodes sharing it throttle an
// account and an address together: twenty failures spread over three nodes lock the account as
// twenty on one node would. The rules are Logins' (the package doc), decided by one Lua script
// per attempt and one per outcome, on the deciding node's clock; attempts in flight are held
// with a deadline, so a node that dies mid-attempt blocks nothing for longer than inFlightFor.
//
// When Redis cannot be reached, Shared falls back to its local Logins (each node then throttles
// on its own, as without Redis) and tells OnError; it uses Redis again as soon as it answers.
// Login is never refused because Redis is down: locking everyone out would be the outage.
//
// Redis holds, per account and per address with failures, a small hash that expires a little
// after its window; accounts are named by the caller (lanyard passes a hash of the email, never
// the email) and appear in keys hex-encoded.
type Shared struct {
	rdb     redis.Cmdable
	prefix  string
	local   *Logins
	onError func(error)
}

// SharedConfig configures a Shared tracker.
type SharedConfig struct {
	// Redis is the client; its calls should time out quickly (a login waits for them).
	Redis redis.Cmdable
	// Prefix starts every key (DefaultPrefix).
	Prefix string
	// Limits are the rules and the clock, as for New; the local fallback uses them too.
	Limits Config
	// OnError, when set, is told of each failed Redis call (the attempt then used the local
	// fallback).
	OnError func(error)
}

var _ Tracker = (*Shared)(nil)

// NewShared returns a tracker sharing its counts through cfg.Redis.
func NewShared(cfg SharedConfig) *Shared {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	return &Shared{rdb: cfg.Redis, prefix: cfg.Prefix, local: New(cfg.Limits), onError: cfg.OnError}
}

// beginScript refuses an attempt when the account or the address reached its limit (counting
// the attempts in flight), else records the attempt as in flight for both. KEYS: account
// failures, account in flight, address failures, address in flight. ARGV: now (ms), lockout
// (ms), account limit, address limit, attempt id, in-flight deadline (ms), how long Redis keeps
// the keys (ms). Returns {0, 0} when let through, else {1 (account) or 2 (address), retry ms}.
//
// A failures hash holds f (failures in the window) and s (ms: the account's last failure, or
// the address's first in its window); a window that has passed counts as no failures.
var beginScript = redis.NewScript(`
local now, lockout = tonumber(ARGV[1]), tonumber(ARGV[2])
local function check(k, pk, max)
  local v = redis.call('HMGET', k, 'f', 's')
  local f, s = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if f > 0 and now >= s + lockout then f = 0 end
  if f >= max then return math.max(1, s + lockout - now) end
  redis.call('ZREMRANGEBYSCORE', pk, '-inf', now)
  if f + redis.call('ZCARD', pk) >= max then return 1000 end
  return 0
end
local r = check(KEYS[1], KEYS[2], tonumber(ARGV[3]))
if r > 0 then return {1, r} end
r = check(KEYS[3], KEYS[4], tonumber(ARGV[4]))
if r > 0 then return {2, r} end
for _, pk in ipairs({KEYS[2], KEYS[4]}) do
  redis.call('ZADD', pk, now + tonumber(ARGV[6]), ARGV[5])
  redis.call('PEXPIRE', pk, ARGV[7])
end
return {0, 0}
`)

// finishScript ends an attempt in flight and records its outcome. KEYS as beginScript's. ARGV:
// now (ms), lockout (ms), outcome (f, s or x), attempt id, how long Redis keeps the keys (ms).
var finishScript = redis.NewScript(`
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZREM', KEYS[4], ARGV[4])
local now, lockout, o = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local function failures(k)
  local v = redis.call('HMGET', k, 'f', 's')
  local f, s = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if f > 0 and now >= s + lockout then f = 0 end
  return f, s
end
if o == 'f' then
  local f = failures(KEYS[1])
  redis.call('HSET', KEYS[1], 'f', f + 1, 's', now)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  local g, s = failures(KEYS[3])
  if g == 0 then s = now end
  redis.call('HSET', KEYS[3], 'f', g + 1, 's', s)
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
elseif o == 's' then
  redis.call('DEL', KEYS[1])
end
return 0
`)

// keys returns the four keys of an attempt, in the scripts' order.
func (s *Shared) keys(account, addr string) []string {
	a := s.prefix + "a:" + hex.EncodeToString([]byte(account))
	d := s.prefix + "d:" + addr
	return []string{a, a + ":p", d, d + ":p"}
}

// keep is how long Redis keeps a key past its last change: its window, and a margin for
// clocks that disagree a little.
func (s *Shared) keep() int64 { return (s.local.lockout + time.Minute).Milliseconds() }

// Begin implements Tracker.
func (s *Shared) Begin(ctx context.Context, account, addr string) (*Attempt, error) {
	l := s.local
	id := newAttemptID()
	res, err := beginScript.Run(ctx, s.rdb, s.keys(account, addr),
		l.now().UnixMilli(), l.lockout.Milliseconds(), l.accounts.max, l.addrs.max, id,
		inFlightFor.Milliseconds(), max(s.keep(), 2*inFlightFor.Milliseconds())).Int64Slice()
	if err == nil && len(res) != 2 {
		err = errors.New("throttle: unexpected answer from Redis")
	}
	if err != nil {
		s.failed(err)
		return l.Begin(ctx, account, addr)
	}
	switch res[0] {
	case 1:
		return nil, &Refused{Scope: ScopeAccount, RetryAfter: time.Duration(res[1]) * time.Millisecond}
	case 2:
		return nil, &Refused{Scope: ScopeAddress, RetryAfter: time.Duration(res[1]) * time.Millisecond}
	}
	return &Attempt{by: s, account: account, addr: addr, id: id}, nil
}

func (s *Shared) finish(a *Attempt, o outcome) {
	// The outcome is recorded even when the request that asked has ended.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l := s.local
	err := finishScript.Run(ctx, s.rdb, s.keys(a.account, a.addr),
		l.now().UnixMilli(), l.lockout.Milliseconds(), string(o), a.id, s.keep()).Err()
	if err != nil {
		s.failed(err)
		if o == failed { // counted here at least, as without Redis
			if b, err := l.Begin(ctx, a.account, a.addr); err == nil {
				b.Failed()
			}
		}
	}
}

func (s *Shared) failed(err error) {
	if s.onError != nil {
		s.onError(err)
	}
}

func newAttemptID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
