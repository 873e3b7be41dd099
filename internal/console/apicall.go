package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lanyardhq/lanyard/internal/api"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

type requestIDKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// answer is the native API's answer to one internal request: its status and, for a success,
// the body (unwrapped from the envelope when one is configured), for an error its message.
type answer struct {
	status     int
	retryAfter string
	body       []byte
	message    string
}

func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// decode reads a success's body into v.
func (a answer) decode(v any) error {
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("console: reading the API's answer (%d): %w", a.status, err)
	}
	return nil
}

// call serves one request to the native API as the signed-in person (s) through ServeAs, and
// reads the answer. path is relative to the API prefix and already escaped; body, when not nil,
// is sent as JSON. The request keeps the browser's address (for the audit trail and the
// login throttle) and the console request's id.
func (c *Console) call(r *http.Request, s *session, method, path string, body any) answer {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{status: http.StatusInternalServerError, message: "Something went wrong on our side."}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, c.prefix+path, rd)
	if err != nil {
		return answer{status: http.StatusBadRequest, message: "The request is not valid."}
	}
	req.RemoteAddr, req.Host, req.TLS = r.RemoteAddr, r.Host, r.TLS
	req.Header.Set("Content-Type", "application/json")
	if v := r.Header.Values("X-Forwarded-For"); len(v) > 0 {
		req.Header["X-Forwarded-For"] = v
	}
	if id := requestIDFrom(r.Context()); id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	rec := &recorder{header: http.Header{}}
	c.api.ServeAs(rec, req, &s.ident)
	return c.read(rec)
}

// read turns a recorded API answer into an answer.
func (c *Console) read(rec *recorder) answer {
	a := answer{status: rec.status, retryAfter: rec.header.Get("Retry-After"), body: rec.buf.Bytes()}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if c.envelope && len(bytes.TrimSpace(a.body)) > 0 {
		var env struct {
			Data  json.RawMessage `json:"data"`
			Error *errorDetail    `json:"error"`
		}
		if json.Unmarshal(a.body, &env) == nil {
			if a.ok() {
				a.body = env.Data
			} else if env.Error != nil {
				a.message = env.Error.Message
			}
		}
	}
	if !a.ok() && a.message == "" {
		var e struct {
			Error errorDetail `json:"error"`
		}
		if json.Unmarshal(a.body, &e) == nil && e.Error.Message != "" {
			a.message = e.Error.Message
		} else {
			a.message = http.StatusText(a.status) + "."
		}
		a.body = nil
	}
	return a
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// recorder is the response writer an internal request is answered into.
type recorder struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.buf.Write(b)
}

// checkError is the answer for an error of CheckPassword: its status and message when it is
// the API's own error, else what the API would answer for it.
func checkError(err error) answer {
	var e *api.Error
	switch {
	case errors.As(err, &e):
		a := answer{status: e.Status, message: e.Message}
		if e.RetryAfter > 0 {
			a.retryAfter = strconv.Itoa(e.RetryAfter)
		}
		return a
	case errors.Is(err, credential.ErrBusy):
		return answer{status: http.StatusTooManyRequests, retryAfter: "1", message: "Too many password checks are in progress; try again in a moment."}
	case errors.Is(err, store.ErrUnavailable):
		return answer{status: http.StatusServiceUnavailable, retryAfter: "1", message: "The service is temporarily unavailable."}
	}
	return answer{status: http.StatusInternalServerError, message: "Something went wrong on our side."}
}

// ref is the API path of a resource "type/id" (each part escaped).
func resourcePath(typ, id string) string {
	return "/resources/" + url.PathEscape(typ) + "/" + url.PathEscape(id)
}

// query builds "?k=v&…" from pairs, leaving out empty values.
func query(pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// listOf decodes a list answer {"<field>": [...], "next_cursor": …} into items and returns the
// next cursor ("" on the last page).
func listOf[T any](a answer, field string, items *[]T) (string, error) {
	var m map[string]json.RawMessage
	if err := a.decode(&m); err != nil {
		return "", err
	}
	if raw, ok := m[field]; ok {
		if err := json.Unmarshal(raw, items); err != nil {
			return "", fmt.Errorf("console: reading %s: %w", field, err)
		}
	}
	var next *string
	if raw, ok := m["next_cursor"]; ok {
		_ = json.Unmarshal(raw, &next)
	}
	if next == nil {
		return "", nil
	}
	return strings.TrimSpace(*next), nil
}
