// Package credential holds lanyard's credential formats and the primitives that handle them:
// generating and parsing tokens (a prefix, 27 random base62 characters and a CRC32 checksum),
// hashing token secrets with SHA-256 for storage, generating and checking ids, hashing
// passwords with argon2id, and the password policy (NIST SP 800-63B).
//
// A key+secret credential (CONTRACT §11 item 10) needs nothing of its own here: its key is an
// id from NewID and its secret is a token from Generate with the configured secret prefix.
//
// The package holds no state: no globals with side effects, no init. Parse and Hash are on
// every request's path and do not allocate.
package credential
