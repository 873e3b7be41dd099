// Package authn decides who a caller is. Sources read a credential from a request's headers
// (Authorization: Bearer, Basic, a configured scheme, or a configured header) in the configured
// order; the Resolver turns it into an Identity: a key, a personal access token, an admin token
// or the bootstrap token. Every entry point — the native API, the gateway, verify and forward
// auth — goes through these two and nothing else.
//
// A presented token is checked for shape and checksum before any lookup, hashed with SHA-256,
// and looked up by hash in a store that should be cache.Store, so a known credential touches no
// database and an unknown one is remembered as unknown for a moment.
//
// The Resolver also keeps what the store should learn of keys' use, in memory, for
// RunUsageFlusher to write in batches (every cache.last_used_flush): each key's last use, and
// its requests and refusals per UTC hour. A request counts when its credential resolves to a
// key, in the hour it resolves in; the router, which alone knows how a request ended whatever
// its entry point, calls CountRefusal when lanyard refused it. Counting allocates nothing for a
// key already counted since the last flush; no request writes to the store.
package authn
