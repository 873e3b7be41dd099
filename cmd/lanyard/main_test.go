package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// wrote, when set, gets a signal after each write (never blocking the writer).
	wrote chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.b.Write(p)
	if l.wrote != nil {
		select {
		case l.wrote <- struct{}{}:
		default:
		}
	}
	return n, err
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cli runs one command line and returns its exit code, stdout and stderr.
func cli(t *testing.T, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, env{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return vars[k] },
	})
	return code, out.String(), errb.String()
}

func TestVersionNeedsNoServer(t *testing.T) {
	code, out, _ := cli(t, nil, "", "version")
	if code != 0 || !strings.HasPrefix(out, "lanyard ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

// serve starts `lanyard serve` as a user would (flags, env, a config file) and returns its
// address once it listens; it is stopped when t ends.
func serve(t *testing.T, vars map[string]string, args ...string) (addr string, stderr *lockedBuffer) {
	t.Helper()
	addr, stderr, _ = startServe(t, vars, args...)
	return addr, stderr
}

// startServe is serve that also returns a function that stops the server and waits for it to
// exit (at the latest when t ends), failing t unless it exits 0.
func startServe(t *testing.T, vars map[string]string, args ...string) (addr string, stderr *lockedBuffer, stop func()) {
	t.Helper()
	return startServeUntil(t, servingLine, vars, args...)
}

// servingLine is the log line of a server that serves, and its address.
var servingLine = regexp.MustCompile(`lanyard is serving.*addr=(127\.0\.0\.1:\d+)`)

// startServeUntil is startServe that returns once serve logged a line that re matches, with
// the address re's first group captures.
func startServeUntil(t *testing.T, re *regexp.Regexp, vars map[string]string, args ...string) (addr string, stderr *lockedBuffer, stop func()) {
	t.Helper()
	stderr = &lockedBuffer{wrote: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), env{
			stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr,
			getenv: func(k string) string { return vars[k] },
		})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exited %d: %s", code, stderr.String())
			}
		})
	}
	t.Cleanup(stop)
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr, stop
		}
		select {
		case <-stderr.wrote: // look again at what serve wrote
		case code := <-done:
			once.Do(func() {}) // it has stopped already
			t.Fatalf("serve exited %d before listening: %s", code, stderr.String())
		case <-timeout.C:
			t.Fatalf("serve did not start: %s", stderr.String())
		}
	}
}

func cheapConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lanyard.yaml")
	err := os.WriteFile(path, []byte("passwords:\n  memory_kib: 64\n  iterations: 1\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCLIAgainstARunningServer(t *testing.T) {
	const boot = "cli-test-bootstrap-token-0123456789abcdef"
	dir := t.TempDir()
	addr, _ := serve(t, map[string]string{"LANYARD_BOOTSTRAP_TOKEN": boot, "LANYARD_DATA": dir},
		"--addr", "127.0.0.1:0", "--config", cheapConfig(t))
	vars := map[string]string{"LANYARD_ADDR": addr, "LANYARD_TOKEN": boot}

	code, out, errs := cli(t, vars, "a perfectly long password for ann\n", "users", "create", "--email", "ann@example.com", "--name", "Ann", "--id", "ann", "--password-stdin")
	if code != 0 {
		t.Fatalf("users create: %d %s", code, errs)
	}
	var u map[string]any
	if err := json.Unmarshal([]byte(out), &u); err != nil || u["id"] != "ann" {
		t.Fatalf("users create printed %q", out)
	}
	if strings.Contains(out, "password") {
		t.Fatalf("users create printed a password field: %s", out)
	}

	code, out, errs = cli(t, vars, "", "users", "list")
	if code != 0 || !strings.Contains(out, `"ann@example.com"`) {
		t.Fatalf("users list: %d %q %s", code, out, errs)
	}

	code, out, errs = cli(t, vars, "", "keys", "create", "--name", "ci", "--owner", "user:ann", "--id", "ann-ci", "--expires-in", "3600", "--allowed-cidr", "127.0.0.0/8")
	if code != 0 {
		t.Fatalf("keys create: %d %s", code, errs)
	}
	var k map[string]any
	if err := json.Unmarshal([]byte(out), &k); err != nil || k["token"] == nil {
		t.Fatalf("keys create printed %q", out)
	}
	tok := k["token"].(string)

	// The key works as a CLI credential too: it shows itself, never its secret.
	code, out, _ = cli(t, map[string]string{"LANYARD_ADDR": "http://" + addr, "LANYARD_TOKEN": tok}, "", "keys", "get", "ann-ci")
	if code != 0 || !strings.Contains(out, `"ann-ci"`) || strings.Contains(out, tok) {
		t.Fatalf("keys get with the key: %d %q", code, out)
	}

	code, _, errs = cli(t, vars, "", "keys", "revoke", "ann-ci")
	if code != 0 {
		t.Fatalf("keys revoke: %d %s", code, errs)
	}
	code, _, errs = cli(t, map[string]string{"LANYARD_ADDR": addr, "LANYARD_TOKEN": tok}, "", "keys", "get", "ann-ci")
	if code != 1 || !strings.Contains(errs, "invalid_token") {
		t.Fatalf("a revoked key still lists: %d %q", code, errs)
	}

	// Errors go to stderr with exit 1.
	code, out, errs = cli(t, vars, "", "users", "create", "--email", "not an email")
	if code != 1 || out != "" || !strings.Contains(errs, "email") {
		t.Fatalf("bad email: %d %q %q", code, out, errs)
	}
	code, _, errs = cli(t, map[string]string{"LANYARD_ADDR": addr}, "", "users", "list")
	if code != 1 || !strings.Contains(errs, "LANYARD_TOKEN") {
		t.Fatalf("without a token: %d %q", code, errs)
	}
}

func TestServeRefusesAnOpenProxy(t *testing.T) {
	for _, tt := range []struct {
		args []string
		says string
	}{
		// An upstream with no routes would be an open proxy: refused, never a default.
		{[]string{"--upstream", "http://127.0.0.1:9"}, "gateway.routes"},
		{[]string{"--redis", "not-a-url"}, "server.redis"},
	} {
		code, _, errs := cli(t, map[string]string{"LANYARD_DATA": t.TempDir()}, "", append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)...)
		if code != 1 || !strings.Contains(errs, tt.says) {
			t.Errorf("serve %v: %d %q", tt.args, code, errs)
		}
	}
}

func TestServeRefusesAShortBootstrapToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, _, errs := cli(t, map[string]string{"LANYARD_BOOTSTRAP_TOKEN": "short", "LANYARD_DATA": dir}, "", "serve", "--addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errs, "LANYARD_BOOTSTRAP_TOKEN") {
		t.Fatalf("short bootstrap token: %d %q", code, errs)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("the data directory was created")
	}
}

func TestServeRefusesAnUnknownConfigKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("server:\n  adr: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := cli(t, nil, "", "serve", "--config", path)
	if code != 1 || !strings.Contains(errs, "adr") {
		t.Fatalf("unknown config key: %d %q", code, errs)
	}
}

func TestBootstrapReset(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"LANYARD_DATA": dir}
	addr, stderr := serve(t, vars, "--addr", "127.0.0.1:0", "--config", cheapConfig(t))
	old := regexp.MustCompile(`(?m)^lb_[0-9A-Za-z]{33}$`).FindString(stderr.String())
	if old == "" {
		t.Fatalf("no bootstrap token printed: %s", stderr.String())
	}
	// reset works beside the running server, on the same store.
	code, out, errs := cli(t, vars, "", "bootstrap", "reset", "--config", cheapConfig(t))
	if code != 0 || !regexp.MustCompile(`^lb_[0-9A-Za-z]{33}\n$`).MatchString(out) {
		t.Fatalf("bootstrap reset: %d %q %q", code, out, errs)
	}
	fresh := strings.TrimSpace(out)
	if code, _, errs := cli(t, map[string]string{"LANYARD_ADDR": addr, "LANYARD_TOKEN": fresh}, "", "users", "list"); code != 0 {
		t.Fatalf("the new bootstrap token does not work: %q", errs)
	}
	if code, _, _ := cli(t, map[string]string{"LANYARD_ADDR": addr, "LANYARD_TOKEN": old}, "", "users", "list"); code != 1 {
		t.Fatal("the old bootstrap token still works")
	}
}

func TestBootstrapResetNeedsAStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	code, out, errs := cli(t, map[string]string{"LANYARD_DATA": dir}, "", "bootstrap", "reset")
	if code != 1 || out != "" || !strings.Contains(errs, "no lanyard store") {
		t.Fatalf("reset on a missing store: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("reset created a store")
	}
}
