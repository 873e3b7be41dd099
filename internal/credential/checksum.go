package credential

import (
	"hash/crc32"
	"sync"
)

// parseTables are the look-up tables of Parse, built on first use.
type parseTables struct {
	// crc are the slicing-by-8 tables of CRC32-IEEE. hash/crc32 has the same tables but
	// takes a []byte, and converting a token to one would allocate on Parse's path.
	crc [8][256]uint32
	// digit maps a byte to its base62 value, or to invalidDigit.
	digit [256]uint8
	// prefix is 0 for the bytes a prefix may hold ([a-z0-9]), invalidDigit for the others.
	prefix [256]uint8
}

// invalidDigit marks, in parseTables, a byte that is not allowed; it is the only value with
// the high bit set, so OR-ing the entries of a string tells whether all were allowed.
const invalidDigit = 0x80

var tables = sync.OnceValue(func() *parseTables {
	t := new(parseTables)
	t.crc[0] = *crc32.IEEETable
	for i := range 256 {
		crc := t.crc[0][i]
		for k := 1; k < 8; k++ {
			crc = t.crc[0][crc&0xFF] ^ crc>>8
			t.crc[k][i] = crc
		}
		t.digit[i] = invalidDigit
		t.prefix[i] = invalidDigit
	}
	for v := range len(base62Alphabet) {
		t.digit[base62Alphabet[v]] = uint8(v)
	}
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyz0123456789") {
		t.prefix[c] = 0
	}
	return t
})

// checksum returns the CRC32-IEEE of s, as crc32.ChecksumIEEE([]byte(s)) does, without
// allocating: it reads the string itself, eight bytes per step.
func checksum(s string) uint32 {
	t := &tables().crc
	crc := ^uint32(0)
	for len(s) >= 8 {
		crc ^= uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
		crc = t[0][s[7]] ^ t[1][s[6]] ^ t[2][s[5]] ^ t[3][s[4]] ^
			t[4][crc>>24] ^ t[5][crc>>16&0xFF] ^ t[6][crc>>8&0xFF] ^ t[7][crc&0xFF]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		crc = t[0][byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}
