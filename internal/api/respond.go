package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// envelope wraps native answers when the config asks for it (CONTRACT §11.7).
type envelope struct {
	Success bool         `json:"success"`
	Data    any          `json:"data"`
	Message string       `json:"message"`
	Error   *errorDetail `json:"error,omitempty"`
}

// writeJSON sends a success answer, wrapped in the envelope when one is configured. message is
// the envelope's message. A 204 has no body, envelope or not. A revoking call that waits for
// its revocation to reach every node (?wait=propagated) waits here, before anything is sent.
func (h *Handler) writeJSON(w http.ResponseWriter, status int, v any, message string) {
	if a, ok := w.(*awaiting); ok {
		status, v = a.settle(status, v)
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	if h.envelope {
		if message == "" {
			message = "OK"
		}
		v = envelope{Success: true, Data: v, Message: message}
	}
	h.writeRaw(w, status, v)
}

// Header values every JSON answer carries, shared (net/http never modifies a value slice).
var (
	headerJSON    = []string{"application/json"}
	headerNoSniff = []string{"nosniff"}
	headerNoStore = []string{"no-store"}
)

// buffers lends writeRaw its encoding buffers.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (h *Handler) writeRaw(w http.ResponseWriter, status int, v any) {
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer buffers.Put(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only lanyard's own values are encoded here; failing to encode one is a bug.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"Something went wrong on our side."}}` + "\n")
	}
	hdr := w.Header()
	hdr["Content-Type"] = headerJSON
	hdr["X-Content-Type-Options"] = headerNoSniff
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// noStore marks an answer that carries a secret.
func noStore(w http.ResponseWriter) {
	w.Header()["Cache-Control"] = headerNoStore
}

// decode reads the request body as one JSON value into dst, whatever the Content-Type says. An
// empty body is {}. Unknown fields, a second value or anything but whitespace after the value,
// and a body over the configured limit are refused.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	data, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeJSON(data, dst)
}

// defaultMaxBody is the body limit of a route that names none: every native request body is
// a small JSON object.
const defaultMaxBody = 64 << 10

// readBody reads the whole request body, refusing one over the route's limit (and never more
// than the configured max_body_bytes) with 413 before anything is decoded.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := h.maxBody
	if st := stateFrom(r.Context()); st != nil && st.maxBody > 0 && st.maxBody < limit {
		limit = st.maxBody
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "The request body is too large."}
		}
		return nil, badRequest("The request body could not be read.")
	}
	return data, nil
}

// decodeJSON is decode's parser, separate so it can be fuzzed.
func decodeJSON(data []byte, dst any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	return decodeOne(data, dst, true)
}

// decodeOne decodes exactly one JSON value from data into dst: strict refuses unknown fields
// (the native API); lenient ignores them (RFC 7009 revocation, whose senders add their own).
func decodeOne(data []byte, dst any, strict bool) error {
	var t reflect.Type
	if strict {
		t = reflect.TypeOf(dst)
	}
	if err := checkJSON(data, t); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
		dec.UseNumber()
	}
	if err := dec.Decode(dst); err != nil {
		return badRequest("%s", jsonProblem(err))
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return badRequest("The request body must hold exactly one JSON value.")
	}
	return nil
}

// jsonProblem describes a decoding error in a sentence that reveals nothing but the problem.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "The request body is not valid JSON."
	case errors.As(err, &typ):
		if typ.Field != "" {
			return "The field \"" + typ.Field + "\" has the wrong type."
		}
		return "The request body has the wrong type: it must be a JSON object."
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "The request body is not valid JSON."
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "Unknown field " + f + "."
	}
	return "The request body is not valid JSON."
}
