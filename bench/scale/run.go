package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/bench/internal/loadgen"
	"github.com/lanyardhq/lanyard/internal/config"
)

// staleness is how long the nodes' caches trust an entry: the default cache.staleness, which
// the nodes run with.
var staleness = config.Default().Cache.Staleness

// database is one loaded database of the run.
type database struct {
	name string // "small" or "large": the node's name too
	dsn  string
	d    dataset
	size int64
	// used are the keys presented so far; lastUsed is when the last load on it ended.
	used     map[int]bool
	lastUsed time.Time
}

// verifyCase is one line of the latency table.
type verifyCase struct {
	db    string
	cold  bool
	conns int
}

func runCmd(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("run", flag.ExitOnError)
	small := flags.String("small", "", "the database of few keys, the baseline (postgres://…), loaded by scale load")
	large := flags.String("large", "", "the database of many keys, loaded by scale load with the same -seed")
	seed := flags.String("seed", defaultSeed, "the seed both databases were loaded with")
	rounds := flags.Int("rounds", 7, "how many times every latency case runs (interleaved); the median counts")
	cold := flags.Int("cold", 1000, "requests of each cold load, each a key not presented within the staleness bound")
	warmKeys := flags.Int("warm-keys", 10, "keys of the warm loads, presented in turn")
	duration := flags.Duration("duration", 3*time.Second, "how long each warm load runs")
	conns := flags.Int("conns", 32, "connections at saturation")
	pin := flags.Bool("pin", true, "pin the nodes and the load generator to a core each (taskset)")
	revocations := flags.Int("revocations", 100, "revocations measured in each state of the fan-out between two nodes of the large database (0: none)")
	redisServer := flags.String("redis-server", "", "a redis-server binary: the fan-out is measured with the nodes' own Redis up, stopped and back too (none by default)")
	pageCache := flags.String("page-cache", "keep", "before every round, what a verify reads is left in the OS page cache as it is (keep), read into it (warm: pg_prewarm), or dropped from it (drop: PostgreSQL on this machine, its files readable)")
	flags.Parse(args)
	if *small == "" || *large == "" {
		return fmt.Errorf("run needs -small and -large")
	}
	if !slices.Contains([]string{"keep", "warm", "drop"}, *pageCache) {
		return fmt.Errorf("-page-cache is keep, warm or drop")
	}
	var dbs []*database
	for _, db := range []*database{{name: "small", dsn: *small}, {name: "large", dsn: *large}} {
		if err := db.open(ctx, *seed); err != nil {
			return err
		}
		dbs = append(dbs, db)
	}
	if *cold > dbs[0].d.Keys {
		return fmt.Errorf("-cold %d is more than the small database's %d keys", *cold, dbs[0].d.Keys)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))

	bases, stop, _, err := startNodes(*pin, "", "small="+*small, "large="+*large)
	if err != nil {
		return err
	}
	results := map[verifyCase][]loadgen.Result{}
	var cases []verifyCase
	for round := range *rounds {
		for _, db := range dbs {
			if err := db.pageCache(ctx, *pageCache); err != nil {
				stop()
				return err
			}
		}
		order := dbs
		if round%2 == 1 {
			order = []*database{dbs[1], dbs[0]}
		}
		for _, n := range []int{1, *conns} {
			for _, isCold := range []bool{false, true} {
				for _, db := range order {
					c := verifyCase{db: db.name, cold: isCold, conns: n}
					spec := genSpec{URL: bases[db.name], Dataset: db.d, Cold: isCold, Conns: n, Duration: *duration}
					if isCold {
						time.Sleep(time.Until(db.lastUsed.Add(staleness + 200*time.Millisecond)))
						spec.Keys = db.pick(rng, *cold)
					} else {
						spec.Keys = db.spread(*warmKeys)
					}
					r, err := gen(*pin, spec)
					db.lastUsed = time.Now()
					if err != nil {
						stop()
						return fmt.Errorf("%+v: %w", c, err)
					}
					fmt.Fprintf(os.Stderr, "round %d, %s, %s, %d conns: p50 %s, p99 %s, %.0f req/s\n",
						round+1, label(db), mode(isCold), n, ms(float64(r.P50)), ms(float64(r.P99)), r.RPS)
					if results[c] == nil {
						cases = append(cases, c)
					}
					results[c] = append(results[c], r)
				}
			}
		}
	}
	if err := stop(); err != nil {
		return err
	}
	var prop []propagationPhase
	if *revocations > 0 {
		if prop, err = propagation(ctx, *pin, dbs[1], *revocations, rng, *redisServer); err != nil {
			return err
		}
	}
	report(os.Stdout, dbs, cases, results, prop, *rounds, *cold, *warmKeys, *pin, *pageCache)
	return nil
}

