package api

import (
	"errors"
	"net/http"
	"net/netip"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/gateway"
	"github.com/lanyardhq/lanyard/internal/store"
)

type verifyRequest struct {
	Token      *string           `json:"token"`
	Headers    map[string]string `json:"headers"`
	Resource   *string           `json:"resource"`
	Permission *string           `json:"permission"`
	ClientIP   *string           `json:"client_ip"`
	DryRun     bool              `json:"dry_run"`
	Explain    bool              `json:"explain"`
}

// verifyAnswer is /v1/verify's answer (CONTRACT §5, §11.28): every field present, null when
// unset; because only with explain.
type verifyAnswer struct {
	Valid     bool           `json:"valid"`
	Code      *string        `json:"code"`
	Principal *string        `json:"principal"`
	KeyID     *string        `json:"key_id"`
	Resource  *string        `json:"resource"`
	Role      *string        `json:"role"`
	RateLimit any            `json:"ratelimit"`
	Because   *verifyBecause `json:"because,omitempty"`
}

type verifyBecause struct {
	Layer  *string          `json:"layer"`
	Reason string           `json:"reason"`
	Grant  *authz.GrantJSON `json:"grant"`
	Path   []string         `json:"path"`
	Window any              `json:"window"`
}

// Verify codes.
const (
	codeInvalidToken = "invalid_token"
	codeExpired      = "expired"
	codeRevoked      = "revoked"
	codeForbidden    = "forbidden"
)

// verify answers "is this credential valid, and may it do this?" for services and proxies that
// keep their own routing. It is always 200 for a well-formed request; the credential comes in
// token (as a Bearer token would) or in headers (read through the configured sources), never
// both and never neither. It runs the same pipeline as the gateway.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	var req verifyRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	pr := &gateway.Request{DryRun: req.DryRun, Explain: req.Explain, Cost: 1}
	hasToken := req.Token != nil && *req.Token != ""
	if req.Headers != nil {
		if len(req.Headers) > maxMembers {
			return badRequest("headers may hold at most %d entries.", maxMembers)
		}
		hdr := make(http.Header, len(req.Headers))
		for k, v := range req.Headers {
			if !isToken(k) {
				return badRequest("headers: %q is not a header name.", k)
			}
			hdr.Set(k, v)
		}
		if _, err := h.sources.Extract(hdr); err == nil {
			if hasToken {
				return badRequest("Give the credential in token or in headers, not both.")
			}
			pr.Header = hdr
		} else if !errors.Is(err, authn.ErrNoCredential) {
			return badRequest("headers: %s.", err.Error())
		}
	}
	if hasToken {
		pr.Token = *req.Token
	} else if pr.Header == nil {
		return badRequest("Give the credential to verify in token or in headers.")
	}
	if req.Resource != nil && *req.Resource != "" {
		ref, err := h.parseRef("resource", *req.Resource)
		if err != nil {
			return err
		}
		pr.Resource, pr.Permission = ref, config.PermRead
	}
	if req.Permission != nil {
		perm, ok := config.ParsePermission(*req.Permission)
		if !ok || perm == config.PermNone {
			return badRequest(`permission must be "read", "write" or "manage".`)
		}
		if pr.Resource == "" {
			return badRequest("A permission is checked on a resource: name one.")
		}
		pr.Permission = perm
	}
	pr.ClientAddr = h.clientAddr(r)
	if req.ClientIP != nil {
		a, err := netip.ParseAddr(*req.ClientIP)
		if err != nil || a.Zone() != "" {
			return badRequest("client_ip must be an IP address such as 203.0.113.7.")
		}
		pr.ClientAddr = a.Unmap()
	}
	if h.exchange != nil && pr.Header != nil && pr.Resource != "" {
		// Scoped tokens in headers are checked like a route that needs them (CONTRACT §6).
		pr.Tokens = h.exchange.Present(pr.Header)
	}
	res := h.decide(r.Context(), "verify", pr)
	if st := stateFrom(r.Context()); st != nil && res.Identity != nil {
		st.identity = res.Identity
		if res.Err != nil && res.Layer != "" {
			refuse(r) // answered 200 with valid: false, a refusal all the same
		}
	}
	ans, err := verifyAnswerOf(pr, res)
	if err != nil {
		return err
	}
	h.writeJSON(w, http.StatusOK, ans, "")
	return nil
}

