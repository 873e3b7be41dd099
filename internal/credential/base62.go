package credential

import "crypto/rand"

// base62Alphabet is the token alphabet, in digit order: 0-9A-Za-z.
const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62Value returns the digit value of c in base62Alphabet, or -1 when c is not in it.
func base62Value(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}

// isBase62 reports whether every byte of s is in base62Alphabet.
func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if base62Value(s[i]) < 0 {
			return false
		}
	}
	return true
}

// putBase62 writes v into dst in base62, most significant digit first, zero-padded to
// len(dst). The caller makes dst long enough for v.
func putBase62(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = base62Alphabet[v%62]
		v /= 62
	}
}

// randomBase62 fills dst with characters drawn uniformly from base62Alphabet using
// crypto/rand. Bytes of 248 and above are rejected (248 = 4×62) so that every character is
// equally likely.
func randomBase62(dst []byte) {
	var buf [64]byte
	n := 0
	for n < len(dst) {
		rand.Read(buf[:]) // never returns an error; it crashes the program if it cannot read
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			dst[n] = base62Alphabet[b%62]
			n++
			if n == len(dst) {
				return
			}
		}
	}
}
