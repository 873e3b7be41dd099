package main

import (
	"context"
	"fmt"
	"log/slog"
)

// redisLog takes the Redis client's own lines — it reports each failed dial while Redis is
// down, more than once a second, on stderr and in its own format — into lanyard's log at debug
// level: lanyard reports an outage itself, once, through the rate limiter, the revocation
// fan-out and the login throttle. The client has one logger per process; serve sets it.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}
