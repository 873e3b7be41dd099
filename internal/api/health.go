package api

import (
	"context"
	"net/http"
	"time"
)

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) error {
	h.writeRaw(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 when the store (and anything else lanyard needs) answers within a
// second, else 503.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	check := h.ready
	if check == nil {
		check = h.store.Ping
	}
	if err := check(ctx); err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "A service lanyard needs does not answer.", Err: err, RetryAfter: 1}
	}
	h.writeRaw(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
