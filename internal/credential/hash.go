package credential

import (
	"crypto/sha256"
	"crypto/subtle"
)

// hashBufLen bounds the secrets that Hash copies to the stack; it covers every credential
// authn accepts. Longer ones are hashed all the same, at the cost of one allocation.
const hashBufLen = 512

// Hash returns the SHA-256 of a token or key secret, the only form in which lanyard stores
// one. Tokens carry 160 random bits, so a fast unsalted hash is enough: there is nothing to
// guess. Hash does not allocate for secrets of up to 512 bytes.
func Hash(secret string) [32]byte {
	if len(secret) > hashBufLen {
		return sha256.Sum256([]byte(secret))
	}
	// []byte(secret) of more than 32 bytes would be a heap allocation; a copy on the stack is
	// cheaper than that.
	var buf [hashBufLen]byte
	n := copy(buf[:], secret)
	return sha256.Sum256(buf[:n])
}

// Equal reports whether a and b are equal, in time that does not depend on where they differ.
func Equal(a, b [32]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
