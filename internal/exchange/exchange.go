// Package exchange issues and checks scoped tokens: the layered tokens of CONTRACT §6. A
// credential that may read a resource of an exchangeable type gets, at the type's authorize
// path, a token for that one resource; a child type's token also needs the parent type's token,
// bound to the same credential and for the resource's actual parent. Every later request
// carries the credential and each token of its chain in the token's own header.
//
// # Stored tokens, not signed ones
//
// A scoped token could be self-contained (the resource, the credential, the parent and the
// expiry, HMAC-signed under a rotating server key, checked against a revocation list) or stored
// (a random token whose hash names a row). lanyard stores them:
//
//   - The contract's token format (§11.9: a prefix, 27 random base62 characters, a checksum) has
//     no room for a signed payload; a signed token would be a second format for scanners.
//   - Verification is as fast either way: a stored token is resolved by hash from the same
//     in-process cache as credentials, touching no store on a hit (a signature would cost an
//     HMAC plus a revocation-list lookup on every request).
//   - Revocation is immediate and exact: deleting a token deletes its subtree in one
//     transaction and the cache forgets it at once, where a signed tree needs every revoked
//     node in a list replicated to every node until its children expire.
//   - Nodes stay stateless: the rows live in the shared store, like every credential.
//
// The cost is one write per token issued, the same as a login.
//
// # Rules at use
//
// A token is valid only together with the credential that obtained it (same credential name:
// a reissued key keeps its tokens), only for its resource and what lies below it, only until it
// expires, and only while its parent token exists; revoking a token revokes its subtree, and a
// token whose credential is revoked can never be presented with it again. The grant behind it is
// checked at every use (the route's permission on the resource), so removing the grant ends the
// token's use at once. A missing or unknown token is 401; one for another resource, another
// type or another credential is 403.
package exchange

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Store is what scoped tokens need of the store (a cache.Store in the server).
type Store interface {
	CreateScopedToken(ctx context.Context, t store.ScopedToken, ev store.Event) error
	ResolveScoped(ctx context.Context, hash store.Hash) (store.ScopedToken, error)
	DeleteScopedToken(ctx context.Context, id string, ev store.Event) (store.Revoked, error)
}

// Refusals of scoped tokens.
var (
	ErrMissing  = &authn.RefusedError{Reason: authn.ReasonInvalid, Detail: "a scoped token this request needs is missing"}
	ErrInvalid  = &authn.RefusedError{Reason: authn.ReasonInvalid, Detail: "the scoped token is not valid", Public: "A scoped token of the request is not valid."}
	ErrExpired  = &authn.RefusedError{Reason: authn.ReasonExpired, Detail: "the scoped token has expired", Public: "A scoped token of the request has expired."}
	ErrWrongFor = &authz.Forbidden{Reason: "The scoped token is for another resource, another type or another credential."}
	ErrNoType   = errors.New("exchange: not an exchangeable type")
)

// IsMissing reports whether err is the refusal of a request that lacks a scoped token.
func IsMissing(err error) bool { return errors.Is(err, ErrMissing) }

// missing is ErrMissing for one request: the same refusal, with a message naming the token and
// the header it goes in. errors.Is matches it to ErrMissing, errors.As to its RefusedError.
type missing struct{ authn.RefusedError }

func (m *missing) Unwrap() error        { return &m.RefusedError }
func (m *missing) Is(target error) bool { return target == ErrMissing }

// Service issues, checks and revokes scoped tokens.
type Service struct {
	store  Store
	authz  *authz.Authorizer
	types  map[string]config.Exchange
	prefix string
	now    func() time.Time
}

// New returns the service for the config's exchangeable types.
func New(s Store, a *authz.Authorizer, types map[string]config.Exchange, prefix string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, authz: a, types: types, prefix: prefix, now: now}
}

// Types are the exchangeable types.
func (s *Service) Types() map[string]config.Exchange { return s.types }

// Headers lists the headers scoped tokens come in.
func (s *Service) Headers() []string {
	out := make([]string, 0, len(s.types))
	for _, t := range s.types {
		out = append(out, t.Header)
	}
	return out
}

// Issued is a new scoped token: the token itself (shown once) and its row.
type Issued struct {
	Token string
	store.ScopedToken
	TTL time.Duration
}

