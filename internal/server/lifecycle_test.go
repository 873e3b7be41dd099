package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// TestGracefulShutdownFinishesInFlightRequests: a request whose body is still arriving when
// shutdown starts is answered, and what it created is stored.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	active := make(chan struct{}, 1)
	in := start(t, startOpts{dataDir: dir, active: active})
	body := `{"id": "late", "email": "late@example.com"}`
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testBootstrap +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := io.WriteString(conn, head+body[:10]); err != nil {
		t.Fatal(err)
	}
	<-active // the server has read the request's headers
	// net/http drops a request whose headers it finished reading as shutdown began (it checks
	// for shutdown right after the ConnState hook); give the connection's goroutine time to get
	// past that check and into the handler, which is then waiting for the rest of the body.
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- in.stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("shutdown did not wait for the in-flight request: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("in-flight request answered %d", resp.StatusCode)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	again := start(t, startOpts{dataDir: dir})
	again.must(200, req{method: "GET", path: "/v1/users/late", token: testBootstrap})
}

// TestSlowClientsAreCutOff: a client that never finishes its headers is disconnected after the
// read-header timeout instead of holding a connection forever.
func TestSlowClientsAreCutOff(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) { c.Server.ReadHeaderTimeout = 200 * time.Millisecond }})
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a client with unfinished headers for 10 s")
	}
}

// TestAccessLog: one line per request, with a request id and the principal, never the
// credential or the query string.
func TestAccessLog(t *testing.T) {
	logs := &syncBuffer{}
	dir := t.TempDir()
	cfg := testConfig(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- Run(ctx, Options{
			Config:   cfg,
			Logger:   slog.New(slog.NewJSONHandler(logs, nil)),
			Getenv:   func(k string) string { return map[string]string{BootstrapEnv: testBootstrap}[k] },
			Listener: ln,
			Started:  func(string) { close(started) },
			Stderr:   io.Discard,
		})
	}()
	<-started
	in := &instance{t: t, base: "http://" + ln.Addr().String()}
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap, body: `{"id": "u", "email": "u@example.com"}`})
	tok := in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "k", "owner": "user:u"}`}).json(t)["token"].(string)
	in.must(200, req{method: "GET", path: "/v1/me?secret=" + tok, token: tok, headers: map[string]string{"X-Request-Id": "req-123"}})
	in.must(401, req{method: "GET", path: "/v1/me", token: tok[:len(tok)-2] + "00"})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	if strings.Contains(out, tok) || strings.Contains(out, testBootstrap) || strings.Contains(out, tok[3:20]) {
		t.Fatalf("a credential reached the log:\n%s", out)
	}
	var requests []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "request" && m["path"] != "/v1/openapi.json" { // the harness reads the document once
			requests = append(requests, m)
		}
	}
	if len(requests) != 4 {
		t.Fatalf("%d access-log lines for 4 requests", len(requests))
	}
	me := requests[2]
	if me["request_id"] != "req-123" || me["principal"] != "user:u" || me["path"] != "/v1/me" || me["status"] != float64(200) {
		t.Fatalf("access-log line = %v", me)
	}
	if requests[0]["principal"] != "bootstrap" && requests[0]["credential"] != "bootstrap:bootstrap" {
		t.Fatalf("bootstrap request logged as %v", requests[0])
	}
}
