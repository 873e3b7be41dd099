// Package audit keeps lanyard's audit trail. Changes are audited by the store in the same
// transaction that makes them (every changing store method takes its store.Event); this package
// records what belongs to no change — refused credentials, failed and throttled logins —
// aggregated and written asynchronously, and names secrets only by a fingerprint, never by
// value.
package audit
