package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lanyardhq/lanyard/internal/fanout"
)

// ownRedis is a redis-server of the benchmark's own on a free loopback port, saving nothing:
// the propagation step stops it to drop the nodes' notification bus and starts it again on
// the same port to bring it back. Nothing else uses it.
type ownRedis struct {
	path string
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has exited
	// started is when the server was last started, answered when it first answered then.
	started, answered time.Time
	rdb               *redis.Client // a client of this start's
}

// startRedis starts the redis-server at path and returns once it answers.
func startRedis(ctx context.Context, path string) (*ownRedis, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &ownRedis{path: path, port: port}
	if err := r.start(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *ownRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// url is what the nodes are given as server.redis.
func (r *ownRedis) url() string { return "redis://" + r.addr() + "/0" }

// start runs the server (again) and waits, up to 10 s, until it answers PING.
func (r *ownRedis) start(ctx context.Context) error {
	cmd := exec.Command(r.path, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--loglevel", "warning")
	cmd.Stderr = os.Stderr
	r.started = time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("-redis-server: %w", err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(r.done) }()
	for end := time.Now().Add(10 * time.Second); !r.answers(); {
		select {
		case <-r.done:
			return fmt.Errorf("-redis-server %s exited at start (%s)", r.path, cmd.ProcessState)
		case <-ctx.Done():
			r.stop()
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(end) {
			r.stop()
			return fmt.Errorf("-redis-server %s does not answer on %s", r.path, r.addr())
		}
	}
	r.answered = time.Now()
	if r.rdb != nil {
		r.rdb.Close()
	}
	r.rdb = redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	return nil
}

// answers reports whether the server answers PING, on a connection of its own: a go-redis
// client whose dials failed a few times (as they do until the server listens) dials again only
// once a second, which would say the server answers up to a second late.
func (r *ownRedis) answers() bool {
	c, err := net.DialTimeout("tcp", r.addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	pong := make([]byte, len("+PONG\r\n"))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return false
	}
	_, err = io.ReadFull(c, pong)
	return err == nil && string(pong) == "+PONG\r\n"
}

// stop ends the server (SIGTERM: it closes every connection, the nodes' subscriptions among
// them, as a Redis that goes away does) and waits until it has exited.
func (r *ownRedis) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// close stops the server for good.
func (r *ownRedis) close() {
	r.stop()
	if r.rdb != nil {
		r.rdb.Close()
	}
}

// subscribers is how many connections are subscribed to the fan-out's channel.
func (r *ownRedis) subscribers(ctx context.Context) (int64, error) {
	m, err := r.rdb.PubSubNumSub(ctx, fanout.DefaultChannel).Result()
	return m[fanout.DefaultChannel], err
}

// publishes is how many PUBLISH commands the server has run since it started.
func (r *ownRedis) publishes(ctx context.Context) (int, error) {
	info, err := r.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(info) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_publish:calls="); ok {
			calls, _, _ := strings.Cut(rest, ",")
			return strconv.Atoi(calls)
		}
	}
	return 0, nil // none yet
}

// version is the server's version.
func (r *ownRedis) version(ctx context.Context) string {
	info, _ := r.rdb.Info(ctx, "server").Result()
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return "?"
}

// subscribed waits, up to 5 s, until every node of names has logged since then that its Redis
// notifications are on, and the server counts as many subscribers to the channel; it returns
// how long after since the last of them did.
func (r *ownRedis) subscribed(ctx context.Context, logs *nodeLog, since time.Time, names ...string) (time.Duration, error) {
	took, err := logs.await(busOn, since, 5*time.Second, names...)
	if err != nil {
		return 0, err
	}
	n, err := r.subscribers(ctx)
	if err == nil && n != int64(len(names)) {
		err = fmt.Errorf("the nodes logged that they subscribed, and Redis counts %d subscribers to %s, not %d", n, fanout.DefaultChannel, len(names))
	}
	return took, err
}

// The fan-out's log lines that say its Redis notifications went on or stopped
// (internal/fanout, RedisBus.Listen).
const (
	busOn      = "Redis notifications on"
	busStopped = "the Redis notifications stopped"
)

// nodeLog passes the nodes' log lines (each "name: …", serve's) on to stderr, and notes when
// each node last said that its Redis notifications went on or stopped. The lines the Redis
// client writes itself ("redis: …", not through lanyard's log: one per failed dial, a few a
// second per node while Redis is down) are counted, and only the first is passed on.
type nodeLog struct {
	mu      sync.Mutex
	partial []byte
	last    map[string]map[string]time.Time // by event (busOn, busStopped), then by node
	client  int                             // the Redis client's own lines
}

// clientLines is how many lines the Redis client has written so far.
func (l *nodeLog) clientLines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.client
}

func newNodeLog() *nodeLog {
	return &nodeLog{last: map[string]map[string]time.Time{busOn: {}, busStopped: {}}}
}

func (l *nodeLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	rest := l.partial
	for {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			break
		}
		rest = after
		if bytes.HasPrefix(line, []byte("redis: ")) {
			if l.client++; l.client > 1 {
				continue
			}
		}
		os.Stderr.Write(slices.Concat(line, []byte{'\n'}))
		if name, msg, ok := bytes.Cut(line, []byte(": ")); ok {
			for ev, last := range l.last {
				if bytes.Contains(msg, []byte(ev)) {
					last[string(name)] = now
				}
			}
		}
	}
	l.partial = append(l.partial[:0], rest...) // the start of a line not written whole yet
	return len(p), nil
}

// await waits, up to timeout, until every node of names has logged ev since then, and returns
// how long after since the last of them did.
func (l *nodeLog) await(ev string, since time.Time, timeout time.Duration, names ...string) (time.Duration, error) {
	for end := time.Now().Add(timeout); ; time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		var latest time.Time
		missing := []string{}
		for _, n := range names {
			t := l.last[ev][n]
			if t.Before(since) {
				missing = append(missing, n)
			}
			if t.After(latest) {
				latest = t
			}
		}
		l.mu.Unlock()
		if len(missing) == 0 {
			return latest.Sub(since), nil
		}
		if time.Now().After(end) {
			return 0, fmt.Errorf("nodes %s did not log %q within %s", strings.Join(missing, ", "), ev, timeout)
		}
	}
}
