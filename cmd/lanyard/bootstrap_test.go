package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesABadBootstrapToken: a LANYARD_BOOTSTRAP_TOKEN that is not 32 to 512 printable
// ASCII characters without spaces stops serve with exit 1 before the data directory exists, and
// the message names the variable without showing its value.
func TestServeRefusesABadBootstrapToken(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"a space", "a chosen bootstrap token with spaces 0123456789"},
		{"31 characters", strings.Repeat("x", 31)},
		{"513 characters", strings.Repeat("x", 513)},
		{"a non-ASCII character", "a-chosen-bootstrap-token-with-ß-0123456789"},
		{"a trailing newline", "a-chosen-bootstrap-token-0123456789abcdef\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			code, out, errs := cli(t, map[string]string{"LANYARD_BOOTSTRAP_TOKEN": tt.value, "LANYARD_DATA": dir}, "",
				"serve", "--addr", "127.0.0.1:0", "--config", cheapConfig(t))
			if code != 1 || !strings.Contains(errs, "LANYARD_BOOTSTRAP_TOKEN") {
				t.Fatalf("serve: %d %q", code, errs)
			}
			if strings.Contains(out+errs, strings.TrimSpace(tt.value)) {
				t.Fatalf("the refusal shows the value: %q", errs)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("the data directory was created (%v)", err)
			}
		})
	}
}
