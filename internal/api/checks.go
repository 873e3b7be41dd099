package api

import (
	"net/http"
	"strings"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
)

type checkRequest struct {
	Principal  string `json:"principal"`
	Permission string `json:"permission"`
	Resource   string `json:"resource"`
	Explain    bool   `json:"explain"`
}

type checkAnswer struct {
	Allowed bool           `json:"allowed"`
	Because *authz.Because `json:"because,omitempty"`
}

// check answers "may this principal do this on that resource?", and with explain, why. It is
// always 200 for a well-formed request: a resource that does not exist or that the caller may
// not see is simply not allowed, so the answer is no oracle.
func (h *Handler) check(w http.ResponseWriter, r *http.Request) error {
	caller := authn.FromContext(r.Context())
	var req checkRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	perm, ok := config.ParsePermission(req.Permission)
	if !ok || perm == config.PermNone {
		return badRequest(`permission must be "read", "write" or "manage".`)
	}
	ref, err := h.parseRef("resource", req.Resource)
	if err != nil {
		return err
	}
	if req.Principal != "" {
		kind, pid, ok := strings.Cut(req.Principal, ":")
		if !ok || (kind != "user" && kind != "key") || !credential.ValidID(pid) {
			return badRequest(`principal must be written "user:<id>" or "key:<id>".`)
		}
	}
	ctx := r.Context()
	subject := caller
	hidden, err := h.authz.CheckAbout(ctx, caller, req.Principal, ref)
	if err != nil {
		return err
	}
	if hidden {
		// Asking about someone else on a resource the caller may not see is just "no".
		h.writeJSON(w, http.StatusOK, hiddenAnswer(req.Explain), "")
		return nil
	}
	if req.Principal != "" && req.Principal != caller.Principal() {
		if subject, err = h.identityOf(r, req.Principal); err != nil {
			return err
		}
		if subject == nil {
			// A principal that does not exist, or a key that expired or was revoked, answers
			// like one without a grant: another tenant's keys stay invisible.
			ans := checkAnswer{}
			if req.Explain {
				ans.Because = &authz.Because{Reason: authz.NotAllowedReason(req.Principal, perm, ref)}
			}
			h.writeJSON(w, http.StatusOK, ans, "")
			return nil
		}
	}
	if !req.Explain {
		ok, err := h.authz.Can(ctx, subject, perm, ref)
		if err != nil {
			return err
		}
		h.writeJSON(w, http.StatusOK, checkAnswer{Allowed: ok}, "")
		return nil
	}
	ok, because, err := h.authz.Explain(ctx, subject, perm, ref)
	if err != nil {
		return err
	}
	if !ok && subject == caller {
		// A refusal on a resource the caller may not even read says nothing more than a
		// refusal on a missing one: the answer is no existence oracle.
		canRead, err := h.authz.Can(ctx, caller, config.PermRead, ref)
		if err != nil {
			return err
		}
		if !canRead {
			h.writeJSON(w, http.StatusOK, hiddenAnswer(true), "")
			return nil
		}
	}
	if because, err = h.authz.ExplainFor(ctx, caller, subject, req.Principal, perm, ref, ok, because); err != nil {
		return err
	}
	h.writeJSON(w, http.StatusOK, checkAnswer{Allowed: ok, Because: because}, "")
	return nil
}

func hiddenAnswer(explain bool) checkAnswer {
	if !explain {
		return checkAnswer{}
	}
	return checkAnswer{Because: &authz.Because{Reason: "No grant of yours reaches this resource."}}
}

// identityOf builds the identity a principal acts as, for checks about someone else:
// "user:<id>" is the user through their grants; "key:<id>" is the key with its own limits. When
// the principal cannot act at all (it does not exist, or the key has expired) it returns nil.
func (h *Handler) identityOf(r *http.Request, principal string) (*authn.Identity, error) {
	kind, id, ok := strings.Cut(principal, ":")
	if !ok || (kind != "user" && kind != "key") || !credential.ValidID(id) {
		return nil, badRequest(`principal must be written "user:<id>" or "key:<id>".`)
	}
	return h.resolver.Acting(r.Context(), principal)
}
