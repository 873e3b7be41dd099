package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/server"
)

// scaleBootstrap is the bootstrap token of the benchmark's nodes: the first node to start on a
// loaded database makes it the bootstrap token there.
const scaleBootstrap = "scale-bench-bootstrap-token-0123456789abcdef"

// serveCmd runs lanyard nodes, each over its own PostgreSQL URL (name=URL … as arguments), in
// this process through the same wiring as lanyard serve, prints their base URLs as one JSON
// object by name, and serves until interrupted; then it stops them gracefully. With -redis,
// every node is given that Redis (server.redis), as lanyard serve --redis would.
func serveCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	redisURL := fs.String("redis", "", "the nodes' Redis (redis://…), none by default")
	fs.Parse(args)
	type node struct{ name, dsn string }
	var nodes []node
	for _, a := range fs.Args() {
		name, dsn, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("serve: %q is not name=postgres://…", a)
		}
		nodes = append(nodes, node{name, dsn})
	}
	bases := map[string]string{}
	errs := make(chan error, len(nodes))
	var wg sync.WaitGroup
	for _, n := range nodes {
		cfg := config.Default()
		dir, err := os.MkdirTemp("", "lanyard-scale")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.Server.Data = dir
		cfg.Server.Store = n.dsn
		cfg.Server.NodeID = "scale-" + n.name
		cfg.Server.Redis = *redisURL
		cfg.Passwords.MemoryKiB, cfg.Passwords.Iterations = 64, 1
		cfg.Quotas = config.Quotas{} // the propagation step makes and deletes keys in a loop
		if err := cfg.Validate(); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		bases[n.name] = "http://" + ln.Addr().String()
		started := make(chan struct{})
		wg.Go(func() {
			err := server.Run(ctx, server.Options{
				Config: cfg,
				// Formatted as in production; only warnings and errors are kept (a dropped
				// fan-out says so), and the fan-out's Redis notifications going on.
				Logger:   slog.New(slog.NewTextHandler(warnings{prefix: n.name + ": "}, nil)),
				Listener: ln,
				Getenv: func(k string) string {
					if k == server.BootstrapEnv {
						return scaleBootstrap
					}
					return ""
				},
				Started: func(string) { close(started) },
			})
			if err == nil && ctx.Err() == nil {
				err = errors.New("stopped")
			}
			if err != nil {
				errs <- fmt.Errorf("node %s: %w", n.name, err)
			}
		})
		select {
		case <-started:
		case err := <-errs:
			return err
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(bases); err != nil {
		return err
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// warnings writes the log lines of level WARN and ERROR, and the fan-out's line saying that
// its Redis notifications are on (which run waits for), to stderr, each with a prefix in the
// same write (the nodes log at once when Redis goes away), and drops the others.
type warnings struct{ prefix string }

func (w warnings) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("level=WARN")) || bytes.Contains(p, []byte("level=ERROR")) ||
		bytes.Contains(p, []byte(busOn)) {
		os.Stderr.Write(append([]byte(w.prefix), p...))
	}
	return len(p), nil
}
