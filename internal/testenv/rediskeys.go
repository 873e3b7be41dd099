package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisKeys returns a client of the tests' Redis (RedisEnv; skipped or failed like every
// service) and a key prefix of this test's own. The keys under the prefix are deleted and the
// client closed when the test ends: the Redis may be shared with other tests and other people.
func RedisKeys(t testing.TB) (rdb *redis.Client, url, prefix string) {
	t.Helper()
	url = Redis(t)
	var b [8]byte
	rand.Read(b[:])
	prefix = "lanyard-test:" + hex.EncodeToString(b[:]) + ":"
	rdb = RedisClient(t, url)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("listing the test's keys: %v", err)
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("deleting the test's keys: %v", err)
			}
		}
	})
	return rdb, url, prefix
}

// RedisClient is a plain client of url, closed when the test ends (after the cleanups
// registered later, which may still use it).
func RedisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s=%q: %v", RedisEnv, url, err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
