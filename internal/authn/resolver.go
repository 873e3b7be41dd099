package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Credential types as /v1/me reports them.
const (
	TypeKey       = "key"
	TypePersonal  = "personal"
	TypeAdmin     = "admin"
	TypeBootstrap = "bootstrap"
	// TypeSession is a console session: a person signed in with a password. It never
	// authenticates the native API over HTTP; the console acts through api.Handler.ServeAs.
	TypeSession = "session"
)

// Identity is a resolved credential: who the caller is and with what.
type Identity struct {
	// Type is TypeKey, TypePersonal, TypeAdmin or TypeBootstrap.
	Type string
	// ID is the credential's id: the key id, the token id, or "bootstrap".
	ID string
	// UserID is the user the credential acts for; empty for a business key and the bootstrap
	// token.
	UserID string
	// Key is the key's record for key credentials (shared: read only).
	Key *store.Key
	// Source is the kind of source the credential came from.
	Source string
	// SessionAdmin gives a console session of an admin user admin power (CONTRACT §11.34: it
	// took the password, and lasts at most 12 hours).
	SessionAdmin bool
	// principal caches Principal() when the resolver knew it already.
	principal string
	// counted reports that Resolve counted this key's request in the hour usedHour (unix
	// seconds of its start), where CountRefusal counts a refusal of it.
	counted  bool
	usedHour int64
}

// Principal is the principal the credential acts as: "user:<id>" for personal credentials,
// "key:<id>" for a business key, "" for the bootstrap token.
func (id *Identity) Principal() string {
	if id.principal != "" {
		return id.principal
	}
	switch {
	case id.UserID != "":
		return "user:" + id.UserID
	case id.Type == TypeKey:
		return "key:" + id.ID
	}
	return ""
}

// Admin reports whether the credential carries admin power. Only admin tokens and the bootstrap
// token do: a user's personal tokens and keys act through the user's grants alone.
func (id *Identity) Admin() bool {
	return id.Type == TypeAdmin || id.Type == TypeBootstrap || (id.Type == TypeSession && id.SessionAdmin)
}

// CredentialName is "<type>:<id>", the audit trail's name of the credential.
func (id *Identity) CredentialName() string { return id.Type + ":" + id.ID }

// Why a credential was refused. They are the verify codes of the contract.
const (
	ReasonInvalid = "invalid_token"
	ReasonExpired = "expired"
	ReasonRevoked = "revoked"
)

// RefusedError says a presented credential is not valid.
type RefusedError struct {
	// Reason is ReasonInvalid, ReasonExpired or ReasonRevoked.
	Reason string
	// Detail is a short, non-secret explanation for logs and the audit trail.
	Detail string
	// Public, when set, is the sentence the client is told instead of the generic one (it
	// names what the request lacks, never what a credential is).
	Public string
}

func (e *RefusedError) Error() string { return "credential refused: " + e.Detail }

var (
	errTooLong     = &RefusedError{Reason: ReasonInvalid, Detail: "too long"}
	errBadFormat   = &RefusedError{Reason: ReasonInvalid, Detail: "not a token this server issues"}
	errBadChecksum = &RefusedError{Reason: ReasonInvalid, Detail: "bad checksum"}
	errUnknown     = &RefusedError{Reason: ReasonInvalid, Detail: "unknown or revoked"}
	errWrongUse    = &RefusedError{Reason: ReasonInvalid, Detail: "presented the wrong way"}
	errExpired     = &RefusedError{Reason: ReasonExpired, Detail: "expired"}
	errRevoked     = &RefusedError{Reason: ReasonRevoked, Detail: "revoked"}
)

// Prefixes are the configured token prefixes by kind.
type Prefixes struct {
	Key, Secret, Personal, Admin, Bootstrap string
	// Scoped starts scoped tokens, which are never a credential by themselves.
	Scoped string
}

