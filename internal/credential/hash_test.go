package credential

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestHash(t *testing.T) {
	tests := []struct {
		secret, want string
	}{
		// FIPS 180-2 test vectors.
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{strings.Repeat("a", 1000000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
	}
	for _, tt := range tests {
		got := Hash(tt.secret)
		if h := hex.EncodeToString(got[:]); h != tt.want {
			t.Errorf("Hash(%.20q) = %s, want %s", tt.secret, h, tt.want)
		}
	}
	// Either side of the stack buffer's size.
	for _, n := range []int{hashBufLen - 1, hashBufLen, hashBufLen + 1} {
		s := strings.Repeat("z", n)
		if Hash(s) == Hash(s[:n-1]) {
			t.Errorf("Hash ignores the last byte of a %d-byte secret", n)
		}
	}
}

func TestEqual(t *testing.T) {
	a := Hash("lk_a")
	b := Hash("lk_b")
	var zero [32]byte
	tests := []struct {
		x, y [32]byte
		want bool
	}{
		{a, a, true},
		{a, b, false},
		{zero, zero, true},
		{a, zero, false},
	}
	for _, tt := range tests {
		if got := Equal(tt.x, tt.y); got != tt.want {
			t.Errorf("Equal(%x, %x) = %v, want %v", tt.x[:4], tt.y[:4], got, tt.want)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	tok, err := Generate("lk")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Hash(tok)
	}
}
