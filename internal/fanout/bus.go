package fanout

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bus tells the other nodes at once that a node appended to the revocation log, so that they
// read it then rather than on their next poll. It is a wake-up, never the carrier: an entry is
// in the log whether or not its notification arrives, and a lost notification only leaves the
// entry to the next poll.
type Bus interface {
	// Notify tells the other nodes that this node appended entries.
	Notify(ctx context.Context) error
	// Listen calls wake for each notification until ctx ends, and up(true) each time it is
	// subscribed (at first, and after every reconnection), up(false) each time it lost the
	// subscription. It keeps trying to subscribe again by itself.
	Listen(ctx context.Context, wake func(), up func(bool))
}

// DefaultChannel is the Redis channel of RedisBus.
const DefaultChannel = "lanyard:revocations"

// RedisBus is a Bus over Redis pub/sub.
type RedisBus struct {
	rdb     *redis.Client
	channel string
	log     *slog.Logger
}

// NewRedisBus returns a bus on rdb's channel (DefaultChannel when empty). Nodes of several
// stores may share a Redis: a notification from another store's node costs one extra read.
func NewRedisBus(rdb *redis.Client, channel string, log *slog.Logger) *RedisBus {
	if channel == "" {
		channel = DefaultChannel
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RedisBus{rdb: rdb, channel: channel, log: log}
}

// Notify implements Bus.
func (b *RedisBus) Notify(ctx context.Context) error {
	return b.rdb.Publish(ctx, b.channel, "").Err()
}

// busCheck is how long Listen waits for a message before it pings, to find out that a
// connection died silently; busRetry is how long it waits after a failure before it tries
// again.
const (
	busCheck = time.Second
	busRetry = 200 * time.Millisecond
)

// Listen implements Bus.
func (b *RedisBus) Listen(ctx context.Context, wake func(), up func(bool)) {
	subscribed := false
	set := func(v bool) {
		if v != subscribed {
			subscribed = v
			up(v)
		}
	}
	for ctx.Err() == nil {
		err := b.listenOnce(ctx, wake, func() {
			b.log.Info("revocation fan-out: Redis notifications on", "channel", b.channel)
			set(true)
		})
		if ctx.Err() != nil {
			return
		}
		if subscribed {
			b.log.Warn("revocation fan-out: the Redis notifications stopped; polling the log more often until they are back", "error", err.Error())
		}
		set(false)
		sleep(ctx, busRetry)
	}
}

// errNoPong is why a subscription whose connection stopped answering is given up.
var errNoPong = errors.New("no answer to a ping on the subscription")

// listenOnce subscribes on a connection of its own and calls wake for each message until the
// connection fails, does not answer a ping within busCheck, or ctx ends. It calls subscribed
// once Redis confirmed the subscription, and wakes the node then too: what was appended while
// it was not subscribed is read at once.
func (b *RedisBus) listenOnce(ctx context.Context, wake, subscribed func()) error {
	ps := b.rdb.Subscribe(ctx, b.channel)
	defer ps.Close()
	// A receive does not end with ctx: closing the subscription's connection ends it.
	defer context.AfterFunc(ctx, func() { ps.Close() })()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, busCheck)
		var timeout interface{ Timeout() bool }
		switch {
		case err == nil:
			pinged = false
		case errors.As(err, &timeout) && timeout.Timeout() && !pinged:
			// Quiet: make sure the connection still answers (the pong arrives as a message).
			if err := ps.Ping(ctx); err != nil {
				return err
			}
			pinged = true
			continue
		case errors.As(err, &timeout) && timeout.Timeout():
			return errNoPong
		default:
			return err
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				subscribed()
				wake()
			}
		case *redis.Message:
			wake()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
