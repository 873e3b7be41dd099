// Package audit keeps lanyard's audit trail. Changes are audited by the store in the same
// transaction that makes them (every changing store method takes its store.Event); this package
// records what belongs to no change — refused credentials, failed and throttled logins —
// aggregated and written asynchronously, and names secrets only by a fingerprint, never by
// value.
//
// Aggregation: refusals are counted per action, client address, target, detail and minute. One
// address gets at most 20 distinct refusals of its own per action and minute; the rest of that
// minute become one event for the address, target "many", with their count. A flood of random
// tokens from one address therefore writes at most 21 events per minute whatever its rate, and
// at most 10 000 distinct refusals are held between two writes, whatever the number of
// addresses. Nodes sharing a Redis (Refusals.Share with RedisClaims) claim an address's 20
// together: a flood spread over n nodes writes at most 20 rows of its own plus one folded row
// per node a minute. When Redis does not answer, each node's own bound holds.
//
// Fingerprints: a secret is named "hmac:" and the first 12 hex digits of its HMAC-SHA256 under
// the instance key, 32 random bytes the store makes the first time it opens
// (store.Store.InstanceKey). Someone who reads the audit trail cannot confirm a guessed token
// or password against it; someone with a copy of the store has the key too. Events written
// before the key existed carry "sha256:" fingerprints, unkeyed.
package audit
