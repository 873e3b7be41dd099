package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/netip"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/ratelimit"
)

// The layers of the pipeline, in the order they run; a refusal names the first that refused
// (CONTRACT §11.28).
const (
	LayerCredential  = "credential"
	LayerCIDR        = "cidr"
	LayerScopedToken = "scoped_token"
	LayerGrant       = "grant"
	LayerWindow      = "window"
	LayerCredits     = "credits"
)

// Request is what the pipeline decides on: a credential, where it comes from, and what it
// asks to do.
type Request struct {
	// Header holds the credential, read through the configured sources, and any scoped
	// tokens. Token, when set, is the credential instead (verify's "token"), as a Bearer token.
	Header http.Header
	Token  string
	// ClientAddr is the end client's address, for a key's allowed_cidrs and the audit trail.
	ClientAddr netip.Addr

	// Resource is the "type/id" asked about, or "" for none; FromCredential, when set, is a
	// resource type: the resource is the credential's own of that type.
	Resource       string
	FromCredential string
	// Permission is what the request needs on Resource; PermNone with no resource asks only
	// for a valid credential. Admin asks for an admin credential instead.
	Permission config.Perms
	Admin      bool
	// Tokens are the exchange types whose scoped tokens must come with the request.
	Tokens []string
	// Plan names the plan that limits the request ("" for the credential's own); Cost is
	// what it spends.
	Plan string
	Cost int64
	// DryRun spends nothing; Explain asks for the explanation of a grant decision.
	DryRun  bool
	Explain bool

	// Identity, when set, is where the resolved identity is stored (the caller's own
	// storage); Check allocates one otherwise.
	Identity *authn.Identity
}

// Result is the pipeline's answer.
type Result struct {
	// Err is nil when the request is allowed; otherwise the refusal, for the one error writer
	// (an authn or authz error, store.ErrUnavailable, or a 400).
	Err error
	// Layer is the first layer that refused ("" when allowed, or for a malformed request).
	Layer string
	// Identity is the resolved credential (nil when the credential layer refused).
	Identity *authn.Identity
	// Resource is the resource the decision was about, Role the role of the grant that allowed
	// it ("" for none, and for admin credentials).
	Resource, Role string
	// Because explains a grant decision, when asked for.
	Because *authz.Because
	// Limit is the plan's decision (nil when nothing limits the request, or an earlier layer
	// refused): every window, and the credits, as they are after it.
	Limit *ratelimit.Decision
}

// ScopedTokens checks the scoped tokens a route needs (the layered-tokens mechanism). A nil
// ScopedTokens refuses every route that needs one.
type ScopedTokens interface {
	Check(ctx context.Context, id *authn.Identity, h http.Header, types []string, resource string) error
}

// ErrScopedTokenMissing: a route needs a scoped token the request does not carry (401).
var ErrScopedTokenMissing = &authn.RefusedError{Reason: authn.ReasonInvalid, Detail: "a scoped token this route needs is missing"}

// BadRequest is a request the pipeline cannot decide on (400).
type BadRequest struct{ Msg string }

func (e *BadRequest) Error() string { return e.Msg }

// Checker runs the one request pipeline: credential → client network → scoped tokens → grant
// → plan. The native API's router, the gateway, /v1/authz and /v1/verify all decide through
// it, so "who is this" and "may they" are answered in one place.
type Checker struct {
	Sources  *authn.Sources
	Resolver *authn.Resolver
	Authz    *authz.Authorizer
	Scoped   ScopedTokens
	// Limits is the plan and credits layer; nil: nothing is limited (the native API).
	Limits *Limits
	// Refused records a refused credential (aggregated in the audit trail and counted); nil
	// records nothing. token is the secret as presented (the recorder fingerprints it), or ""
	// when the credential was valid but refused later, then named by credName.
	Refused func(ip, token, credName, reason, detail string)
}

