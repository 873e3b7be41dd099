package ratelimit

import (
	"net/http"
	"strconv"
)

// WriteHeaders sets the rate-limit fields of an answer from d (CONTRACT §8, §11.30, §11.32):
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset for the window nearest to
// refusing; Retry-After on a refusal that has one; and with ietf, RateLimit-Policy listing every
// window, shortest first, as "<w>s";q=<limit>;w=<w>, and RateLimit for the nearest as
// "<w>s";r=<remaining>;t=<reset>. A Decision without windows (credits only, or redis_down open)
// sets no window fields. The 503 of an *UnavailableError is the caller's: its Retry-After is
// the error's.
func WriteHeaders(h http.Header, d *Decision, ietf bool) {
	if !d.Allowed && d.RetryAfter > 0 {
		h["Retry-After"] = []string{strconv.FormatInt(d.RetryAfter, 10)}
	}
	w, ok := d.Nearest()
	if !ok {
		return
	}
	// Set as the contract spells them (X-RateLimit-*, not Go's canonical X-Ratelimit-*): names
	// are case-insensitive, but the documents clients follow show this spelling.
	h["X-RateLimit-Limit"] = []string{strconv.FormatInt(w.Limit, 10)}
	h["X-RateLimit-Remaining"] = []string{strconv.FormatInt(w.Remaining, 10)}
	h["X-RateLimit-Reset"] = []string{strconv.FormatInt(w.Reset, 10)}
	if !ietf {
		return
	}
	var b []byte
	for i, s := range d.Windows {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendName(b, s.Window)
		b = append(b, ";q="...)
		b = strconv.AppendInt(b, s.Limit, 10)
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, s.Window, 10)
	}
	h["RateLimit-Policy"] = []string{string(b)}
	b = appendName(b[:0], w.Window)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, w.Remaining, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, w.Reset, 10)
	h["RateLimit"] = []string{string(b)}
}

// appendName appends a window's policy name, "<w>s" as a structured-field string.
func appendName(b []byte, window int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, window, 10)
	return append(b, 's', '"')
}
