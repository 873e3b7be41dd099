package ratelimit

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipeliner sends exact mode's decisions to Redis in pipelines: each of a few senders takes
// every decision waiting when it is free and sends them together, so a busy node pays one write
// and one read on one connection for many decisions instead of a round trip each, while a lone
// decision goes out at once — nothing waits to fill a batch. Each decision is still its own
// atomic script run; only the trip is shared. No call is ever retried after it may have run: a
// script Redis does not know (after a restart or SCRIPT FLUSH) never ran, and only those are
// sent again.
type pipeliner struct {
	rdb     redis.Cmdable
	script  *redis.Script
	timeout time.Duration
	in      chan *scriptCall
	wg      sync.WaitGroup
}

// scriptCall is one decision on its way to Redis and back.
type scriptCall struct {
	keys []string
	args []any
	res  []int64
	err  error
	done chan struct{} // one value when res and err are set
}

const (
	// pipelineSenders is how many pipelines may be in flight at once. One keeps batches
	// largest; a second hides one batch's round trip behind the next.
	pipelineSenders = 2
	// maxPipeline bounds the decisions of one pipeline, so that one slow batch holds few.
	maxPipeline = 128
)

var callPool = sync.Pool{New: func() any { return &scriptCall{done: make(chan struct{}, 1)} }}

func newPipeliner(rdb redis.Cmdable, script *redis.Script, timeout time.Duration) *pipeliner {
	return &pipeliner{rdb: rdb, script: script, timeout: timeout, in: make(chan *scriptCall)}
}

// start runs the senders until ctx ends.
func (p *pipeliner) start(ctx context.Context) {
	for range pipelineSenders {
		p.wg.Go(func() { p.send(ctx) })
	}
}

// wait returns once the senders have stopped.
func (p *pipeliner) wait() { p.wg.Wait() }

// run runs the script with keys and args in the next pipeline and returns its answer, or ctx's
// error when ctx ends first (the script may have run or not).
func (p *pipeliner) run(ctx context.Context, keys []string, args []any) ([]int64, error) {
	c := callPool.Get().(*scriptCall)
	c.keys, c.args = keys, args
	select {
	case p.in <- c:
	case <-ctx.Done():
		c.keys, c.args = nil, nil
		callPool.Put(c)
		return nil, ctx.Err()
	}
	select {
	case <-c.done:
		res, err := c.res, c.err
		*c = scriptCall{done: c.done}
		callPool.Put(c)
		return res, err
	case <-ctx.Done():
		// The sender still holds c and will answer into its buffered channel; c is left to
		// the garbage collector, never reused.
		return nil, ctx.Err()
	}
}

// send takes the decisions waiting, sends them, answers each, and again, until ctx ends.
func (p *pipeliner) send(ctx context.Context) {
	batch := make([]*scriptCall, 0, maxPipeline)
	cmds := make([]*redis.Cmd, 0, maxPipeline)
	for {
		select {
		case c := <-p.in:
			batch = append(batch[:0], c)
		case <-ctx.Done():
			return
		}
	fill:
		for len(batch) < maxPipeline {
			select {
			case c := <-p.in:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		cmds = p.exec(batch, cmds[:0])
		for _, c := range batch {
			c.done <- struct{}{}
		}
		clear(batch)
		clear(cmds)
	}
}

// exec sends batch and sets each call's answer.
func (p *pipeliner) exec(batch []*scriptCall, cmds []*redis.Cmd) []*redis.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	if len(batch) == 1 { // Script.Run: EVALSHA, and EVAL when Redis does not know the script
		c := batch[0]
		c.res, c.err = p.script.Run(ctx, p.rdb, c.keys, c.args...).Int64Slice()
		return cmds
	}
	pipe := p.rdb.Pipeline()
	for _, c := range batch {
		cmds = append(cmds, p.script.EvalSha(ctx, pipe, c.keys, c.args...))
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, c := range batch {
		err := cmds[i].Err()
		if err != nil && isNoScript(err) {
			// It never ran: run it again, making Redis learn the script.
			c.res, c.err = p.script.Run(ctx, p.rdb, c.keys, c.args...).Int64Slice()
			continue
		}
		c.res, c.err = cmds[i].Int64Slice()
	}
	return cmds
}

func isNoScript(err error) bool { return strings.HasPrefix(err.Error(), "NOSCRIPT ") }
