package ratelimit

import "github.com/redis/go-redis/v9"

// The Lua scripts Redis runs. Each runs atomically: no other command, from this node or
// another, runs between its reads and its writes.
//
// A window is one string key per bucket, window length and window index, holding the count
// spent in it and expiring shortly after the window ends. A credit balance is one hash per key:
// s (SetAt in Unix ns, 20 digits, so that string order is time order), r (remaining), p (the
// start of the refill period it belongs to, Unix ms), ra (the last refill, Unix ms, -1 for
// never), a (the refill amount, 0 for none) and i (0: daily, 1: monthly). Numbers stay below
// 2^53, which Lua's doubles hold exactly; they are written with %d so that none is ever
// written in exponent form.
//
// The credit arguments, at ARGV[a] on: s, r, p, ra, a, i of the stored credits (the seed), the
// start of the current UTC day and month (ms), and the balance's time to live (ms).
const creditsLua = `
local function credits(ck, a)
  local c = {changed = false}
  local st = redis.call('HMGET', ck, 's', 'r', 'p', 'ra', 'a', 'i')
  if st[1] and st[1] >= ARGV[a] then
    c.s, c.rem, c.p, c.ra = st[1], tonumber(st[2]), tonumber(st[3]), tonumber(st[4])
    c.a, c.i = tonumber(st[5]), tonumber(st[6])
    c.mine = st[1] == ARGV[a]
  else
    c.s, c.rem, c.p, c.ra = ARGV[a], tonumber(ARGV[a+1]), tonumber(ARGV[a+2]), tonumber(ARGV[a+3])
    c.a, c.i = tonumber(ARGV[a+4]), tonumber(ARGV[a+5])
    c.mine, c.changed = true, true
  end
  c.day, c.month, c.ttl = tonumber(ARGV[a+6]), tonumber(ARGV[a+7]), ARGV[a+8]
  return c
end

-- refill tops the balance up at the start of the period to (the current one when nil).
local function refill(c, to)
  if c.a == 0 then return end
  if not to then
    if c.i == 0 then to = c.day else to = c.month end
  end
  if c.p < to then
    if c.rem < c.a then c.rem = c.a end
    c.p, c.ra, c.changed = to, to, true
  end
end

local function save(ck, c)
  redis.call('HSET', ck, 's', c.s, 'r', string.format('%d', c.rem), 'p', string.format('%d', c.p),
    'ra', string.format('%d', c.ra), 'a', string.format('%d', c.a), 'i', string.format('%d', c.i))
  redis.call('PEXPIRE', ck, c.ttl)
end

-- state is the balance as the reply carries it: r, p, ra, a, i, and s as seconds and nanoseconds.
local function state(c)
  return {c.rem, c.p, c.ra, c.a, c.i, tonumber(string.sub(c.s, 1, 11)), tonumber(string.sub(c.s, 12))}
end
`

// decideScript decides one request: every window and the credits, all or nothing.
//
// KEYS: the n window counters, then the credit balance when the request has credits.
// ARGV: cost, dry run (1 or 0), n, then per window its limit and when its counter expires (Unix
// ms), then the credit arguments.
// Reply: whether it wrote, the n counts before the decision, then the balance's state before
// spending (after any refill) when the request has credits.
var decideScript = redis.NewScript(creditsLua + `
local cost, dry, n = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3])
local ok = true
local used = {}
for i = 1, n do
  used[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used[i] + cost > tonumber(ARGV[2 + 2*i]) then ok = false end
end
local c
if #KEYS > n then
  c = credits(KEYS[n+1], 4 + 2*n)
  refill(c)
  if c.rem < cost then ok = false end
end
local spend = ok and not dry and cost > 0
if spend then
  for i = 1, n do
    if redis.call('INCRBY', KEYS[i], ARGV[1]) == cost then
      redis.call('PEXPIREAT', KEYS[i], ARGV[3 + 2*i])
    end
  end
end
local wrote = 0
if c and not dry and (spend or c.changed) then
  local before = c.rem
  if spend then c.rem = c.rem - cost end
  save(KEYS[n+1], c)
  c.rem = before
  wrote = 1
end
local out = {wrote}
for i = 1, n do out[#out+1] = used[i] end
if c then
  for _, v in ipairs(state(c)) do out[#out+1] = v end
end
return out
`)

// syncCreditsScript pushes what one node spent from a balance without Redis on the request path
// (fast mode, or redis_down local) and answers the balance as it is now.
//
// KEYS: the balance. ARGV: the credit arguments, then pairs of an amount spent and the start of
// the refill period it was spent in. Amounts spent under an older setting than the stored one
// are dropped: the newer setting replaced that balance. An amount spent in a period that has
// since been refilled is dropped too: the refill topped it up. A balance never goes below 0.
// Reply: the balance's state.
var syncCreditsScript = redis.NewScript(creditsLua + `
local c = credits(KEYS[1], 1)
if c.mine then
  for i = 10, #ARGV, 2 do
    local d, dp = tonumber(ARGV[i]), tonumber(ARGV[i+1])
    if d > 0 then
      refill(c, dp)
      if c.a == 0 or c.p == dp then
        c.rem = c.rem - d
        if c.rem < 0 then c.rem = 0 end
      end
    end
  end
end
refill(c)
save(KEYS[1], c)
return state(c)
`)
