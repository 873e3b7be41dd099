package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// loadSpec is one load: a case at a number of connections for a while.
type loadSpec struct {
	Case     benchCase
	Conns    int
	Duration time.Duration
}

// result is what one load measured.
type result struct {
	RPS        float64
	P50, P99   time.Duration
	Requests   int
	Errors     int
	FirstError string
}

func loadFromSpec(spec string) error {
	var s loadSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return err
	}
	r := load(s)
	return json.NewEncoder(os.Stdout).Encode(r)
}

// load sends the case's request in a loop on each of Conns keep-alive connections for
// Duration (after a short warm-up) and measures every request.
func load(s loadSpec) result {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: s.Conns,
		MaxConnsPerHost:     s.Conns,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	one := func() (time.Duration, error) {
		var body io.Reader
		if s.Case.Body != "" {
			body = strings.NewReader(s.Case.Body)
		}
		req, err := http.NewRequest(s.Case.Method, s.Case.URL, body)
		if err != nil {
			return 0, err
		}
		for k, v := range s.Case.Header {
			req.Header.Set(k, v)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	// Warm up: open the connections and fill the caches.
	warm := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < s.Conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(warm) {
				if _, err := one(); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()

	var mu sync.Mutex
	var all []time.Duration
	var errs int
	var first string
	start := time.Now()
	end := start.Add(s.Duration)
	for i := 0; i < s.Conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			var e int
			var fe string
			for time.Now().Before(end) {
				d, err := one()
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
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	r := result{Requests: len(all), Errors: errs, FirstError: first, RPS: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		r.P50 = all[len(all)/2]
		r.P99 = all[len(all)*99/100]
	}
	return r
}
