package credential

import "crypto/rand"

// base62Alphabet is the token alphabet, in digit order: 0-9A-Za-z.
const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

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
