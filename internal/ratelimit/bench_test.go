package ratelimit

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// The decision's cost, each as a ratio ("x-baseline") to a baseline measured in the same run:
// a read-locked map lookup of a cached credential, which is what verifying a known key costs
// before any limit (DESIGN "The hot path"). Serial benchmarks compare with the serial
// baseline, parallel ones with the parallel baseline.
//
//	go test -run '^$' -bench Decide -benchmem ./internal/ratelimit/
//
// (with LANYARD_TEST_REDIS set for the Redis ones).

const benchKeys = 1024

// lookupTable is the baseline: a cache of credentials behind a read lock.
type lookupTable struct {
	mu sync.RWMutex
	m  map[string]*Credits
}

func newLookupTable() *lookupTable {
	l := &lookupTable{m: make(map[string]*Credits, benchKeys)}
	for i := range benchKeys {
		k := fmt.Sprint("k", i)
		l.m[k] = &Credits{Key: k}
	}
	return l
}

func (l *lookupTable) get(k string) *Credits {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.m[k]
}

var benchNames = func() []string {
	var s []string
	for i := range benchKeys {
		s = append(s, fmt.Sprint("k", i))
	}
	return s
}()

// baseline holds the baselines' ns/op, measured by the first sub-benchmarks of the run.
var baseline struct {
	serial, parallel float64
}

func nsPerOp(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }

func reportRatio(b *testing.B, base float64) {
	if base > 0 { // not when -bench left the baseline out
		b.ReportMetric(nsPerOp(b)/base, "x-baseline")
	}
}

// benchRequests are requests on distinct buckets that every limiter allows: a plan of two
// windows, and half of them with credits.
func benchRequests() []Request {
	reqs := make([]Request, benchKeys)
	set := time.Now().Add(-time.Hour)
	for i, name := range benchNames {
		reqs[i] = Request{Bucket: "key:" + name, Windows: []Window{{1 << 40, time.Minute}, {1 << 40, 24 * time.Hour}}, Cost: 1}
		if i%2 == 0 {
			reqs[i].Credits = &Credits{Key: name, SetAt: set, Remaining: 1 << 50}
		}
	}
	return reqs
}

func BenchmarkDecide(b *testing.B) {
	limiters := []struct {
		name string
		open func(b *testing.B) Limiter
	}{
		{"memory", func(b *testing.B) Limiter { return NewMemory(MemoryConfig{}) }},
		{"redis-exact", func(b *testing.B) Limiter {
			url, prefix := testRedis(b)
			return newTestRedis(b, url, RedisConfig{Prefix: prefix})
		}},
		{"redis-exact-unpipelined", func(b *testing.B) Limiter {
			url, prefix := testRedis(b)
			r := newTestRedis(b, url, RedisConfig{Prefix: prefix})
			r.pipe = nil // every decision its own round trip
			return r
		}},
		{"redis-fast", func(b *testing.B) Limiter {
			url, prefix := testRedis(b)
			return newTestRedis(b, url, RedisConfig{Prefix: prefix, Mode: ModeFast})
		}},
	}
	tbl := newLookupTable()
	b.Run("baseline", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if tbl.get(benchNames[i%benchKeys]) == nil {
				b.Fatal("missing")
			}
			i++
		}
		baseline.serial = nsPerOp(b)
	})
	b.Run("baseline-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if tbl.get(benchNames[i%benchKeys]) == nil {
					b.Error("missing")
					return
				}
				i++
			}
		})
		baseline.parallel = nsPerOp(b)
	})
	for _, lim := range limiters {
		b.Run(lim.name, func(b *testing.B) {
			l := lim.open(b)
			reqs := benchRequests()
			ctx := b.Context()
			i := 0
			for b.Loop() {
				if d, err := l.Decide(ctx, reqs[i%benchKeys]); err != nil || !d.Allowed {
					b.Fatalf("%+v, %v", d, err)
				}
				i++
			}
			reportRatio(b, baseline.serial)
		})
		// parallelism 1: one decision per CPU at a time; 32: as a busy node decides, many
		// requests waiting on Redis at once.
		for _, par := range []int{1, 32} {
			name := lim.name + "-parallel"
			if par > 1 {
				name += fmt.Sprint("-", par)
			}
			b.Run(name, func(b *testing.B) {
				l := lim.open(b)
				reqs := benchRequests()
				ctx := b.Context()
				b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if d, err := l.Decide(ctx, reqs[i%benchKeys]); err != nil || !d.Allowed {
							b.Errorf("%+v, %v", d, err)
							return
						}
						i++
					}
				})
				reportRatio(b, baseline.parallel)
			})
		}
	}
}
