package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Fingerprinter names secrets in the audit trail by a keyed hash: "hmac:" and the first 12 hex
// digits of the HMAC-SHA256 of the secret under the instance key (store.Store.InstanceKey).
// Without the key, a fingerprint cannot be checked against a guess, so neither a token nor a
// password typed into the email field can be recovered from the audit trail by hashing
// candidates; with it (an admin with the store), one can still look for a known secret.
type Fingerprinter struct {
	key []byte
}

// NewFingerprinter returns a Fingerprinter keyed with key, which must hold at least 16 bytes:
// a shorter key is a bug in the caller, and NewFingerprinter panics rather than write
// fingerprints anyone could reproduce.
func NewFingerprinter(key []byte) Fingerprinter {
	if len(key) < 16 {
		panic("audit: a fingerprint key needs at least 16 bytes")
	}
	return Fingerprinter{key: append([]byte(nil), key...)}
}

// Fingerprint names secret without revealing it. It panics on a Fingerprinter that
// NewFingerprinter did not make.
func (f Fingerprinter) Fingerprint(secret string) string {
	if f.key == nil {
		panic("audit: a Fingerprinter without a key (use NewFingerprinter)")
	}
	mac := hmac.New(sha256.New, f.key)
	mac.Write([]byte(secret))
	return "hmac:" + hex.EncodeToString(mac.Sum(nil)[:6])
}
