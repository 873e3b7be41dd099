package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// Nodes is what the API needs of the nodes that share its store (internal/fanout; CONTRACT
// §11.33). Without one the node is alone: GET /nodes lists nothing and ?wait=propagated answers
// at once.
type Nodes interface {
	// Live lists the nodes seen in the last 10 s, this one included, by id.
	Live(ctx context.Context) ([]store.Node, error)
	// Wait returns once every other live node has applied every revocation this node made
	// (ok), or at the staleness bound with the nodes that have not.
	Wait(ctx context.Context) (lagging []string, ok bool)
}

type nodeJSON struct {
	ID         string    `json:"id"`
	StartedAt  time.Time `json:"started_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

// listNodes answers the nodes of this store seen in the last 10 s (a live node is seen at least
// every 3 s), by id. A node that stopped, or has not been seen for longer, is not listed.
func (h *Handler) listNodes(w http.ResponseWriter, r *http.Request) error {
	out := []nodeJSON{}
	if h.nodes != nil {
		ns, err := h.nodes.Live(r.Context())
		if err != nil {
			return err
		}
		for _, n := range ns {
			out = append(out, nodeJSON{ID: n.ID, StartedAt: n.StartedAt.UTC(), LastSeenAt: n.LastSeenAt.UTC()})
		}
	}
	h.writeJSON(w, http.StatusOK, map[string]any{"nodes": out}, "")
	return nil
}

// awaitRevocation prepares a revoking route's answer for ?wait=propagated: it returns w as it is
// when the caller does not ask to wait (or this node has no others to wait for), and otherwise
// a writer that holds the success answer until the revocation has reached every live node.
func (h *Handler) awaitRevocation(w http.ResponseWriter, r *http.Request, rt *Route) (http.ResponseWriter, error) {
	switch r.URL.Query().Get("wait") {
	case "":
		return w, nil
	case "propagated":
	default:
		return nil, badRequest(`wait must be "propagated".`)
	}
	if h.nodes == nil {
		return w, nil
	}
	status := rt.LaggingStatus
	if status == 0 {
		status = http.StatusAccepted
	}
	return &awaiting{ResponseWriter: w, h: h, r: r, laggingStatus: status}, nil
}

// awaiting is the response writer of a revoking call made with ?wait=propagated. writeJSON, the
// one writer of success answers, hands it the answer (settle), which waits until every live
// node has applied the revocation. When the staleness bound passes first, the answer gets the
// route's LaggingStatus (202) and {"lagging": [<node id>, …]}, added to the answer's own fields
// when it has a body (a reissued key's new secret is never dropped). Errors are written as
// they are.
type awaiting struct {
	http.ResponseWriter
	h             *Handler
	r             *http.Request
	laggingStatus int
}

func (a *awaiting) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// settle waits, and returns the status and value to answer.
func (a *awaiting) settle(status int, v any) (int, any) {
	lagging, ok := a.h.nodes.Wait(a.r.Context())
	if ok {
		return status, v
	}
	if lagging == nil {
		lagging = []string{} // the store could not say which nodes are live
	}
	a.h.log.LogAttrs(a.r.Context(), slog.LevelWarn, "a revocation was not confirmed by every node within the staleness bound",
		slog.String("request_id", requestID(a.r.Context())), slog.Any("lagging", lagging))
	return a.laggingStatus, withLagging(v, lagging)
}

// withLagging is the answer v with the field "lagging" added: {"lagging": […]} alone when v is
// no body, v unchanged when it is not a JSON object.
func withLagging(v any, lagging []string) any {
	if v == nil {
		return struct {
			Lagging []string `json:"lagging"`
		}{lagging}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var m map[string]json.RawMessage
	if enc.Encode(v) != nil || json.Unmarshal(buf.Bytes(), &m) != nil || m == nil {
		return v
	}
	m["lagging"], _ = json.Marshal(lagging)
	return m
}
