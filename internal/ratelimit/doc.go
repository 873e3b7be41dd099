// Package ratelimit decides whether a request may spend from its plan's windows and its key's
// credits (CONTRACT §5 "Limits and credits", §11.28–32, §11.45), for the callers that spend
// them: gateway routes, /v1/authz and /v1/verify (§11.52). A Limiter decides one request at a
// time, atomically and all or nothing: every window must allow the request's cost, and the
// key's credits too when it has any; a request refused by any of them spends nothing anywhere.
// A dry run answers exactly what the real request would get and spends nothing; Usage (for GET
// /v1/limits) is a dry run of cost 0.
//
// # Fixed windows, aligned to the epoch
//
// A window of length w counts what is spent from Unix time k·w to (k+1)·w: the windows of every
// bucket start together, a day window is a UTC day, and a count needs no clock but the one that
// names k. This is the algorithm because it keeps both promises the CONTRACT makes:
//
//   - Exact counts: a window is one integer, checked and incremented in one step (in Redis, one
//     INCRBY inside the one script that checks every window), so N concurrent requests against
//     a limit L accept exactly L, on one node or across any number sharing Redis.
//   - Honest headers: remaining is literally the limit less the count, and reset is when the
//     window ends: the same true statement for every client on every node. A client that waits
//     reset seconds finds a new window.
//
// The alternatives were weighed and set aside. A sliding log is exact but holds a time stamp per
// request (a plan of 10,000 a day holds 10,000 per bucket). A sliding counter weighs the
// previous window's count and so is neither exact nor honest about what remains. GCRA is exact
// and smooth, but its remaining and reset describe a virtual schedule rather than a count, so
// "60 per minute" no longer reads as what a user expects, and several windows with one cost get
// harder to explain. What fixed windows cost is known: a client may spend a whole window at the
// end of one and another at the start of the next. A plan that must smooth such bursts adds a
// shorter window (10 per second beside 300 per minute), which every-window-must-allow already
// provides.
//
// reset (and Retry-After) are whole seconds rounded up, so never 0 for a window: a retry after
// reset seconds is never too early.
//
// # Credits: the live balance
//
// The store holds a key's credits as last set or last written back; the live balance is held by
// the limiter (in process for Memory, in Redis for Redis), seeded from the Credits each request
// carries the first time the limiter sees that key, and named by the key's id (Credits.Key).
//
// Credits.SetAt, the time of the last POST or PATCH that set the credits, is the generation
// of the setting: a request carrying a later SetAt than the live balance's restarts the balance
// from its seed (a new setting replaces the live balance, CONTRACT §11.31); a request carrying
// an earlier one (a node whose credential cache has not yet seen the new setting) spends from
// the newer live balance. The store must therefore keep SetAt to the nanosecond and make it
// grow with every setting of a key's credits (for instance max(now, previous + 1 ns) in the
// transaction that sets them), and never change it when writing a balance back. A key deleted
// and created again under the same id gets a later SetAt, so it never inherits the old balance.
//
// Refills happen at decision time, never by timer: a balance belongs to the refill period (UTC
// day or month) holding the later of SetAt and RefilledAt; a decision in a later period first
// tops Remaining up to the refill amount (never down) and sets RefilledAt to the start of the
// current period. Several periods without a decision come to one top-up, which is what they
// would have come to anyway. Setting credits is not a refill: RefilledAt stays nil until the
// first refill, and none happens before the start of the next period after the setting
// (§11.45).
//
// Writing back: Balances returns, once, every balance a decision changed since the last call,
// with absolute values. The caller writes them to the store in batches, as it does last_used_at
// (every few seconds, and when it shuts down): Remaining and RefilledAt, only where the stored
// SetAt equals the balance's, so that a write-back never undoes a newer setting. The store's
// credits are thus the live balance as of the last write-back.
//
// Crash semantics. Memory's live balances die with the process; after a restart they are seeded
// again from the store, so a key may spend again what it spent since the last write-back: an
// error in the key's favour, bounded by one write-back interval of its spending, and never a
// refusal it would not have had. Redis's live balances outlive any node; they are lost only
// with Redis's data (lanyard's Redis needs no persistence) or after CreditsTTL unused, and then
// seeded again from the store with the same bound. Windows are never written to the store: a
// Memory limiter restarts with empty windows.
//
// # Memory
//
// Memory keeps buckets and balances in 64 shards chosen by a hash of the bucket (and of the
// key), each behind its own mutex; a decision locks the one or two shards it reads. Memory is
// bounded: at most MaxBuckets buckets and as many balances. A bucket whose windows have all
// ended holds nothing and is dropped; a balance is dropped once Balances has returned it and it
// has stayed unused for IdleCredits. Dry runs and refusals keep nothing. When a shard is full of
// live entries a decision that needs a new one fails with ErrFull (the caller answers 503)
// rather than forget a live count.
//
// # Redis
//
// Redis shares the windows and balances between every node using one Redis, in two modes
// (rate_limit.mode).
//
// exact, the default, runs one Lua script per decision (EVALSHA, and EVAL when Redis has lost
// its scripts): it reads every window's counter and the balance, decides, and spends, with no
// other command in between, so counts are exact across any number of nodes. A window's counter
// is one key per bucket, length and window index, expiring by itself shortly after the window
// ends; a balance is one hash, expiring after CreditsTTL unused. A decision costs one round
// trip, shared: the decisions waiting at once go to Redis in one pipeline (two in flight at
// most), each still its own script run, so a busy node pays one write and one read for many
// (BenchmarkDecide: redis-exact-parallel-32 against redis-exact-unpipelined-parallel-32), and
// a lone decision is sent at once. Windows are placed by the deciding node's clock, so nodes need clocks that agree to well
// under a second (NTP).
//
// fast decides from this node's own state, with no Redis call on the request path. For each
// window a node knows the count Redis held at its last sync, what it spent since, and its share:
// ⌈(limit − count) / nodes⌉ (⌈limit / nodes⌉ before its first sync), the most it may spend
// until the next (or one request, when a single request costs more). Every SyncEvery (100 ms)
// it pushes what it spent (INCRBY) and reads back the total, which sets the next share. A
// node's view misses only what the others spent since their last push before its own sync, at
// most two shares each while every node syncs on time, so a window accepts at most
//
//	limit + 2·(nodes − 1)·⌈limit / nodes⌉   (less than 3 × limit; for costs of 1)
//
// in the worst case, every node bursting its whole share between two syncs; steady traffic
// overshoots far less (TestFastOvershoot measures it). A node that cannot sync stops at its
// share: a slow Redis makes fast mode refuse early, never overshoot more. A request refused by
// the share alone, with the limit not reached as far as the node knows, gets Retry-After 1.
// Credits are shared the same way, a share of the balance per node per sync, with the same
// bound; a balance never goes below 0 in Redis, so an overshoot is credit given away, never a
// debt. Remaining is this node's view as of its last sync. Deployments that bill by credits
// want exact.
//
// Every Redis call gives up after Timeout (500 ms), without retries; a decision first waits at
// most WaitTimeout (1 s) for a free connection, so it is answered within 1.5 s whatever Redis
// does. A decision whose call fails (a refused connection, a timeout, an error reply) is
// answered by rate_limit.redis_down, the failure counted (Stats) and the probe sent to ping
// Redis at once; a decision that found every connection busy is this node's overload, answered
// the same way and counted apart. Only a failed ping marks Redis unreachable (logged once, and
// OnHealth told): then every decision follows redis_down without trying Redis, until a ping
// succeeds. So one slow answer costs one decision, and an outage costs each decision at most
// the time to find it. (A call that timed out may still have spent in Redis, so a window may
// count a request that the policy answered: more than was accepted, never less.) The policies:
//
//   - closed (the default): the decision is an *UnavailableError, matching ErrUnavailable,
//     whose RetryAfter goes with the 503; never an allowance and never a 429.
//   - local: each node enforces its share alone, every limit and balance divided by the node
//     count (at least 1), exactly on this node; what it spends is pushed to Redis before the
//     limiter counts Redis back, so no credit is spent twice because of an outage.
//   - open: allowed, with no windows and no credits in the Decision.
//
// The probe pings every ProbeEvery (1 s), and at once after a failed call, so Healthy (for
// /readyz) answers at once from what it last found, and the limiter is back a couple of seconds
// after Redis is, without a new Limiter. Decisions marked Degraded were made by redis_down
// local or open.
//
// Nothing here parses client input, so there is no fuzz target: callers hand in ids they have
// already parsed and windows from the validated config.
package ratelimit