// Issue gives the credential id a token of type typ for the resource typ/resourceID, when it
// may read that resource; h holds the parent type's token when typ requires one. ev is the
// audit event (its Target is filled in).
func (s *Service) Issue(ctx context.Context, id *authn.Identity, typ, resourceID string, h http.Header, ev store.Event) (Issued, error) {
	x, ok := s.types[typ]
	if !ok {
		return Issued{}, ErrNoType
	}
	ref := typ + "/" + resourceID
	if err := s.authz.Require(ctx, id, config.PermRead, ref); err != nil {
		return Issued{}, err
	}
	var parent store.ScopedToken
	if x.Requires != "" {
		var err error
		if parent, err = s.presented(ctx, id, h, x.Requires); err != nil {
			return Issued{}, err
		}
		res, err := s.authz.Resource(ctx, ref)
		if err != nil {
			return Issued{}, err
		}
		if res.Parent != parent.Resource {
			return Issued{}, ErrWrongFor // the parent's token must be for this resource's actual parent
		}
	}
	tok, err := credential.Generate(s.prefix)
	if err != nil {
		return Issued{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	ttl := x.TTL
	if ttl <= 0 {
		ttl = config.DefaultExchangeTTL
	}
	t := store.ScopedToken{ID: credential.NewID(), Hash: credential.Hash(tok), Type: typ, Resource: ref,
		Credential: id.CredentialName(), Parent: parent.ID, ExpiresAt: now.Add(ttl), CreatedAt: now}
	ev.Target, ev.Resource = "scoped:"+t.ID, ref
	if err := s.store.CreateScopedToken(ctx, t, ev); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Issued{}, ErrInvalid // the parent was revoked meanwhile
		}
		return Issued{}, err
	}
	return Issued{Token: tok, ScopedToken: t, TTL: ttl}, nil
}

// presented resolves the token of type typ that h carries for the credential id.
func (s *Service) presented(ctx context.Context, id *authn.Identity, h http.Header, typ string) (store.ScopedToken, error) {
	x, ok := s.types[typ]
	if !ok {
		return store.ScopedToken{}, ErrNoType
	}
	v := h.Get(x.Header)
	if v == "" {
		return store.ScopedToken{}, &missing{authn.RefusedError{Reason: ErrMissing.Reason, Detail: ErrMissing.Detail,
			Public: "This request needs the " + typ + " token in " + x.Header + "."}}
	}
	return s.resolve(ctx, id, v, typ)
}

// lookup finds the stored token tok: ErrInvalid when it is not shaped like one of this
// service's tokens or is not stored.
func (s *Service) lookup(ctx context.Context, tok string) (store.ScopedToken, error) {
	if prefix, ok := credential.Parse(tok); !ok || prefix != s.prefix || len(tok) > authn.MaxTokenLen {
		return store.ScopedToken{}, ErrInvalid
	}
	t, err := s.store.ResolveScoped(ctx, credential.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return store.ScopedToken{}, ErrInvalid
	}
	return t, err
}

// resolve checks one presented token: shape, existence, expiry, type and credential.
func (s *Service) resolve(ctx context.Context, id *authn.Identity, tok, typ string) (store.ScopedToken, error) {
	t, err := s.lookup(ctx, tok)
	if err != nil {
		return store.ScopedToken{}, err
	}
	if !s.now().Before(t.ExpiresAt) {
		return store.ScopedToken{}, ErrExpired
	}
	if t.Type != typ || t.Credential != id.CredentialName() {
		return store.ScopedToken{}, ErrWrongFor
	}
	return t, nil
}

// Check is the pipeline's scoped-token layer (gateway.ScopedTokens): h must carry a token of
// every type in types, each bound to id, each for resource or an ancestor of it, each child
// obtained with the presented token of its parent type.
func (s *Service) Check(ctx context.Context, id *authn.Identity, h http.Header, types []string, resource string) error {
	var got [8]store.ScopedToken
	toks := got[:0]
	for _, typ := range types {
		t, err := s.presented(ctx, id, h, typ)
		if err != nil {
			return err
		}
		within, err := s.authz.Within(ctx, resource, t.Resource)
		if err != nil {
			return err
		}
		if !within {
			return ErrWrongFor
		}
		toks = append(toks, t)
	}
	for _, t := range toks {
		req := s.types[t.Type].Requires
		if req == "" {
			continue
		}
		for _, p := range toks {
			if p.Type == req && p.ID != t.Parent {
				return ErrWrongFor // the child was obtained with another token of its parent type
			}
		}
	}
	return nil
}

// Present reports which of the exchangeable types h carries a token for.
func (s *Service) Present(h http.Header) []string {
	var out []string
	for typ, x := range s.types {
		if h.Get(x.Header) != "" {
			out = append(out, typ)
		}
	}
	return out
}

// Revoke revokes the scoped token tok and its subtree for its holder, the credential id (a
// token bound to another credential: ErrWrongFor).
func (s *Service) Revoke(ctx context.Context, id *authn.Identity, tok string, ev store.Event) error {
	t, err := s.lookup(ctx, tok)
	if err != nil {
		return err
	}
	if id != nil && t.Credential != id.CredentialName() {
		return ErrWrongFor
	}
	ev.Target, ev.Resource = "scoped:"+t.ID, t.Resource
	_, err = s.store.DeleteScopedToken(ctx, t.ID, ev)
	if errors.Is(err, store.ErrNotFound) {
		return nil // revoked meanwhile: the same outcome
	}
	return err
}

// RevokeLeaked revokes a scoped token that anyone presents alone (RFC 7009): whoever holds it
// may end it. It reports whether tok named a live scoped token.
func (s *Service) RevokeLeaked(ctx context.Context, tok string, ev store.Event) (bool, error) {
	err := s.Revoke(ctx, nil, tok, ev)
	if errors.Is(err, ErrInvalid) {
		return false, nil
	}
	return err == nil, err
}