// Resolver turns a presented credential into an Identity. It is the one place lanyard decides
// who a caller is; every entry point uses it. Give it a cached store (internal/cache) so that a
// known credential touches no database.
//
// It also keeps what the store learns of keys' use, in memory, for FlushUsage to write in one
// batch: each key's last use, and its requests and refusals per UTC hour. Every request whose
// credential resolves to a key counts as one request of the key (the same event that sets its
// last use); CountRefusal adds a refusal when lanyard then refuses the request.
type Resolver struct {
	store    store.Store
	prefixes Prefixes
	now      func() time.Time

	mu sync.Mutex
	// used is each key's last use and its counts in its latest hour: one entry per key used
	// since the last flush, so it holds no more entries than there are keys. An entry is
	// changed in place, under mu: one map lookup per request.
	used map[string]*keyUse
	// ended are counts waiting for the next flush besides used's: of an hour a key's entry
	// left, of a request resolved in an earlier hour than its key's entry holds, of a batch
	// the store refused. At most maxEnded; dropped counts the requests and refusals that found
	// it full.
	ended   []store.UsageHour
	dropped int64
}

// keyUse is a key's use since the last flush: its last use (unix nanoseconds; 0 when only a
// refusal was counted) and its requests and refusals in the hour that started at hour (unix
// seconds).
type keyUse struct {
	last, hour         int64
	requests, refusals int64
}

// maxEnded bounds the counts waiting beside the keys' entries. A flush empties them; only a
// store that refuses batch after batch for many hours, with many keys in use, fills them.
const maxEnded = 1 << 16

// NewResolver returns a Resolver over s. now is the clock (time.Now when nil).
func NewResolver(s store.Store, p Prefixes, now func() time.Time) *Resolver {
	if now == nil {
		now = time.Now
	}
	return &Resolver{store: s, prefixes: p, now: now, used: make(map[string]*keyUse)}
}

// Resolve checks p and returns the identity it proves. A credential that is not valid yields a
// *RefusedError; a store that cannot answer yields an error wrapping store.ErrUnavailable (or
// another store error). Checksums are checked before any lookup.
func (r *Resolver) Resolve(ctx context.Context, p Presented) (Identity, error) {
	tok := p.Token
	basic := p.Source == SourceBasic
	if err := r.prefixes.CheckShape(tok, basic); err != nil {
		return Identity{}, err
	}
	res, err := r.store.Resolve(ctx, credential.Hash(tok))
	if err != nil {
		switch {
		case errors.Is(err, store.ErrRevoked):
			return Identity{}, errRevoked
		case errors.Is(err, store.ErrNotFound):
			return Identity{}, errUnknown
		}
		return Identity{}, err
	}
	now := r.now()
	s := res.Secret
	if s.ExpiresAt != nil && !now.Before(*s.ExpiresAt) {
		return Identity{}, errExpired
	}
	var id Identity
	switch s.Kind {
	case store.KindKeyToken, store.KindKeySecret:
		k := res.Key
		if k == nil || (s.Kind == store.KindKeySecret) != basic || (basic && k.ID != p.KeyID) {
			return Identity{}, errUnknown
		}
		if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
			return Identity{}, errExpired
		}
		id = Identity{Type: TypeKey, ID: k.ID, UserID: k.Owner, Key: k, Source: p.Source, counted: true}
		id.usedHour = r.touch(k.ID, now)
	case store.KindPersonal:
		id = Identity{Type: TypePersonal, ID: s.ID, UserID: s.UserID, Source: p.Source}
	case store.KindAdmin:
		id = Identity{Type: TypeAdmin, ID: s.ID, UserID: s.UserID, Source: p.Source}
	case store.KindBootstrap:
		id = Identity{Type: TypeBootstrap, ID: "bootstrap", Source: p.Source}
	default:
		return Identity{}, errUnknown
	}
	if basic && id.Type != TypeKey {
		return Identity{}, errWrongUse
	}
	id.principal = res.Principal
	return id, nil
}

// CheckShape returns the *RefusedError the resolver gives tok before any lookup, or nil when
// tok is worth looking up; basic says it came as the secret of a Basic credential. It needs no
// store, so `lanyard serve` also uses it to refuse a LANYARD_BOOTSTRAP_TOKEN that could never
// be presented.
func (p Prefixes) CheckShape(tok string, basic bool) error {
	if len(tok) > MaxTokenLen {
		return errTooLong
	}
	prefix, formatted := credential.Parse(tok)
	switch {
	case formatted:
		if basic != (prefix == p.Secret) {
			return errWrongUse // a secret alone, or a token as a Basic secret
		}
		if !p.known(prefix) {
			return errBadFormat
		}
	case basic:
		return errBadFormat
	case LooksFormatted(tok):
		// The shape of a lanyard token whose checksum does not match: a typo or a forgery,
		// refused before any lookup.
		return errBadChecksum
	case len(tok) < 32:
		// Only an operator-chosen bootstrap token may have another shape, and it has at least
		// 32 characters.
		return errBadFormat
	}
	return nil
}

