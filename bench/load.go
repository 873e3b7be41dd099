package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lanyardhq/lanyard/bench/internal/loadgen"
)

// loadSpec is one load: a case at a number of connections for a while.
type loadSpec struct {
	Case     benchCase
	Conns    int
	Duration time.Duration
}

// result is what one load measured.
type result = loadgen.Result

func loadFromSpec(spec string) error {
	var s loadSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(load(s))
}

// load sends the case's request in a loop on each of Conns keep-alive connections for
// Duration (after a short warm-up that fills the caches) and measures every request.
func load(s loadSpec) result {
	return loadgen.Run(loadgen.Spec{Conns: s.Conns, Duration: s.Duration, Warmup: 300 * time.Millisecond},
		loadgen.Requests{Next: func(int) (*http.Request, error) {
			var body io.Reader
			if s.Case.Body != "" {
				body = strings.NewReader(s.Case.Body)
			}
			req, err := http.NewRequest(s.Case.Method, s.Case.URL, body)
			if err != nil {
				return nil, err
			}
			for k, v := range s.Case.Header {
				req.Header.Set(k, v)
			}
			return req, nil
		}})
}
