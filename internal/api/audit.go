package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

type eventJSON struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Actor      *string   `json:"actor"`
	Credential *string   `json:"credential"`
	Action     string    `json:"action"`
	Target     *string   `json:"target"`
	Resource   *string   `json:"resource"`
	Result     string    `json:"result"`
	IP         *string   `json:"ip"`
	Count      int       `json:"count"`
	Detail     *string   `json:"detail"`
}

func toEventJSON(e store.Event) eventJSON {
	return eventJSON{
		ID: e.ID, At: e.At.UTC(), Actor: nullable(e.Actor), Credential: nullable(e.Credential),
		Action: e.Action, Target: nullable(e.Target), Resource: nullable(e.Resource),
		Result: e.Result, IP: nullable(e.IP), Count: e.Count, Detail: nullable(e.Detail),
	}
}

// listAudit answers the audit trail: a resource's events (and its descendants') for its
// managers, everything for admins; ?actor=, ?action= and ?target= narrow it.
func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request) error {
	caller := authn.FromContext(r.Context())
	q := r.URL.Query()
	f := store.EventFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target")}
	if kind, id, ok := strings.Cut(f.Actor, ":"); ok && (kind == "user" || kind == "key") && !credential.ValidID(id) {
		return badRequest("actor: the id %s.", idRule)
	}
	if res := q.Get("resource"); res != "" {
		ref, err := h.parseRef("resource", res)
		if err != nil {
			return err
		}
		f.Resource = ref
	}
	if err := h.authz.SelectEvents(r.Context(), caller, f.Resource); err != nil {
		return err
	}
	page, fp, err := pageFrom(q, "resource="+f.Resource, "actor="+f.Actor, "action="+f.Action, "target="+f.Target)
	if err != nil {
		return err
	}
	if page.AfterID != "" && !digits(page.AfterID) {
		return badRequest("The cursor is not valid.")
	}
	if f.Resource != "" {
		// Resource ids can be reused after a delete; the trail of an earlier resource with the
		// same id is not this one's (§11.2: a reused id inherits nothing).
		if f.FromID, err = h.incarnation(r, f.Resource); err != nil {
			return err
		}
	}
	return writePage(h, w, "events", page, fp, func(p store.Page) ([]store.Event, error) { return h.store.ListEvents(r.Context(), f, p) },
		func(e store.Event) (time.Time, string) { return e.At, e.ID }, toEventJSON)
}

// incarnation returns the ID of the event that created the current resource ref, or "" when
// none is recorded.
func (h *Handler) incarnation(r *http.Request, ref string) (string, error) {
	var latest string
	page := store.Page{Limit: maxLimit}
	for {
		evs, err := h.store.ListEvents(r.Context(), store.EventFilter{Resource: ref, Action: "resource.create", Target: ref}, page)
		if err != nil {
			return "", err
		}
		for _, e := range evs {
			if e.ID > latest { // IDs sort in write order
				latest = e.ID
			}
		}
		if len(evs) < page.Limit {
			return latest, nil
		}
		last := evs[len(evs)-1]
		page.AfterCreated, page.AfterID = last.At, last.ID
	}
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0 && len(s) <= 18
}
