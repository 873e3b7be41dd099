package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/lanyardhq/lanyard/bench/internal/loadgen"
)

// genSpec is one load of POST /v1/verify: the keys of a dataset to present, by index.
type genSpec struct {
	URL     string // the node's base URL
	Dataset dataset
	// Keys are the indexes of the keys presented. Cold: each once, in this order. Warm:
	// again and again, in turn, for Duration, after a warm-up that caches them all.
	Keys     []int
	Cold     bool
	Conns    int
	Duration time.Duration
}

// genCmd reads a genSpec from stdin, runs it and prints the result as JSON.
func genCmd(_ []string) error {
	var s genSpec
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(verifyLoad(s))
}

// verifyLoad presents the spec's keys to POST /v1/verify, each with a read of its
// organization, and counts any answer but a valid one as an error.
func verifyLoad(s genSpec) loadgen.Result {
	// The tokens are derived before the clock starts.
	bodies := make([][]byte, len(s.Keys))
	for n, i := range s.Keys {
		bodies[n], _ = json.Marshal(map[string]string{"token": s.Dataset.token(i), "resource": s.Dataset.orgRef(i), "permission": "read"})
	}
	verify := func(body []byte) (*http.Request, error) {
		req, err := http.NewRequest("POST", s.URL+"/v1/verify", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	}
	spec := loadgen.Spec{Conns: s.Conns, Duration: s.Duration, Warmup: 300 * time.Millisecond}
	reqs := loadgen.Requests{
		Next: func(n int) (*http.Request, error) { return verify(bodies[n%len(bodies)]) },
		Check: func(status int, body []byte) error {
			if status != http.StatusOK || !bytes.Contains(body, []byte(`"valid":true`)) {
				return fmt.Errorf("status %d: %s", status, body)
			}
			return nil
		},
	}
	if s.Cold {
		// Each key once; the warm-up only opens the connections.
		spec.Count = len(bodies)
		reqs.Warm = func() (*http.Request, error) { return http.NewRequest("GET", s.URL+"/healthz", nil) }
	} else {
		// Warm every key in turn before the clock starts.
		var next atomic.Int64
		reqs.Warm = func() (*http.Request, error) { return verify(bodies[next.Add(1)%int64(len(bodies))]) }
	}
	return loadgen.Run(spec, reqs)
}
