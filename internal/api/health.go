package api

import (
	"context"
	"errors"
	"log/slog"
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

// Unavailable is the API of a node that has not reached its store yet (one that started while
// PostgreSQL was down): every request, /healthz and /readyz included, answers 503 unavailable
// with Retry-After and the contract's body (in the
// envelope under the prefix, when configured), with a request id and an access-log line like
// any other. Nothing that needs the store is decided: it fails closed. /healthz says 200 only
// once the node is listed among the nodes (CONTRACT §11.53), which needs the store. Of o it uses Logger,
// Prefix, Envelope and TrustedProxies.
func Unavailable(o Options) http.Handler {
	h := &Handler{log: o.Logger, prefix: o.Prefix, envelope: o.Envelope, trusted: o.TrustedProxies, ids: newRequestIDs()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.prefix == "" {
		h.prefix = "/v1"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "lanyard has not reached its store yet; try again in a moment.", Err: errNoStoreYet, RetryAfter: 1})
	})
	h.mux = mux
	return h
}

// errNoStoreYet is what the log says about a request answered before the store was reached.
var errNoStoreYet = errors.New("the store has not answered since this node started")
