package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
)

const testBootstrap = "test-bootstrap-token-0123456789abcdef"

// fakeClock is a settable clock for expiry and grace tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// instance is a lanyard started by a test through Run, the same wiring as `lanyard serve`.
type instance struct {
	t      *testing.T
	base   string
	stderr *syncBuffer
	stop   func() error
	// envelope: answers are wrapped, so the OpenAPI document does not describe them.
	envelope bool
	// served is closed once the node serves (Options.Started).
	served chan struct{}
	// flushUsage writes what the node counted of keys' use now (last use, usage hours).
	flushUsage func(context.Context) error
	specOnce   sync.Once
	spec       *openAPIChecker
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type startOpts struct {
	dataDir string
	env     map[string]string
	clock   *fakeClock
	mutate  func(*config.Config)
	logJSON bool
	// active, when set, receives a value each time a connection turns active.
	active chan struct{}
	// hasher, when set, replaces the password hasher built from the config.
	hasher credential.Hasher
	// logs, when set, also receives the log lines.
	logs io.Writer
	// early returns as soon as Run runs, without waiting for the node to serve (one that
	// waits for its store); instance.served says when it does.
	early bool
}

// testConfig is the built-in default with cheap password hashing and the data in dir.
func testConfig(dir string) *config.Config {
	cfg := config.Default()
	cfg.Server.Data = dir
	cfg.Passwords.MemoryKiB = 64
	cfg.Passwords.Iterations = 1
	cfg.Passwords.Parallelism = 1
	return cfg
}

// start runs lanyard on a loopback port until the test ends (or stop is called).
func start(t *testing.T, o startOpts) *instance {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	if o.env == nil {
		o.env = map[string]string{BootstrapEnv: testBootstrap}
	}
	cfg := testConfig(o.dataDir)
	if o.mutate != nil {
		o.mutate(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inst := &instance{t: t, base: "http://" + ln.Addr().String(), stderr: &syncBuffer{}, envelope: cfg.API.Envelope}
	logs := t.Output()
	if o.logs != nil {
		logs = io.MultiWriter(logs, o.logs)
	}
	opts := Options{
		Config:   cfg,
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
		LogJSON:  o.logJSON,
		Stderr:   inst.stderr,
		Getenv:   func(k string) string { return o.env[k] },
		Listener: ln,
	}
	if o.clock != nil {
		opts.Now = o.clock.Now
	}
	opts.usageFlush = func(f func(context.Context) error) { inst.flushUsage = f }
	if o.hasher != nil {
		opts.Hasher = o.hasher
	}
	if o.active != nil {
		opts.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateActive {
				select {
				case o.active <- struct{}{}:
				default:
				}
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	inst.served = started
	opts.Started = func(string) { close(started) }
	go func() { done <- Run(ctx, opts) }()
	if !o.early {
		select {
		case <-started:
		case err := <-done:
			cancel()
			t.Fatalf("lanyard did not start: %v", err)
		}
	}
	var once sync.Once
	var runErr error
	inst.stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := inst.stop(); err != nil {
			t.Errorf("lanyard stopped with %v", err)
		}
	})
	return inst
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %q", a.status, a.body)
	}
	return m
}

// errCode returns the error body's code, failing the test when the body is not the contract's.
func (a answer) errCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("answer %d has no contract error body: %q", a.status, a.body)
	}
	return e.Error.Code
}

type req struct {
	method  string
	path    string
	token   string // sent as Bearer
	body    string
	headers map[string]string
	// rawHeaders sends the header names exactly as written, not canonicalised.
	rawHeaders bool
}

func (in *instance) do(r req) answer {
	in.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, in.base+r.path, body)
	if err != nil {
		in.t.Fatal(err)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.headers {
		if r.rawHeaders {
			hr.Header[k] = []string{v}
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	if strings.HasPrefix(r.path, "/v1/") && !in.envelope {
		path, _, _ := strings.Cut(r.path, "?")
		if ch := in.openAPI(); ch != nil {
			if msg := ch.check(r.method, path, resp.StatusCode, b); msg != "" {
				in.t.Errorf("the answer does not match /v1/openapi.json: %s", msg)
			}
		}
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// must sends r and fails the test unless the status is want.
func (in *instance) must(want int, r req) answer {
	in.t.Helper()
	a := in.do(r)
	if a.status != want {
		in.t.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, a.status, want, a.body)
	}
	return a
}
