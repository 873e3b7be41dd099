package audit

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claims decides, across the nodes sharing it, which distinct refusals of an address get
// events of their own in a minute: the first maxPerAddress of all nodes together.
type Claims interface {
	// Claim sets, for each member of each group, whether it is one of the first limit
	// distinct members of its group claimed by any node. A member claimed before stays
	// claimed. On an error no group's Granted may be used.
	Claim(ctx context.Context, groups []ClaimGroup, limit int) error
}

// ClaimGroup is the distinct refusals (Members: each a target and detail) of one action from
// one address in one minute that a node asks to claim; Claim fills Granted, one per member.
type ClaimGroup struct {
	Action, IP string
	Minute     int64
	Members    []string
	Granted    []bool
}

// DefaultClaimsPrefix starts the Redis keys of RedisClaims.
const DefaultClaimsPrefix = "lanyard:refusals:"

// RedisClaims keeps the claims in Redis: a set per action, address and minute, which expires
// once its minute is well past. One pipelined round trip claims a whole flush.
type RedisClaims struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedisClaims returns claims kept in rdb under prefix (DefaultClaimsPrefix when empty).
func NewRedisClaims(rdb redis.UniversalClient, prefix string) *RedisClaims {
	if prefix == "" {
		prefix = DefaultClaimsPrefix
	}
	return &RedisClaims{rdb: rdb, prefix: prefix}
}

// claimScript claims members of one set. KEYS[1]: the set. ARGV: the limit, the set's lifetime
// (ms), then the members. Returns 1 or 0 per member: claimed (now or before), or not.
var claimScript = redis.NewScript(`
local limit = tonumber(ARGV[1])
local out = {}
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then
    out[#out + 1] = 1
  elseif redis.call('SCARD', KEYS[1]) < limit then
    redis.call('SADD', KEYS[1], ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return out
`)

// claimsLive is how long a minute's set is kept: past the minute, for refusals flushed late.
const claimsLive = 3 * time.Minute

// Claim implements Claims.
func (c *RedisClaims) Claim(ctx context.Context, groups []ClaimGroup, limit int) error {
	if len(groups) == 0 {
		return nil
	}
	if err := claimScript.Load(ctx, c.rdb).Err(); err != nil {
		return err
	}
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(groups))
	for i, g := range groups {
		args := make([]any, 0, len(g.Members)+2)
		args = append(args, limit, claimsLive.Milliseconds())
		for _, m := range g.Members {
			args = append(args, m)
		}
		key := c.prefix + g.Action + ":" + strconv.FormatInt(g.Minute, 10) + ":" + g.IP
		cmds[i] = claimScript.EvalSha(ctx, pipe, []string{key}, args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for i, cmd := range cmds {
		got, err := cmd.Int64Slice()
		if err != nil {
			return err
		}
		if len(got) != len(groups[i].Members) {
			return errors.New("audit: unexpected answer from Redis")
		}
		groups[i].Granted = make([]bool, len(got))
		for j, v := range got {
			groups[i].Granted[j] = v == 1
		}
	}
	return nil
}
