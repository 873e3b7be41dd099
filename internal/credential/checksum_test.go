package credential

import (
	"hash/crc32"
	"strings"
	"testing"
)

func TestChecksumMatchesHashCRC32(t *testing.T) {
	// Every length up to past a few slicing-by-8 blocks, and every byte value.
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	for n := range len(b) {
		if got, want := checksum(string(b[:n])), crc32.ChecksumIEEE(b[:n]); got != want {
			t.Errorf("checksum of %d bytes = %08x, want %08x", n, got, want)
		}
	}
}

func TestParseTables(t *testing.T) {
	tab := tables()
	for c := range 256 {
		want := uint8(invalidDigit)
		if i := strings.IndexByte(base62Alphabet, byte(c)); i >= 0 {
			want = uint8(i)
		}
		if got := tab.digit[c]; got != want {
			t.Errorf("digit[%q] = %#x, want %#x", byte(c), got, want)
		}
		want = invalidDigit
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			want = 0
		}
		if got := tab.prefix[c]; got != want {
			t.Errorf("prefix[%q] = %#x, want %#x", byte(c), got, want)
		}
	}
}
