package api

import (
	"errors"
	"net/http"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/ratelimit"
	"github.com/lanyardhq/lanyard/internal/store"
)

// limitsAnswer is GET /v1/limits (CONTRACT §11.30): the caller's plan, every window shortest
// first, and its credits, spending nothing.
type limitsAnswer struct {
	Plan    *string                 `json:"plan"`
	Windows []ratelimit.WindowState `json:"windows"`
	Credits *creditsJSON            `json:"credits"`
}

// getLimits answers GET /v1/limits for the calling credential: its plan (the key's, its
// resource's, or the default one — with ?resource=type/id, as for a request about that
// resource, which the caller must be able to read), what every window of it holds now, and the
// key's live credits. Nothing is spent.
func (h *Handler) getLimits(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := authn.FromContext(ctx)
	ans := limitsAnswer{Windows: []ratelimit.WindowState{}}
	if id.Key != nil {
		ans.Credits = toCreditsJSON(id.Key.Credits)
	}
	ref := r.URL.Query().Get("resource")
	if ref != "" {
		var err error
		if ref, err = h.parseRef("resource", ref); err != nil {
			return err
		}
		if err := h.authz.Require(ctx, id, config.PermRead, ref); err != nil {
			return err
		}
	}
	if ref == "" {
		var err error
		if ref, err = h.credentialResource(r, id); err != nil {
			return err
		}
	}
	if h.limits != nil {
		name, _, err := h.limits.Plan(ctx, id, ref, "")
		if err != nil {
			return err
		}
		ans.Plan = nullable(name)
		req, ok, err := h.limits.Request(ctx, id, ref, "", 0, true)
		if err != nil {
			return err
		}
		if ok {
			d, err := ratelimit.Usage(ctx, h.limits.Limiter, req)
			if err != nil {
				return err
			}
			if len(d.Windows) > 0 {
				ans.Windows = d.Windows
			}
			if c := d.Credits; c != nil {
				ans.Credits = toCreditsJSON(&store.Credits{Remaining: c.Remaining, Refill: refillOf(c.Refill), RefilledAt: c.RefilledAt})
			}
		}
	}
	h.writeJSON(w, http.StatusOK, ans, "")
	return nil
}

// credentialResource is the resource a credential's gateway requests are about when a route
// takes it from the credential (a business key's business, or the one business a person
// belongs to): what /v1/limits answers for when no ?resource= names one. "" when none; a
// credential granted several such resources must name one, as the gateway asks (400).
func (h *Handler) credentialResource(r *http.Request, id *authn.Identity) (string, error) {
	if h.gateway == nil {
		return "", nil
	}
	for _, rt := range h.gateway.Routes {
		if res := rt.Resource; res != nil && res.From != "" {
			ref, err := h.authz.CredentialResource(r.Context(), id, res.Type)
			if errors.Is(err, authz.ErrSeveralResources) {
				return "", badRequest("The credential is granted several resources of type %s; name one with ?resource=.", res.Type)
			}
			if err != nil {
				return "", nil // none: the credential's own plan, or the default
			}
			return ref, nil
		}
	}
	return "", nil
}

func refillOf(r *ratelimit.Refill) *store.Refill {
	if r == nil {
		return nil
	}
	return &store.Refill{Amount: r.Amount, Interval: r.Interval}
}
