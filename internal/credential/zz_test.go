package credential

import (
	"hash/crc32"
	"testing"
)

var sink uint32
var sinkb bool

func BenchmarkZZChecksum(b *testing.B) {
	tok, _ := Generate("lk")
	for b.Loop() {
		sink = checksum(tok[:30])
	}
}
func BenchmarkZZChecksumStd(b *testing.B) {
	tok, _ := Generate("lk")
	b.ReportAllocs()
	for b.Loop() {
		var buf [64]byte
		n := copy(buf[:], tok[:30])
		sink = crc32.ChecksumIEEE(buf[:n])
	}
}
func BenchmarkZZBase62(b *testing.B) {
	tok, _ := Generate("lk")
	for b.Loop() {
		sinkb = isBase62(tok[3:])
	}
}
