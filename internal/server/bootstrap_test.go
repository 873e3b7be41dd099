package server

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
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

// TestBootstrapEnvReplacesAnotherToken is the newcomer's path: a first start without
// LANYARD_BOOTSTRAP_TOKEN generates a token, a later start with the variable makes its value the
// bootstrap token and the generated one stops working; the replacement is logged and audited,
// showing neither token. The same value again changes nothing; another value replaces it again,
// and so does one set after `lanyard bootstrap reset`.
func TestBootstrapEnvReplacesAnotherToken(t *testing.T) {
	dir := t.TempDir()
	first := start(t, startOpts{dataDir: dir, env: map[string]string{}})
	generated := generatedToken(first.stderr.String())
	if generated == "" {
		t.Fatalf("no generated bootstrap token in %q", first.stderr.String())
	}
	first.must(200, req{method: "GET", path: "/v1/me", token: generated})
	first.must(201, req{method: "POST", path: "/v1/users", token: generated, body: `{"id": "u1", "email": "u1@example.com"}`})
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	chosen := "the-bootstrap-token-a-newcomer-chose-0123"
	var logs syncBuffer
	second := start(t, startOpts{dataDir: dir, env: map[string]string{BootstrapEnv: chosen}, logs: &logs})
	second.must(401, req{method: "GET", path: "/v1/me", token: generated})
	if me := second.must(200, req{method: "GET", path: "/v1/me", token: chosen}).json(t); me["admin"] != true {
		t.Fatalf("the chosen token is not the bootstrap token: %v", me)
	}
	second.must(200, req{method: "GET", path: "/v1/users/u1", token: chosen}) // the store is the same
	if !strings.Contains(logs.String(), "replaced the bootstrap admin token") {
		t.Errorf("the replacement was not logged: %q", logs.String())
	}
	for _, out := range []string{logs.String(), second.stderr.String()} {
		if strings.Contains(out, chosen) || strings.Contains(out, generated) || generatedToken(out) != "" {
			t.Fatalf("a start that replaced the bootstrap token showed a token: %q", out)
		}
	}
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}
	evs := events(t, dir, "bootstrap.replace")
	if len(evs) != 1 || evs[0].Actor != "lanyard" || evs[0].Target != "bootstrap" || evs[0].Result != "success" {
		t.Fatalf("replacement events %+v, want one by lanyard on the bootstrap token", evs)
	}
	if s := evs[0].Detail + evs[0].Credential + evs[0].Target; strings.Contains(s, chosen) || strings.Contains(s, generated) {
		t.Fatalf("the replacement event holds a token: %+v", evs[0])
	}

	// The same value again: nothing changes, nothing is audited.
	var thirdLogs syncBuffer
	third := start(t, startOpts{dataDir: dir, env: map[string]string{BootstrapEnv: chosen}, logs: &thirdLogs})
	third.must(200, req{method: "GET", path: "/v1/me", token: chosen})
	if strings.Contains(thirdLogs.String(), "replaced") {
		t.Errorf("a start with the stored value replaced it: %q", thirdLogs.String())
	}
	if err := third.stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(events(t, dir, "bootstrap.replace")); n != 1 {
		t.Fatalf("%d replacement events after a start with the same value, want 1", n)
	}

	// A start without the variable keeps whatever the store holds and prints nothing.
	fourth := start(t, startOpts{dataDir: dir, env: map[string]string{}})
	fourth.must(200, req{method: "GET", path: "/v1/me", token: chosen})
	if out := fourth.stderr.String(); generatedToken(out) != "" {
		t.Fatalf("a start on a bootstrapped store printed a token: %q", out)
	}
	if err := fourth.stop(); err != nil {
		t.Fatal(err)
	}

	// After `lanyard bootstrap reset`, a start with the variable set replaces reset's token too.
	reset := resetBootstrap(t, dir)
	rotated := "a-rotated-bootstrap-token-0123456789abcdef"
	fifth := start(t, startOpts{dataDir: dir, env: map[string]string{BootstrapEnv: rotated}})
	fifth.must(401, req{method: "GET", path: "/v1/me", token: reset})
	fifth.must(401, req{method: "GET", path: "/v1/me", token: chosen})
	fifth.must(200, req{method: "GET", path: "/v1/me", token: rotated})
	if err := fifth.stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(events(t, dir, "bootstrap.replace")); n != 2 {
		t.Fatalf("%d replacement events, want 2", n)
	}
}

// resetBootstrap does what `lanyard bootstrap reset` does on the store in dir and returns the
// new token.
func resetBootstrap(t *testing.T, dir string) string {
	t.Helper()
	db, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tok, err := ResetBootstrap(t.Context(), db, testConfig(dir), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
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

// TestBootstrapResetReachesRunningNodes: `lanyard bootstrap reset` run beside a serving node
// writes the rescinded token to the revocation log, so the node refuses it at once, not at the
// end of its staleness bound (30 s here).
func TestBootstrapResetReachesRunningNodes(t *testing.T) {
	dir := t.TempDir()
	in := start(t, startOpts{dataDir: dir, mutate: func(c *config.Config) { c.Cache.Staleness = 30 * time.Second }})
	in.must(200, req{method: "GET", path: "/v1/me", token: testBootstrap}) // cached now
	fresh := resetBootstrap(t, dir)
	eventually(t, 5*time.Second, func() bool {
		return in.do(req{method: "GET", path: "/v1/me", token: testBootstrap}).status == 401
	})
	in.must(200, req{method: "GET", path: "/v1/me", token: fresh})
}
