// Package loadgen is the load generator of lanyard's benchmarks (bench/ and bench/scale/): it
// sends requests over keep-alive connections on loopback and measures each one, and it runs
// the benchmark's own program again on a core of its own, so that the generator does not
// starve the servers on a small machine.
package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Spec is one load: how many connections, and for how long or how many requests.
type Spec struct {
	// Conns is the number of keep-alive connections, each sending one request at a time.
	Conns int
	// Duration is how long the load runs when Count is not positive.
	Duration time.Duration
	// Count, when positive, makes the load send requests 0 … Count-1, each once, over all the
	// connections, and stop.
	Count int
	// Warmup is how long every connection sends warm-up requests first (not measured).
	Warmup time.Duration
}

// Requests make a load's requests and judge their answers.
type Requests struct {
	// Next makes request n; n counts from 0 over all the connections.
	Next func(n int) (*http.Request, error)
	// Warm makes a warm-up request; when nil the warm-up sends Next(0) again and again.
	Warm func() (*http.Request, error)
	// Check judges a measured answer by its status and body; when nil any 200 passes, as it
	// does for every warm-up answer.
	Check func(status int, body []byte) error
}

// Result is what one load measured.
type Result struct {
	RPS        float64
	P50, P99   time.Duration
	Max        time.Duration
	Requests   int
	Errors     int
	FirstError string
}

// Run sends the load and measures every request that passed.
func Run(s Spec, r Requests) Result {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: s.Conns,
		MaxConnsPerHost:     s.Conns,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	warm := r.Warm
	if warm == nil {
		warm = func() (*http.Request, error) { return r.Next(0) }
	}
	one := func(req *http.Request, err error, check func(int, []byte) error, body *bytes.Buffer) (time.Duration, error) {
		if err != nil {
			return 0, err
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		body.Reset()
		if check == nil {
			_, err = io.Copy(io.Discard, resp.Body)
		} else {
			_, err = body.ReadFrom(resp.Body)
		}
		resp.Body.Close()
		d := time.Since(start)
		switch {
		case err != nil:
			return 0, err
		case check != nil:
			err = check(resp.StatusCode, body.Bytes())
		case resp.StatusCode != http.StatusOK:
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return d, err
	}

	// Warm up: open the connections (and, unless the load says otherwise, fill the caches).
	until := time.Now().Add(s.Warmup)
	var wg sync.WaitGroup
	for range s.Conns {
		wg.Go(func() {
			var body bytes.Buffer
			for time.Now().Before(until) {
				req, err := warm()
				if _, err := one(req, err, nil, &body); err != nil {
					return
				}
			}
		})
	}
	wg.Wait()

	var (
		mu    sync.Mutex
		all   []time.Duration
		errs  int
		first string
		next  atomic.Int64
	)
	start := time.Now()
	end := start.Add(s.Duration)
	for range s.Conns {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<12)
			var (
				body bytes.Buffer
				e    int
				fe   string
			)
			for {
				n := int(next.Add(1) - 1)
				if s.Count > 0 && n >= s.Count || s.Count <= 0 && !time.Now().Before(end) {
					break
				}
				req, err := r.Next(n)
				d, err := one(req, err, r.Check, &body)
				if err != nil {
					e++
					if fe == "" {
						fe = err.Error()
					}
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			all = append(all, lat...)
			errs += e
			if first == "" {
				first = fe
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	res := Result{Requests: len(all), Errors: errs, FirstError: first, RPS: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		res.P50 = all[len(all)/2]
		res.P99 = all[len(all)*99/100]
		res.Max = all[len(all)-1]
	}
	return res
}

// Command runs this program again with args; with pin, and taskset on the machine, it runs on
// core cpu alone.
func Command(pin bool, cpu int, args ...string) *exec.Cmd {
	self, _ := os.Executable()
	if pin {
		if ts, err := exec.LookPath("taskset"); err == nil {
			return exec.Command(ts, append([]string{"-c", fmt.Sprint(cpu), self}, args...)...)
		}
	}
	return exec.Command(self, args...)
}