// verifyReads are the relations a verify of a loaded key reads on a cache miss: the tables
// and the indexes the plans of the store's Resolve and GrantsOf use (EXPLAIN, docs/scaling.md),
// and the resources, which authorization reads through the cache.
var verifyReads = []string{"secrets", "secrets_pkey", "keys", "keys_pkey", "grants", "grants_principal", "resources", "resources_pkey"}

// pageCache puts verifyReads in the state -page-cache names: read into the operating system's
// page cache with pg_prewarm (warm; the extension is made when missing), or dropped from it
// (drop: posix_fadvise on the relations' files, read from PostgreSQL's data directory). Neither
// touches shared_buffers, which stays as the server keeps it.
func (db *database) pageCache(ctx context.Context, mode string) error {
	if mode == "keep" {
		return nil
	}
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if mode == "warm" {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_prewarm"); err != nil {
			return fmt.Errorf("-page-cache warm: %w", err)
		}
		_, err = conn.Exec(ctx, "SELECT pg_prewarm(r, 'read') FROM unnest($1::regclass[]) AS r", verifyReads)
		return err
	}
	var dir string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
		return fmt.Errorf("-page-cache drop: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT pg_relation_filepath(r) FROM unnest($1::regclass[]) AS r", verifyReads)
	if err != nil {
		return err
	}
	paths, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, p := range paths {
		// A relation is stored in segments of 1 GB: p, p.1, p.2 …
		for seg := 0; ; seg++ {
			file := filepath.Join(dir, p)
			if seg > 0 {
				file += "." + strconv.Itoa(seg)
			}
			err := dropFile(file)
			if seg > 0 && errors.Is(err, fs.ErrNotExist) {
				break
			}
			if err != nil {
				return fmt.Errorf("-page-cache drop: %w", err)
			}
		}
	}
	return nil
}

// open checks that the database holds a load of seed and learns its size.
func (db *database) open(ctx context.Context, seed string) error {
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return fmt.Errorf("%s database: %w", db.name, err)
	}
	defer conn.Close(ctx)
	counts, err := rowCounts(ctx, conn)
	if err != nil {
		return fmt.Errorf("%s database: %w (was it loaded with scale load?)", db.name, err)
	}
	db.d = dataset{Keys: int(counts["keys"]), Orgs: int(counts["resources"]), Seed: seed}
	ok, err := holds(ctx, conn, db.d, counts)
	if err != nil {
		return err
	}
	if !ok || db.d.Keys == 0 {
		return fmt.Errorf("the %s database does not hold the keys scale load writes from seed %q", db.name, seed)
	}
	db.used = map[int]bool{}
	return conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&db.size)
}

// spread returns n keys spread evenly over the database's whole range.
func (db *database) spread(n int) []int {
	keys := make([]int, n)
	for k := range keys {
		keys[k] = int((int64(k)*2 + 1) * int64(db.d.Keys) / int64(2*n))
		db.used[keys[k]] = true
	}
	return keys
}

// pick returns n distinct keys drawn at random from the whole range: keys never presented in
// this run while there are enough of those, else any (the caller waits out the staleness
// bound, so that none is in a node's cache any more).
func (db *database) pick(rng *rand.Rand, n int) []int {
	fresh := db.d.Keys-len(db.used) >= 2*n
	keys := make([]int, 0, n)
	seen := map[int]bool{}
	for len(keys) < n {
		i := rng.IntN(db.d.Keys)
		if seen[i] || fresh && db.used[i] {
			continue
		}
		seen[i] = true
		db.used[i] = true
		keys = append(keys, i)
	}
	return keys
}

