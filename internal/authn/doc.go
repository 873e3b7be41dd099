// Package authn decides who a caller is. Sources read a credential from a request's headers
// (Authorization: Bearer, Basic, a configured scheme, or a configured header) in the configured
// order; the Resolver turns it into an Identity: a key, a personal access token, an admin token
// or the bootstrap token. Every entry point — the native API, the gateway, verify and forward
// auth — goes through these two and nothing else.
//
// A presented token is checked for shape and checksum before any lookup, hashed with SHA-256,
// and looked up by hash in a store that should be cache.Store, so a known credential touches no
// database and an unknown one is remembered as unknown for a moment.
package authn
