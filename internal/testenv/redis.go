package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisProcess is a redis-server of a test's own, on a free loopback port, which the test may stop,
// hang and start again (a fault the shared Redis of LANYARD_TEST_REDIS cannot be put through).
// Only its own process is ever signalled.
type RedisProcess struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

// StartRedis starts a Redis of the test's own (redis-server from RedisServer: skipped or failed
// like every service) and stops it when the test ends.
func StartRedis(t testing.TB) *RedisProcess {
	t.Helper()
	s := &RedisProcess{t: t, bin: RedisServer(t), port: freePort(t), dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// URL is the server's redis:// URL.
func (s *RedisProcess) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Start runs the server and returns once it accepts connections.
func (s *RedisProcess) Start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", s.dir, "--logfile", "")
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting %s: %v", s.bin, err)
	}
	s.cmd = cmd
	ready := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled {
				log.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), "Ready to accept connections") {
					close(ready)
					signalled = true
				}
			}
		}
		if !signalled {
			close(ready)
		}
	}()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-ready:
	case <-timer.C:
	}
	if !strings.Contains(log.String(), "Ready to accept connections") {
		s.Stop()
		s.t.Fatalf("redis-server on port %d did not start:\n%s", s.port, log.String())
	}
}

// Stop kills the server (SIGKILL: no chance to answer anything more).
func (s *RedisProcess) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // in case it was hung
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Hang stops the server without closing its connections: requests get no answer at all.
func (s *RedisProcess) Hang() { s.signal(syscall.SIGSTOP) }

// Resume lets a hung server go on.
func (s *RedisProcess) Resume() { s.signal(syscall.SIGCONT) }

func (s *RedisProcess) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}
