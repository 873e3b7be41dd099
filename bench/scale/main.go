// Command scale measures lanyard over a large PostgreSQL database (DESIGN.md, "Performance
// targets": verify latency at 10 M keys against 1 k keys, and revocation seen by every node
// with the notification bus up and dropped). It has two steps, and a third run of its own:
//
//	go run ./bench/scale load -store postgres://…/lanyard_scale_1k -keys 1000
//	go run ./bench/scale load -store postgres://…/lanyard_scale_10m -keys 10000000
//	go run ./bench/scale run -small postgres://…/lanyard_scale_1k -large postgres://…/lanyard_scale_10m
//	go run ./bench/scale propagation -store postgres://…/lanyard_scale_1k -redis-server "$(command -v redis-server)"
//
// load writes keys straight into PostgreSQL with COPY, not through the API, with the schema
// lanyard's migrations make; each key's token is derived from a seed, so run can present any
// of them later while no token is kept anywhere. run starts lanyard nodes over both databases
// in one process and measures, in the same run, POST /v1/verify with warm and cold caches on
// each database, and the revocation fan-out between two nodes of the large one; propagation
// measures that fan-out alone, over any loaded database, without Redis and, with
// -redis-server, with a Redis of its own up, stopped and back. A cold verify
// over millions of keys reads pages PostgreSQL's shared_buffers seldom hold, so -page-cache
// warm or drop puts them in the OS page cache or out of it before every round. docs/scaling.md
// ("Measured at scale") has the figures and how they were taken.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"time"
)

// defaultSeed is the seed the tokens are derived from unless -seed says otherwise.
const defaultSeed = "lanyard-scale"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "load":
		err = loadCmd(ctx, os.Args[2:])
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "propagation":
		err = propagationCmd(ctx, os.Args[2:])
	case "serve": // internal: run's nodes
		err = serveCmd(ctx, os.Args[2:])
	case "gen": // internal: one load of run's
		err = genCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: scale load -store URL -keys N [-orgs N] [-seed S]\n       scale run -small URL -large URL [flags]\n       scale propagation -store URL [-redis-server PATH] [flags]")
	os.Exit(2)
}

func loadCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	dsn := fs.String("store", "", "the PostgreSQL database to load (postgres://…); it must hold no keys, resources or grants")
	keys := fs.Int("keys", 0, "how many keys to write")
	orgs := fs.Int("orgs", 100, "how many organizations the keys belong to (key i to organization i mod orgs)")
	seed := fs.String("seed", defaultSeed, "the seed the keys' tokens are derived from")
	batch := fs.Int("batch", 100_000, "keys per COPY")
	fs.Parse(args)
	if *dsn == "" || *keys <= 0 {
		return fmt.Errorf("load needs -store and -keys")
	}
	d := dataset{Keys: *keys, Orgs: *orgs, Seed: *seed}
	rep, err := load(ctx, *dsn, d, *batch, os.Stderr)
	if err != nil {
		return err
	}
	if rep.Already {
		fmt.Printf("the database holds these %d keys already: nothing to do\n", d.Keys)
	} else {
		fmt.Printf("loaded %d keys of %d organizations (seed %q): copy %s, indexes %s, vacuum and analyze %s\n",
			d.Keys, d.Orgs, d.Seed, rep.Copy.Round(time.Millisecond), rep.Index.Round(time.Millisecond), rep.Vacuum.Round(time.Millisecond))
	}
	for _, t := range loadedTables {
		fmt.Printf("%-10s %s\n", t, mib(rep.Sizes[t]))
	}
	fmt.Printf("%-10s %s\n", "database", mib(rep.Database))
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func propagationCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("propagation", flag.ExitOnError)
	dsn := fs.String("store", "", "the database the two nodes share (postgres://…), loaded by scale load")
	seed := fs.String("seed", defaultSeed, "the seed the database was loaded with")
	revocations := fs.Int("revocations", 100, "revocations measured in each state of the fan-out (a fifth of them once the log is unlocked)")
	redisServer := fs.String("redis-server", "", "a redis-server binary: the fan-out is measured with the nodes' own Redis up, stopped and back too (none by default)")
	pin := fs.Bool("pin", true, "pin the nodes to a core (taskset)")
	fs.Parse(args)
	if *dsn == "" || *revocations <= 0 {
		return fmt.Errorf("propagation needs -store and -revocations of at least 1")
	}
	db := &database{name: "store", dsn: *dsn}
	if err := db.open(ctx, *seed); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	prop, err := propagation(ctx, *pin, db, *revocations, rng, *redisServer)
	if err != nil {
		return err
	}
	fmt.Printf("lanyard bench/scale propagation — %s; nodes %s\n\n", machine(db.dsn), map[bool]string{true: "pinned to a core", false: "unpinned"}[*pin])
	reportPropagation(os.Stdout, db, prop)
	return nil
}