// startNodes runs lanyard nodes (name=postgres://… each), with the Redis at redisURL unless it
// is empty, in a process of their own, pinned to core 0 with one thread for Go code, and
// returns their base URLs by name, how to stop them (once; later calls return what the first
// did) and their log.
func startNodes(pin bool, redisURL string, nodes ...string) (map[string]string, func() error, *nodeLog, error) {
	cmd := loadgen.Command(pin, 0, append([]string{"serve", "-redis", redisURL}, nodes...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	logs := newNodeLog()
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	stop := sync.OnceValue(func() error {
		cmd.Process.Signal(os.Interrupt) // the nodes leave the store's node list gracefully
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("the nodes did not stop within 30 s")
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	var bases map[string]string
	if err == nil {
		err = json.Unmarshal([]byte(line), &bases)
	}
	if err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("the nodes did not start: %w", err)
	}
	go io.Copy(io.Discard, out)
	return bases, stop, logs, nil
}

// gen runs one load in a process of its own, pinned to core 1 with one thread for Go code.
func gen(pin bool, s genSpec) (loadgen.Result, error) {
	var r loadgen.Result
	spec, err := json.Marshal(s)
	if err != nil {
		return r, err
	}
	cmd := loadgen.Command(pin, 1, "gen")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdin = bytes.NewReader(spec)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, err
	}
	if r.Errors > 0 {
		return r, fmt.Errorf("%d requests failed (first: %s)", r.Errors, r.FirstError)
	}
	return r, nil
}

// median is the median of the rounds' values of f.
func median(rs []loadgen.Result, f func(loadgen.Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	v = slices.Sorted(slices.Values(v))
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// ratio is large ÷ small of f, round by round (the two loads of a round ran one after the
// other, on the same machine in the same state): the median, and the smallest and largest.
func ratio(large, small []loadgen.Result, f func(loadgen.Result) float64) string {
	v := make([]float64, min(len(large), len(small)))
	for i := range v {
		v[i] = f(large[i]) / f(small[i])
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", medianOf(v), slices.Min(v), slices.Max(v))
}

func ms(v float64) string { return fmt.Sprintf("%.2f ms", v/1e6) }

// report prints the run's tables in Markdown.
func report(w io.Writer, dbs []*database, cases []verifyCase, results map[verifyCase][]loadgen.Result, prop []propagationPhase, rounds, cold, warmKeys int, pinned bool, pageCache string) {
	fmt.Fprintf(w, "lanyard bench/scale — %s; nodes and load generator %s\n\n",
		machine(dbs[0].dsn), map[bool]string{true: "pinned to a core each", false: "unpinned"}[pinned])
	for _, db := range dbs {
		fmt.Fprintf(w, "- %s: %d keys of %d organizations, database %s\n", db.name, db.d.Keys, db.d.Orgs, mib(db.size))
	}
	fmt.Fprintf(w, "\nPOST /v1/verify (a business key, read on its organization): medians of %d rounds. warm: %d keys in turn; cold: %d keys each presented once, none in the node's cache; %s\n\n",
		rounds, warmKeys, cold, map[string]string{
			"keep": "the OS page cache as it was",
			"warm": "what a verify reads prewarmed into the OS page cache before every round",
			"drop": "what a verify reads dropped from the OS page cache before every round",
		}[pageCache])
	fmt.Fprintf(w, "| case | conns | %s p50 | p99 | req/s | %s p50 | p99 | req/s | p50 ratio | p99 ratio | req/s ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
		label(dbs[0]), label(dbs[1]))
	for _, c := range cases {
		if c.db != dbs[0].name {
			continue
		}
		big := c
		big.db = dbs[1].name
		s, l := results[c], results[big]
		p50 := func(r loadgen.Result) float64 { return float64(r.P50) }
		p99 := func(r loadgen.Result) float64 { return float64(r.P99) }
		rps := func(r loadgen.Result) float64 { return r.RPS }
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.0f | %s | %s | %.0f | %s | %s | %s |\n", mode(c.cold), c.conns,
			ms(median(s, p50)), ms(median(s, p99)), median(s, rps), ms(median(l, p50)), ms(median(l, p99)), median(l, rps),
			ratio(l, s, p50), ratio(l, s, p99), ratio(l, s, rps))
	}
	fmt.Fprintf(w, "\nratios: %s ÷ %s in each round, the median of the rounds (the smallest–the largest); latency target ≤ 1.2, for req/s ≥ 0.83 is the same bound\n", label(dbs[1]), label(dbs[0]))
	if len(prop) > 0 {
		fmt.Fprintln(w)
		reportPropagation(w, dbs[1], prop)
	}
}

// machine names the day, the machine, and the PostgreSQL server of dsn.
func machine(dsn string) string {
	return fmt.Sprintf("%s, %s, %d cores (%s); %s", time.Now().UTC().Format("2006-01-02"),
		runtime.GOOS, runtime.NumCPU(), cpuModel(), postgresInfo(dsn))
}

func mode(cold bool) string { return map[bool]string{true: "cold", false: "warm"}[cold] }

// label names a database by its number of keys: "1 k keys", "10 M keys".
func label(db *database) string {
	n := db.d.Keys
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%d M keys", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%d k keys", n/1000)
	}
	return fmt.Sprintf("%d keys", n)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// postgresInfo names the server's version and its shared_buffers.
func postgresInfo(dsn string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "PostgreSQL ?"
	}
	defer conn.Close(ctx)
	var version, buffers string
	conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('shared_buffers')").Scan(&version, &buffers)
	return fmt.Sprintf("PostgreSQL %s (shared_buffers %s) on the same machine", version, buffers)
}