// Identify finds the credential in h (or takes token) and resolves it into *dst, then checks
// the client network: the first two layers of every request. dst is the caller's storage, so a
// request that keeps its identity in its own state allocates none here.
func (c *Checker) Identify(ctx context.Context, h http.Header, token string, addr netip.Addr, dst *authn.Identity) (string, error) {
	var p authn.Presented
	if token != "" {
		p = authn.Presented{Source: authn.SourceBearer, Token: token}
	} else {
		var err error
		if p, err = c.Sources.Extract(h); err != nil {
			return LayerCredential, err
		}
	}
	id, err := c.Resolver.Resolve(ctx, p)
	if err != nil {
		var ref *authn.RefusedError
		if errors.As(err, &ref) && c.Refused != nil {
			c.Refused(ipOf(addr), p.Token, "", ref.Reason, ref.Detail)
		}
		return LayerCredential, err
	}
	*dst = id
	if err := c.Authz.Network(dst, addr); err != nil {
		if c.Refused != nil {
			c.Refused(ipOf(addr), "", dst.CredentialName(), "network", "client address not allowed")
		}
		return LayerCIDR, err
	}
	return "", nil
}

// ipOf is addr as the audit trail writes it ("" when unknown).
func ipOf(addr netip.Addr) string {
	if !addr.IsValid() {
		return ""
	}
	return addr.String()
}

// Check runs the whole pipeline for r.
func (c *Checker) Check(ctx context.Context, r *Request) Result {
	id := r.Identity
	if id == nil {
		id = new(authn.Identity)
	}
	layer, err := c.Identify(ctx, r.Header, r.Token, r.ClientAddr, id)
	if err != nil {
		res := Result{Err: err, Layer: layer}
		if layer != LayerCredential {
			res.Identity = id
		}
		if errors.Is(err, authn.ErrNoCredential) || isMalformed(err) {
			res.Layer = LayerCredential
		}
		return res
	}
	res := Result{Identity: id}
	resource := r.Resource
	if resource == "" && r.FromCredential != "" {
		ref, err := c.Authz.CredentialResource(ctx, id, r.FromCredential)
		if err != nil {
			if errors.Is(err, authz.ErrSeveralResources) {
				return Result{Identity: id, Err: &BadRequest{Msg: "The credential is granted several resources of type " + r.FromCredential + "; name one."}}
			}
			res.Err, res.Layer = err, LayerGrant
			return res
		}
		resource = ref
	}
	res.Resource = resource
	if len(r.Tokens) > 0 {
		if c.Scoped == nil {
			res.Err, res.Layer = ErrScopedTokenMissing, LayerScopedToken
			return res
		}
		if err := c.Scoped.Check(ctx, id, r.Header, r.Tokens, resource); err != nil {
			res.Err, res.Layer = err, LayerScopedToken
			return res
		}
	}
	switch {
	case r.Admin:
		if !id.Admin() {
			res.Err, res.Layer = authz.ErrForbidden, LayerGrant
			return res
		}
	case resource != "" && r.Permission != config.PermNone:
		if r.Explain {
			ok, because, err := c.Authz.Explain(ctx, id, r.Permission, resource)
			if err != nil {
				res.Err = err
				return res
			}
			res.Because = because
			if ok {
				if because != nil && because.Grant != nil {
					res.Role = because.Grant.Role
				}
				break
			}
		}
		role, err := c.Authz.Allows(ctx, id, r.Permission, resource)
		if err != nil {
			res.Err = err
			if errors.Is(err, authz.ErrForbidden) || errors.Is(err, authz.ErrHidden) {
				res.Layer = LayerGrant
			}
			if errors.Is(err, authz.ErrForbidden) && c.Limits != nil {
				// A route's answers all carry its limits, a 403 too (the caller may read the
				// resource, so its plan is no secret); a 404 says nothing about it.
				res.Limit, _ = c.Limits.Spend(ctx, id, resource, r.Plan, 0, true)
			}
			return res
		}
		res.Role = role
	}
	if c.Limits != nil {
		d, err := c.Limits.Spend(ctx, id, resource, r.Plan, r.Cost, r.DryRun)
		res.Limit = d
		if err != nil {
			res.Err = err
			var le *LimitError
			if errors.As(err, &le) {
				res.Layer = LayerWindow
				if le.Decision.Refused == ratelimit.RefusedCredits {
					res.Layer = LayerCredits
				}
			}
			return res
		}
	}
	return res
}

func isMalformed(err error) bool {
	var m *authn.MalformedError
	return errors.As(err, &m)
}

// ValidRef reports whether ref is "type/id" with a type of schema and a valid id.
func ValidRef(schema config.Schema, ref string) bool {
	typ, id, ok := authz.ParseRef(ref)
	return ok && schema.Has(typ) && credential.ValidID(id)
}
