package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var generatedBootstrap = regexp.MustCompile(`(?m)^lb_[0-9A-Za-z]{33}$`)

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

// TestServeOnATakenAddressPrintsNoToken: a serve that cannot listen exits 1 without printing
// (or storing) a bootstrap token, and the next serve on a free address prints one that works.
func TestServeOnATakenAddressPrintsNoToken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	vars := map[string]string{"LANYARD_DATA": dir}
	code, _, errs := cli(t, vars, "", "serve", "--addr", taken.Addr().String(), "--config", cheapConfig(t))
	if code != 1 {
		t.Fatalf("serve on a taken address: exit %d: %s", code, errs)
	}
	if strings.Contains(errs, "lb_") {
		t.Fatalf("serve on a taken address printed a token: %q", errs)
	}

	addr, stderr := serve(t, vars, "--addr", "127.0.0.1:0", "--config", cheapConfig(t))
	tok := generatedBootstrap.FindString(stderr.String())
	if tok == "" {
		t.Fatalf("the next serve printed no bootstrap token: %s", stderr.String())
	}
	if code, _, errs := cli(t, map[string]string{"LANYARD_ADDR": addr, "LANYARD_TOKEN": tok}, "", "users", "list"); code != 0 {
		t.Fatalf("the printed token does not work: %s", errs)
	}
}

// TestBootstrapResetWarnsOfTheVariable: reset still prints only the new token on stdout, and
// says on stderr that a serve with LANYARD_BOOTSTRAP_TOKEN set would replace it.
func TestBootstrapResetWarnsOfTheVariable(t *testing.T) {
	dir := t.TempDir()
	const chosen = "a-chosen-bootstrap-token-0123456789abcdef"
	vars := map[string]string{"LANYARD_DATA": dir, "LANYARD_BOOTSTRAP_TOKEN": chosen}
	serve(t, vars, "--addr", "127.0.0.1:0", "--config", cheapConfig(t))
	code, out, errs := cli(t, vars, "", "bootstrap", "reset", "--config", cheapConfig(t))
	if code != 0 || !regexp.MustCompile(`^lb_[0-9A-Za-z]{33}\n$`).MatchString(out) {
		t.Fatalf("bootstrap reset: %d %q %q", code, out, errs)
	}
	if !strings.Contains(errs, "LANYARD_BOOTSTRAP_TOKEN is set") || strings.Contains(errs, chosen) {
		t.Fatalf("reset's note about the variable: %q", errs)
	}
}