func (p Prefixes) known(prefix string) bool {
	switch prefix {
	case p.Key, p.Secret, p.Personal, p.Admin, p.Bootstrap:
		return prefix != ""
	}
	return false
}

// LooksFormatted reports whether tok has the shape of a lanyard token (a short lower-case
// prefix, '_', and 33 base62 characters) whatever its checksum. Such a token whose checksum
// does not match is a typo or a forgery and never worth a lookup.
func LooksFormatted(tok string) bool {
	const body = credential.RandomLen + credential.ChecksumLen
	i := 0
	for i < len(tok) && i <= 16 && (tok[i] >= 'a' && tok[i] <= 'z' || tok[i] >= '0' && tok[i] <= '9') {
		i++
	}
	if i == 0 || i > 16 || i >= len(tok) || tok[i] != '_' || len(tok)-i-1 != body {
		return false
	}
	for j := i + 1; j < len(tok); j++ {
		c := tok[j]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// hourOf is the start of the UTC hour t falls in, in unix seconds.
func hourOf(t time.Time) int64 {
	s := t.Unix()
	return s - (s%3600+3600)%3600
}

// touch records a use of the key at now, as its last use and one request of now's hour, and
// returns that hour. A key's entry in used is reused from one request to the next: no
// allocation but the first of each key after a flush.
func (r *Resolver) touch(keyID string, now time.Time) int64 {
	at, hour := now.UnixNano(), hourOf(now)
	r.mu.Lock()
	u := r.used[keyID]
	if u == nil {
		u = new(keyUse)
		r.used[keyID] = u
	}
	switch {
	case hour > u.hour:
		// A new hour: the entry's last one waits for the flush apart.
		r.keepEnded(keyID, u.hour, u.requests, u.refusals)
		u.hour, u.requests, u.refusals = hour, 0, 0
		u.requests++
	case hour == u.hour:
		u.requests++
	default:
		// Resolved just before the hour turned, counted just after another request of the
		// new one.
		r.keepEnded(keyID, hour, 1, 0)
	}
	u.last = max(u.last, at)
	r.mu.Unlock()
	return hour
}

// CountRefusal counts id's request as refused, in the hour Resolve counted it in. An identity
// Resolve did not make for a key (another credential, a console session, Acting's) counts
// nothing. Call it once per refused request, once its refusal is certain.
func (r *Resolver) CountRefusal(id *Identity) {
	if id == nil || id.Type != TypeKey || !id.counted {
		return
	}
	r.mu.Lock()
	u := r.used[id.ID]
	switch {
	case u == nil:
		// Flushed since the request was counted.
		r.used[id.ID] = &keyUse{hour: id.usedHour, refusals: 1}
	case u.hour == id.usedHour:
		u.refusals++
	default:
		r.keepEnded(id.ID, id.usedHour, 0, 1)
	}
	r.mu.Unlock()
}

// keepEnded adds counts of a key's hour to those waiting for the next flush, or to dropped
// when they are full. r.mu is held.
func (r *Resolver) keepEnded(keyID string, hour, requests, refusals int64) {
	switch {
	case requests == 0 && refusals == 0:
	case len(r.ended) >= maxEnded:
		r.dropped += requests + refusals
	default:
		r.ended = append(r.ended, store.UsageHour{KeyID: keyID, Hour: time.Unix(hour, 0).UTC(), Requests: requests, Refusals: refusals})
	}
}

// FlushUsage writes what the resolver kept of keys' use to the store: last use times in one
// batch (store.Store.TouchKeys), hourly requests and refusals in another (AddUsage). What the
// store refuses is kept for the next flush.
func (r *Resolver) FlushUsage(ctx context.Context) error {
	r.mu.Lock()
	if len(r.used) == 0 && len(r.ended) == 0 && r.dropped == 0 {
		r.mu.Unlock()
		return nil
	}
	used, hours, dropped := r.used, r.ended, r.dropped
	r.used, r.ended, r.dropped = make(map[string]*keyUse, len(used)), nil, 0
	r.mu.Unlock()
	last := make(map[string]time.Time, len(used))
	for id, u := range used {
		if u.last != 0 {
			last[id] = time.Unix(0, u.last).UTC()
		}
		if u.requests != 0 || u.refusals != 0 {
			hours = append(hours, store.UsageHour{KeyID: id, Hour: time.Unix(u.hour, 0).UTC(), Requests: u.requests, Refusals: u.refusals})
		}
	}
	var errs []error
	if err := r.store.TouchKeys(ctx, last); err != nil {
		errs = append(errs, err)
		r.mu.Lock()
		for id, at := range last { // keep them for the next flush
			if u := r.used[id]; u != nil {
				u.last = max(u.last, at.UnixNano())
			} else {
				r.used[id] = &keyUse{last: at.UnixNano()}
			}
		}
		r.mu.Unlock()
	}
	if err := r.store.AddUsage(ctx, hours); err != nil {
		errs = append(errs, err)
		r.mu.Lock()
		for _, h := range hours {
			r.keepEnded(h.KeyID, h.Hour.Unix(), h.Requests, h.Refusals)
		}
		r.mu.Unlock()
	}
	if dropped > 0 {
		errs = append(errs, fmt.Errorf("authn: %d requests and refusals of keys were not counted: the store refused batch after batch", dropped))
	}
	return errors.Join(errs...)
}

// RunUsageFlusher flushes keys' use (FlushUsage) every interval until ctx ends, then once more with
// flushCtx (which should outlive ctx briefly, for a graceful shutdown).
func (r *Resolver) RunUsageFlusher(ctx, flushCtx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := r.FlushUsage(flushCtx); err != nil && onErr != nil {
				onErr(err)
			}
			return
		case <-t.C:
			// A flush cut short by the stop is no failure: its batch is kept, and the
			// last flush below writes it.
			if err := r.FlushUsage(ctx); err != nil && onErr != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}

// Named returns what a token names when it is presented alone, as a leaked-token revocation
// (RFC 7009) presents it: the checks Resolve makes before any lookup (length, prefix,
// checksum; a key+secret's secret counts as presented with its key), the same lookup, and
// the same expiry rule for the secret — a secret that no longer works by itself (an old secret
// past its reissue grace, an expired personal token) names nothing. Whatever names nothing
// yields a *RefusedError.
func (r *Resolver) Named(ctx context.Context, tok string) (store.Resolved, error) {
	prefix, _ := credential.Parse(tok)
	if err := r.prefixes.CheckShape(tok, prefix != "" && prefix == r.prefixes.Secret); err != nil {
		return store.Resolved{}, err
	}
	res, err := r.store.Resolve(ctx, credential.Hash(tok))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Resolved{}, errUnknown
		}
		return store.Resolved{}, err
	}
	if s := res.Secret; s.ExpiresAt != nil && !r.now().Before(*s.ExpiresAt) {
		return store.Resolved{}, errExpired
	}
	return res, nil
}

// Acting returns the identity a principal ("user:<id>" or "key:<id>") acts with when no
// credential of its is presented — the subject of a check about someone else: a user through
// their grants, a key with its own limits, exactly as Resolve would give them. It returns nil
// when the principal cannot act at all (it does not exist, or the key has expired).
func (r *Resolver) Acting(ctx context.Context, principal string) (*Identity, error) {
	kind, id, _ := strings.Cut(principal, ":")
	switch kind {
	case "user":
		if _, err := r.store.GetUser(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			return nil, err
		}
		return &Identity{Type: TypePersonal, ID: "check", UserID: id, principal: principal}, nil
	case "key":
		k, err := r.store.GetKey(ctx, id)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			return nil, err
		}
		if k.ExpiresAt != nil && !r.now().Before(*k.ExpiresAt) {
			return nil, nil
		}
		ident := &Identity{Type: TypeKey, ID: k.ID, UserID: k.Owner, Key: &k}
		ident.principal = store.PrincipalOf(store.Resolved{Key: &k})
		return ident, nil
	}
	return nil, nil
}
