package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/ratelimit"
	"github.com/lanyardhq/lanyard/internal/server"
)

const benchBootstrap = "bench-bootstrap-token-0123456789abcdefgh"

// answer is what the bare handler and the upstream write: the size of lanyard's /v1/me answer.
var answer = []byte(`{"principal":"user:u","credential":{"type":"key","id":"k"},"admin":false}` + "\n")

func bare() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})
}

// listen serves h on a new loopback port and returns its base URL.
func listen(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go http.Serve(ln, h)
	return "http://" + ln.Addr().String(), nil
}

type pool struct{ p sync.Pool }

func (b *pool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *pool) Put(x []byte) { b.p.Put(&x) }

// serve starts every server of the bench in this process and prints their addresses as one
// JSON line; it then serves until killed.
func serve(redisURL string) error {
	up, err := listen(bare())
	if err != nil {
		return err
	}
	upURL, _ := url.Parse(up)
	var t targets
	if t.Bare, err = listen(bare()); err != nil {
		return err
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(upURL); pr.SetXForwarded() }}
	if t.Proxy, err = listen(proxy); err != nil {
		return err
	}
	pooled := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(upURL); pr.SetXForwarded() },
		Transport:  &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
		BufferPool: &pool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}},
	}
	if t.ProxyPool, err = listen(pooled); err != nil {
		return err
	}
	var l lanyard
	if l, err = startLanyard(up, "", ""); err != nil {
		return err
	}
	t.Lanyard, t.Key, t.KeyPlan, t.Event, t.Collaborator = l.base, l.key, l.planKey, l.event, l.collaborator
	if redisURL != "" {
		if l, err = startLanyard(up, redisURL, ratelimit.ModeExact); err != nil {
			return err
		}
		t.LanyardRedis, t.KeyRedis, t.KeyPlanRedis = l.base, l.key, l.planKey
		if l, err = startLanyard(up, redisURL, ratelimit.ModeFast); err != nil {
			return err
		}
		t.LanyardFast, t.KeyFast, t.KeyPlanFast = l.base, l.key, l.planKey
	}
	if err := json.NewEncoder(os.Stdout).Encode(t); err != nil {
		return err
	}
	select {}
}

// lanyard is one lanyard of the bench: its base URL, a member's key, a second key of theirs
// with the plan "bench" (for /v1/verify with a plan), and an event and a collaborator token of
// the first key.
type lanyard struct{ base, key, planKey, event, collaborator string }

// startLanyard runs lanyard (SQLite in a temporary folder) in front of upstream, with a
// member of organization/acme and of event/e1 (with collaborator c1) and their keys and
// tokens. With a redisURL its plans go through that Redis in the given rate_limit.mode.
func startLanyard(upstream, redisURL, mode string) (l lanyard, err error) {
	dir, err := os.MkdirTemp("", "lanyard-bench")
	if err != nil {
		return lanyard{}, err
	}
	cfg := config.Default()
	cfg.Server.Data = dir
	cfg.Passwords.MemoryKiB, cfg.Passwords.Iterations = 64, 1
	cfg.Quotas = config.Quotas{} // the bench writes nothing per request, but sets up in a burst
	cfg.Gateway.Upstream = upstream
	cfg.Server.Redis = redisURL
	if mode != "" {
		cfg.RateLimit.Mode = mode
	}
	// A plan no request of the bench reaches: the decision is measured, not the refusals.
	cfg.Plans = map[string]config.Plan{"bench": {Bucket: config.BucketKey, Windows: []config.Window{{Limit: 1 << 40, Window: time.Minute}, {Limit: 1 << 41, Window: time.Hour}}}}
	cfg.Schema["event"] = config.ResourceType{Root: true}
	cfg.Schema["collaborator"] = config.ResourceType{Parents: []string{"event"}}
	cfg.Exchange = map[string]config.Exchange{
		"event":        {Path: "/Events/{id}/authorize", Header: "x-Event-Token", TTL: time.Hour},
		"collaborator": {Path: "/Collaborators/{id}/authorize", Header: "x-Collaborator-Token", Requires: "event", TTL: time.Hour},
	}
	cfg.Gateway.Routes = []config.Route{
		{Path: "/orgs/{id}/{rest...}", Resource: &config.RouteResource{Type: "organization", Param: "id"}, Cost: 1},
		{Path: "/limited/{id}/{rest...}", Resource: &config.RouteResource{Type: "organization", Param: "id"}, Plan: "bench", Cost: 1},
		{Path: "/Collaborators/{id}/{rest...}", Resource: &config.RouteResource{Type: "collaborator", Param: "id"}, Tokens: []string{"event", "collaborator"}, Cost: 1},
	}
	if err := cfg.Validate(); err != nil {
		return lanyard{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return lanyard{}, err
	}
	base := "http://" + ln.Addr().String()
	started := make(chan struct{})
	go func() {
		err := server.Run(context.Background(), server.Options{
			Config:   cfg,
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)), // formatted, as in production, then dropped
			Listener: ln,
			Getenv: func(k string) string {
				if k == server.BootstrapEnv {
					return benchBootstrap
				}
				return ""
			},
			Started: func(string) { close(started) },
		})
		fmt.Fprintln(os.Stderr, "bench: lanyard stopped:", err)
		os.Exit(1)
	}()
	<-started
	do := func(method, path, body string, hdr ...string) (map[string]any, error) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+benchBootstrap)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %v", method, path, resp.StatusCode, m)
		}
		return m, nil
	}
	for _, step := range [][3]string{
		{"POST", "/v1/users", `{"id": "u", "email": "u@example.com"}`},
		{"POST", "/v1/resources", `{"type": "organization", "id": "acme"}`},
		{"PUT", "/v1/resources/organization/acme/grants/user:u", `{"role": "member"}`},
		{"POST", "/v1/resources", `{"type": "event", "id": "e1"}`},
		{"POST", "/v1/resources", `{"type": "collaborator", "id": "c1", "parent": "event/e1"}`},
		{"PUT", "/v1/resources/event/e1/grants/user:u", `{"role": "member"}`},
	} {
		if _, err := do(step[0], step[1], step[2]); err != nil {
			return lanyard{}, err
		}
	}
	k, err := do("POST", "/v1/keys", `{"name": "bench", "owner": "user:u", "id": "k"}`)
	if err != nil {
		return lanyard{}, err
	}
	key, _ := k["token"].(string)
	kp, err := do("POST", "/v1/keys", `{"name": "bench with a plan", "owner": "user:u", "id": "kp", "plan": "bench"}`)
	if err != nil {
		return lanyard{}, err
	}
	planKey, _ := kp["token"].(string)
	ev, err := do("GET", "/Events/e1/authorize", "", "Authorization", "Bearer "+key)
	if err != nil {
		return lanyard{}, err
	}
	event, _ := ev["token"].(string)
	co, err := do("GET", "/Collaborators/c1/authorize", "", "Authorization", "Bearer "+key, "x-Event-Token", event)
	if err != nil {
		return lanyard{}, err
	}
	collaborator, _ := co["token"].(string)
	return lanyard{base: base, key: key, planKey: planKey, event: event, collaborator: collaborator}, nil
}
