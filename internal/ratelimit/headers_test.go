package ratelimit

import (
	"net/http"
	"reflect"
	"testing"
)

func TestWriteHeaders(t *testing.T) {
	minute := WindowState{Limit: 60, Window: 60, Remaining: 12, Reset: 30}
	day := WindowState{Limit: 10000, Window: 86400, Remaining: 9000, Reset: 40000}
	for _, tt := range []struct {
		name string
		d    Decision
		ietf bool
		want http.Header
	}{
		{"one window", Decision{Allowed: true, Windows: []WindowState{minute}}, false, http.Header{
			"X-RateLimit-Limit": {"60"}, "X-RateLimit-Remaining": {"12"}, "X-RateLimit-Reset": {"30"},
		}},
		{"the nearest of two", Decision{Allowed: true, Windows: []WindowState{minute, {Limit: 100, Window: 3600, Remaining: 5, Reset: 1800}}}, false, http.Header{
			"X-RateLimit-Limit": {"100"}, "X-RateLimit-Remaining": {"5"}, "X-RateLimit-Reset": {"1800"},
		}},
		{"refused", Decision{Refused: RefusedWindow, Window: 0, RetryAfter: 30, Windows: []WindowState{{Limit: 60, Window: 60, Reset: 30}, day}}, false, http.Header{
			"X-RateLimit-Limit": {"60"}, "X-RateLimit-Remaining": {"0"}, "X-RateLimit-Reset": {"30"}, "Retry-After": {"30"},
		}},
		{"credits exhausted, no refill", Decision{Refused: RefusedCredits, Window: -1, Windows: []WindowState{minute}}, false, http.Header{
			"X-RateLimit-Limit": {"60"}, "X-RateLimit-Remaining": {"12"}, "X-RateLimit-Reset": {"30"},
		}},
		{"credits exhausted, no windows", Decision{Refused: RefusedCredits, Window: -1, RetryAfter: 3600}, false, http.Header{
			"Retry-After": {"3600"},
		}},
		{"nothing to say", Decision{Allowed: true, Window: -1, Degraded: true}, true, http.Header{}},
		{"IETF fields", Decision{Allowed: true, Windows: []WindowState{minute, day}}, true, http.Header{
			"X-RateLimit-Limit": {"60"}, "X-RateLimit-Remaining": {"12"}, "X-RateLimit-Reset": {"30"},
			"RateLimit-Policy": {`"60s";q=60;w=60, "86400s";q=10000;w=86400`},
			"RateLimit":        {`"60s";r=12;t=30`},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			WriteHeaders(h, &tt.d, tt.ietf)
			if !reflect.DeepEqual(h, tt.want) {
				t.Fatalf("headers\n%v\nwant\n%v", h, tt.want)
			}
		})
	}
}
