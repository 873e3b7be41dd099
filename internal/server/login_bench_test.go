package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// BenchmarkLoginTiming compares, through the real server and its default (OWASP) password
// parameters, how long a failed login takes for an unknown email and for a known email with a
// wrong password. It reports both medians and their ratio, unknown/wrong, which should stay
// close to 1: the two cost one argon2id verification each (TestLoginFailuresAreIndistinguishable
// proves that by structure; this measures it). Run it with enough tries to trust a median:
//
//	go test -run '^$' -bench LoginTiming -benchtime 200x ./internal/server
func BenchmarkLoginTiming(b *testing.B) {
	cfg := config.Default()
	cfg.Server.Data = b.TempDir()
	cfg.Login.MaxFailures = 1 << 30 // measure the hashing, not the throttle
	cfg.Login.IPMaxFailures = 1 << 30
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Config:   cfg,
			Stderr:   io.Discard,
			Getenv:   func(k string) string { return map[string]string{BootstrapEnv: testBootstrap}[k] },
			Listener: ln,
			Started:  func(string) { close(started) },
		})
	}()
	select {
	case <-started:
	case err := <-done:
		b.Fatalf("lanyard did not start: %v", err)
	}
	defer func() {
		cancel()
		<-done
	}()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	post := func(path, token, body string) int {
		r, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post("/v1/users", testBootstrap, `{"email": "ann@example.com", "password": "`+annPassword+`"}`); s != 201 {
		b.Fatalf("creating the user: %d", s)
	}
	unknownBody := `{"email": "nobody@example.com", "password": "not the password at all"}`
	wrongBody := `{"email": "ann@example.com", "password": "not the password at all"}`
	timed := func(body string) time.Duration {
		t0 := time.Now()
		if s := post("/v1/auth/login", "", body); s != 401 {
			b.Fatalf("failed login answered %d", s)
		}
		return time.Since(t0)
	}
	var unknown, wrong []time.Duration
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 { // alternate the order so neither always runs on a warmer cache
			unknown = append(unknown, timed(unknownBody))
			wrong = append(wrong, timed(wrongBody))
		} else {
			wrong = append(wrong, timed(wrongBody))
			unknown = append(unknown, timed(unknownBody))
		}
	}
	mu, mw := median(unknown), median(wrong)
	b.ReportMetric(float64(mu.Microseconds()), "unknown-µs")
	b.ReportMetric(float64(mw.Microseconds()), "wrong-µs")
	b.ReportMetric(float64(mu)/float64(mw), "unknown/wrong")
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestLoginTimingIsNoOracle compares the medians of many failed logins for an unknown email and
// for a wrong password, alternating them, through the real server. Their ratio must stay within
// noise: it bounds a ratio of two medians measured side by side, never an absolute time. The
// hashing parameters are heavy enough (8 MiB) that one argon2id verification dominates the
// noise of a loopback request, and light enough to keep the test short.
func TestLoginTimingIsNoOracle(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) {
		c.Passwords.MemoryKiB = 8 << 10
		c.Passwords.Iterations = 1
		c.Login.MaxFailures = 1 << 30 // measure the hashing, not the throttle
		c.Login.IPMaxFailures = 1 << 30
	}})
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap, body: `{"email": "ann@example.com", "password": "` + annPassword + `"}`})
	timed := func(email string) time.Duration {
		t0 := time.Now()
		in.must(401, req{method: "POST", path: "/v1/auth/login", body: `{"email": "` + email + `", "password": "not the password at all"}`})
		return time.Since(t0)
	}
	var unknown, wrong []time.Duration
	for i := 0; i < 25; i++ {
		if i%2 == 0 {
			unknown = append(unknown, timed("nobody@example.com"))
			wrong = append(wrong, timed("ann@example.com"))
		} else {
			wrong = append(wrong, timed("ann@example.com"))
			unknown = append(unknown, timed("nobody@example.com"))
		}
	}
	ratio := float64(median(unknown)) / float64(median(wrong))
	t.Logf("median unknown email %v, wrong password %v, ratio %.3f", median(unknown), median(wrong), ratio)
	if ratio < 0.5 || ratio > 2 {
		t.Fatalf("an unknown email and a wrong password take measurably different times: ratio %.3f", ratio)
	}
}