// verifyAnswerOf shapes the pipeline's result as /v1/verify answers it. A store that cannot
// answer is no verdict: it is returned as the error it is (503).
func verifyAnswerOf(pr *gateway.Request, res gateway.Result) (verifyAnswer, error) {
	var ans verifyAnswer
	if res.Err != nil {
		code, known := verifyCode(res.Err)
		if !known {
			return ans, pipelineError(res.Err)
		}
		ans.Code = &code
	} else {
		ans.Valid = true
	}
	if res.Layer != gateway.LayerCredential && res.Identity != nil {
		// An unknown, expired or revoked credential never reveals its owner.
		id := res.Identity
		if p := id.Principal(); p != "" {
			ans.Principal = &p
		}
		if id.Type == authn.TypeKey {
			k := id.ID
			ans.KeyID = &k
		}
		ans.Resource = nullable(pr.Resource)
		if res.Err == nil {
			ans.Role = nullable(res.Role)
		}
	}
	if d := res.Limit; d != nil {
		if w, ok := d.Nearest(); ok {
			ans.RateLimit = w
		}
	}
	if pr.Explain {
		b := &verifyBecause{Reason: "The credential is valid."}
		if d := res.Limit; d != nil && d.Window >= 0 && d.Window < len(d.Windows) {
			b.Window = d.Windows[d.Window]
		}
		if pr.Resource != "" && res.Err == nil {
			b.Reason = "The credential may " + pr.Permission.String() + " " + pr.Resource + "."
		}
		if res.Err != nil {
			layer := res.Layer
			b.Layer = &layer
			b.Reason = refusalReason(res)
		}
		if res.Because != nil {
			b.Grant, b.Path = res.Because.Grant, res.Because.Path
			if res.Because.Reason != "" && (res.Err == nil || res.Layer == gateway.LayerGrant) {
				b.Reason = res.Because.Reason
			}
		}
		ans.Because = b
	}
	return ans, nil
}

// verifyCode is the verify code of a refusal, and whether the refusal is a verdict at all.
func verifyCode(err error) (string, bool) {
	var ref *authn.RefusedError
	switch {
	case errors.As(err, &ref):
		switch ref.Reason {
		case authn.ReasonExpired:
			return codeExpired, true
		case authn.ReasonRevoked:
			return codeRevoked, true
		}
		return codeInvalidToken, true
	case errors.Is(err, authz.ErrForbidden), errors.Is(err, authz.ErrHidden):
		return codeForbidden, true
	}
	var le *gateway.LimitError
	if errors.As(err, &le) {
		return string(le.Decision.Refused), true
	}
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return "", false
	}
	var br *gateway.BadRequest
	if errors.As(err, &br) {
		return "", false
	}
	return "", false
}

// refusalReason says, in a sentence, why the pipeline refused.
func refusalReason(res gateway.Result) string {
	var ref *authn.RefusedError
	var fb *authz.Forbidden
	switch {
	case errors.As(res.Err, &ref) && ref.Reason == authn.ReasonExpired:
		return "The credential has expired."
	case errors.As(res.Err, &ref) && ref.Reason == authn.ReasonRevoked:
		return "The credential was revoked."
	case errors.As(res.Err, &ref):
		return "The credential is not valid: " + ref.Detail + "."
	case errors.As(res.Err, &fb):
		return fb.Reason
	case errors.Is(res.Err, authz.ErrHidden), errors.Is(res.Err, authz.ErrForbidden):
		return "No grant of the credential allows this."
	case res.Layer == gateway.LayerWindow:
		return "A rate-limit window of the credential's plan is spent."
	case res.Layer == gateway.LayerCredits:
		return "The key's credits are spent."
	}
	return "The request is not allowed."
}
