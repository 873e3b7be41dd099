package credential

import (
	"crypto/rand"
	"io"
)

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
		n = putRandomBase62(dst, n, buf[:])
	}
}

// readBase62 is randomBase62 drawing its bytes from r.
func readBase62(dst []byte, r io.Reader) error {
	var buf [64]byte
	n := 0
	for n < len(dst) {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return err
		}
		n = putRandomBase62(dst, n, buf[:])
	}
	return nil
}

// putRandomBase62 maps the random bytes of buf to characters of dst from dst[n] on, rejecting
// those of 248 and above, and returns how much of dst is filled.
func putRandomBase62(dst []byte, n int, buf []byte) int {
	for _, b := range buf {
		if b >= 248 {
			continue
		}
		dst[n] = base62Alphabet[b%62]
		n++
		if n == len(dst) {
			break
		}
	}
	return n
}
