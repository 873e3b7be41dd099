package credential

import (
	"strings"
	"testing"
)

func TestNewID(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := NewID()
		if len(id) != IDLen || strings.Trim(id, base62Alphabet) != "" || !ValidID(id) {
			t.Fatalf("NewID() = %q: want %d base62 characters", id, IDLen)
		}
		if seen[id] {
			t.Fatalf("NewID returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"acme", true},
		{"Acme-Corp_2024.v1~x", true},
		{"...", true},
		{".a", true},
		{"-", true},
		{"~", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{".", false},
		{"..", false},
		{strings.Repeat("x", 129), false},
		{"a/b", false},
		{"a b", false},
		{"a:b", false},
		{"a%20b", false},
		{"a+b", false},
		{"a@b", false},
		{"é", false},
		{"a\x00", false},
		{"a\n", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
