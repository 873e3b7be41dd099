package server

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/credential"
)

// generatedToken finds the bootstrap token a start printed on a line of its own, or "".
func generatedToken(stderr string) string {
	return regexp.MustCompile(`(?m)^lb_[0-9A-Za-z]{33}$`).FindString(stderr)
}

func TestCheckBootstrapEnv(t *testing.T) {
	printable := `!"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_` + "`abcdefghijklmnopqrstuvwxyz{|}~"
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{"unset", "", true},
		{"32 characters", strings.Repeat("a", 32), true},
		{"512 characters", strings.Repeat("a", 512), true},
		{"every printable ASCII character", printable, true},
		{"31 characters", strings.Repeat("a", 31), false},
		{"513 characters", strings.Repeat("a", 513), false},
		{"a space", strings.Repeat("a", 20) + " " + strings.Repeat("a", 20), false},
		{"a leading space", " " + strings.Repeat("a", 40), false},
		{"a tab", strings.Repeat("a", 20) + "\t" + strings.Repeat("a", 20), false},
		{"a trailing newline", strings.Repeat("a", 40) + "\n", false},
		{"a trailing carriage return", strings.Repeat("a", 40) + "\r", false},
		{"DEL", strings.Repeat("a", 40) + "\x7f", false},
		{"NUL", strings.Repeat("a", 40) + "\x00", false},
		{"a non-ASCII letter", strings.Repeat("a", 40) + "é", false},
		{"a non-breaking space", strings.Repeat("a", 20) + "\u00a0" + strings.Repeat("a", 20), false},
		{"invalid UTF-8", strings.Repeat("a", 40) + "\xff", false},
		{"31 characters and a non-ASCII one", strings.Repeat("a", 31) + "ü", false},
	}
	for _, tt := range tests {
		err := CheckBootstrapEnv(func(k string) string {
			if k == BootstrapEnv {
				return tt.value
			}
			return ""
		})
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case !tt.ok && err == nil:
			t.Errorf("%s: accepted", tt.name)
		case !tt.ok && !strings.Contains(err.Error(), BootstrapEnv):
			t.Errorf("%s: the error does not name %s: %v", tt.name, BootstrapEnv, err)
		case !tt.ok && strings.Contains(err.Error(), strings.Repeat("a", 20)):
			t.Errorf("%s: the error shows the value: %v", tt.name, err)
		}
	}
}

// TestBadBootstrapTokenRefusedBeforeTheStore: a LANYARD_BOOTSTRAP_TOKEN that no request could
// present, or that the resolver would refuse before any lookup, stops Run before it creates the
// data directory.
func TestBadBootstrapTokenRefusedBeforeTheStore(t *testing.T) {
	lb, err := credential.Generate("lb")
	if err != nil {
		t.Fatal(err)
	}
	badsum := lb[:len(lb)-1] + map[bool]string{true: "b", false: "a"}[lb[len(lb)-1] == 'a']
	other, err := credential.Generate("zz")
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"a space":                           "a bootstrap token with a space in it 0123456789",
		"31 characters":                     strings.Repeat("b", 31),
		"513 characters":                    strings.Repeat("b", 513),
		"a non-ASCII character":             "bootstrap-token-with-an-ümlaut-0123456789",
		"a lanyard token's bad checksum":    badsum,
		"a prefix this config never issues": other,
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "never")
			var stderr bytes.Buffer
			err := Run(t.Context(), Options{
				Config: testConfig(dir),
				Stderr: &stderr,
				Getenv: func(k string) string { return map[string]string{BootstrapEnv: value}[k] },
			})
			if err == nil {
				t.Fatal("Run accepted the value")
			}
			if strings.Contains(err.Error(), value) || strings.Contains(stderr.String(), value) {
				t.Errorf("the refusal shows the value: %v", err)
			}
			if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
				t.Fatalf("the store was touched: %v", statErr)
			}
		})
	}
}

// TestTakenAddressConsumesNoBootstrapToken: the generated token is made and printed only once
// the listener is bound, so a start that cannot listen prints nothing and stores nothing, and
// the next start prints a token that works.
func TestTakenAddressConsumesNoBootstrapToken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Server.Addr = taken.Addr().String()
	var stderr syncBuffer
	err = Run(t.Context(), Options{
		Config: cfg,
		Stderr: &stderr,
		Getenv: func(string) string { return "" },
	})
	if err == nil {
		t.Fatal("Run served on an address in use")
	}
	if out := stderr.String(); strings.Contains(out, "lb_") {
		t.Fatalf("a start that could not listen printed a token: %q", out)
	}
	if evs := events(t, dir, "bootstrap.create"); len(evs) != 0 {
		t.Fatalf("a start that could not listen created the bootstrap token: %+v", evs)
	}

	next := start(t, startOpts{dataDir: dir, env: map[string]string{}})
	tok := generatedToken(next.stderr.String())
	if tok == "" {
		t.Fatalf("the next start printed no bootstrap token: %q", next.stderr.String())
	}
	next.must(200, req{method: "GET", path: "/v1/me", token: tok})
}

// TestUnusableCertificateTouchesNoStore: the TLS certificate is loaded before the store is
// opened, so a start that could never serve leaves no data directory (and no bootstrap token)
// behind.
func TestUnusableCertificateTouchesNoStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	cfg := testConfig(dir)
	cfg.Server.TLSCert = filepath.Join(t.TempDir(), "missing.crt")
	cfg.Server.TLSKey = filepath.Join(t.TempDir(), "missing.key")
	var stderr syncBuffer
	err := Run(t.Context(), Options{Config: cfg, Stderr: &stderr, Getenv: func(string) string { return "" }})
	if err == nil {
		t.Fatal("Run served without its certificate")
	}
	if strings.Contains(stderr.String(), "lb_") {
		t.Fatalf("a start without its certificate printed a token: %q", stderr.String())
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Fatalf("the store was touched: %v", statErr)
	}
}
