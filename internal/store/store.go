// Package store defines lanyard's domain records and the one interface every storage backend
// implements: a set of domain operations, each of which is atomic. A change that touches several
// rows (revoke all keys of an owner, delete a user with everything it owns, reissue a key) is a
// single method and a single transaction, and every method that changes something writes the
// audit event it is given in that same transaction.
//
// Stores hold no policy: they never decide who may do what. They map their driver's errors to the
// sentinels below at the boundary, so callers test them with errors.Is.
//
// Backends live in sub-packages (sqlite, postgres) and must all pass storetest, the one
// conformance suite.
package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Sentinel errors. Backends wrap them with %w.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a record with the same unique id (or email) already exists.
	ErrConflict = errors.New("store: already exists")
	// ErrUnavailable: the backing database cannot be reached.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrInvalid: the change would break an invariant of the data (a resource moved under
	// itself or one of its descendants; a bulk delete without a filter).
	ErrInvalid = errors.New("store: invalid change")
	// ErrRevoked: a secret that was revoked (deleted while it still worked). It wraps
	// ErrNotFound: a revoked secret names nothing.
	ErrRevoked = fmt.Errorf("store: revoked: %w", ErrNotFound)
	// ErrChanged: what the change was checked against changed meanwhile (a password changed
	// while a login that checked the old one was issuing its token).
	ErrChanged = errors.New("store: changed meanwhile")
)

// View reads the resource tree and the grants as the transaction of a change sees them.
type View interface {
	// GetResource returns the resource "type/id", or ErrNotFound.
	GetResource(ctx context.Context, ref string) (Resource, error)
	// GrantsOf returns every grant of a principal, in no particular order.
	GrantsOf(ctx context.Context, principal string) ([]Grant, error)
	// CountKeys counts the keys of one owner: the user's keys when owner is set, else the
	// business keys of resource. Keys that expired at or before at are not counted.
	CountKeys(ctx context.Context, owner, resource string, at time.Time) (int, error)
}

// Guard is an access check a change runs inside its own transaction, on the state it applies
// to, so that nothing can change between the check and the write. A non-nil error aborts the
// change and is returned unchanged. A nil Guard checks nothing.
type Guard func(ctx context.Context, v View) error

// Store is the domain interface every backend implements.
type Store interface {
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error

	// CreateUser stores a new user, its EmailNorm set to NormalizeEmail(u.Email) whatever the
	// caller gave. ErrConflict when the id or the normalised email is taken.
	CreateUser(ctx context.Context, u User, ev Event) error
	// GetUser returns the user with id, or ErrNotFound.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmail finds the user whose email is email once both are normalised (see
	// NormalizeEmail; a normalised argument is fine), or ErrNotFound.
	GetUserByEmail(ctx context.Context, email string) (User, error)
	// ListUsers returns up to page.Limit users after page's position, in list order.
	ListUsers(ctx context.Context, page Page) ([]User, error)
	// UpdateUser applies fn to the stored user and saves the result atomically. Only Name,
	// PasswordHash, Admin and UpdatedAt are saved; other changes fn makes are dropped.
	// ErrNotFound when absent; fn's error is returned unchanged. When ev.Action is empty no
	// event is written.
	UpdateUser(ctx context.Context, id string, fn func(*User) error, ev Event) (User, error)
	// DeleteUser removes the user and every key, token and grant it owns (and every grant
	// naming it). It returns what was revoked so caches can forget it.
	DeleteUser(ctx context.Context, id string, ev Event) (Revoked, error)
	// SetAdmin promotes (token non-nil: the new admin token is added) or demotes (token nil:
	// the user's admin flag is cleared and every admin token of the user deleted) a user.
	SetAdmin(ctx context.Context, userID string, token *Token, ev Event) (User, Revoked, error)

	// CreateKey stores a key and its secret. ErrConflict when the key id or the secret's hash is
	// taken; ErrNotFound when Owner names no user (or Resource no resource). A business key
	// (no Owner; Resource and Role set) gets its grant (Resource, "key:<id>", Role) in the same
	// transaction.
	// guard runs in the same transaction before anything is written.
	CreateKey(ctx context.Context, k Key, secret Secret, guard Guard, ev Event) error
	// GetKey returns the key with id, or ErrNotFound.
	GetKey(ctx context.Context, id string) (Key, error)
	// ListKeys returns up to page.Limit keys matching f after page's position, in list order.
	ListKeys(ctx context.Context, f KeyFilter, page Page) ([]Key, error)
	// UpdateKey applies fn to the stored key and saves the mutable fields (Name, Metadata,
	// ExpiresAt, Plan, Credits, AllowedCIDRs) atomically.
	UpdateKey(ctx context.Context, id string, fn func(*Key) error, ev Event) (Key, error)
	// DeleteKey removes a key, its secrets and every grant naming it. ErrNotFound when absent.
	DeleteKey(ctx context.Context, id string, ev Event) (Revoked, error)
	// DeleteKeys removes every key matching f (which must name an owner, a resource, Within or
	// Business; else ErrInvalid) with their secrets and grants in one transaction, writing one event per
	// key (ev is the template; its Target is filled in). No match: empty Revoked, no event.
	DeleteKeys(ctx context.Context, f KeyFilter, ev Event) (Revoked, error)
	// ReissueKey gives the key a new secret. Secrets of the key other than the new one stop
	// working at graceUntil (now, when zero); a grace already running ends at once.
	ReissueKey(ctx context.Context, id string, secret Secret, graceUntil time.Time, ev Event) (Key, Revoked, error)
	// WriteCredits writes live credit balances back in one batch: Remaining and RefilledAt of
	// each key whose stored credits have the balance's SetAt (a newer setting wins). Unknown
	// keys and other settings are skipped; no event is written.
	WriteCredits(ctx context.Context, balances []CreditBalance) error
	// TouchKeys records last use times in one batch. Unknown ids are ignored; no event is
	// written. A time earlier than the stored one is ignored.
	TouchKeys(ctx context.Context, used map[string]time.Time) error
	// AddUsage adds each entry's Requests and Refusals to its key's hour, in one transaction:
	// the hour's row is created, or its counts increased. Hour is taken as the UTC hour it
	// falls in, and entries of the same key and hour add up (SumUsage). Entries for ids that
	// name no key (deleted since) are ignored; a negative count is ErrInvalid and nothing is
	// written. No event is written.
	AddUsage(ctx context.Context, hours []UsageHour) error
	// UsageOf returns the key's hours that start in [from, to), oldest first; an hour nothing
	// was counted in has no entry. A key that does not exist has none.
	UsageOf(ctx context.Context, keyID string, from, to time.Time) ([]UsageHour, error)

	// CreateToken stores a personal, admin or bootstrap token. When t.IssuedAgainst is set, the
	// user's stored password hash must still be that value (ErrChanged otherwise): a login
	// that checked a password issues no token once the password changed.
	CreateToken(ctx context.Context, t Token, ev Event) error
	// ChangePassword stores the user's new password hash and, in the same transaction, deletes
	// every personal token of the user but keepToken (empty: all of them). When expect is not
	// empty the stored hash must still be expect (ErrChanged otherwise). It returns the user
	// as stored and the deleted tokens.
	ChangePassword(ctx context.Context, userID, expect, hash, keepToken string, at time.Time, ev Event) (User, Revoked, error)
	// DeleteTokens removes the tokens that f selects and reports them.
	DeleteTokens(ctx context.Context, f TokenFilter, ev Event) (Revoked, error)

	// Resolve returns what a secret's SHA-256 hash names, or ErrNotFound — ErrRevoked (which
	// wraps it) when the secret was deleted while it still worked. Expired rows are returned too
	// (the caller tells "expired" from "unknown").
	Resolve(ctx context.Context, hash Hash) (Resolved, error)

	// InitBootstrap stores the bootstrap token's hash unless the store was ever bootstrapped
	// before. It reports whether it stored it.
	InitBootstrap(ctx context.Context, t Token, ev Event) (bool, error)
	// ResetBootstrap replaces any bootstrap token with t.
	ResetBootstrap(ctx context.Context, t Token, ev Event) (Revoked, error)
	// ReplaceBootstrap puts t in place of a bootstrap token whose hash is not t's, with ev, and
	// reports the replaced token's id in Revoked.TokenIDs. A store that holds t already, or no
	// bootstrap token at all (never bootstrapped, or its token was revoked), is left unchanged
	// and gets no event: unlike ResetBootstrap, it never brings a revoked bootstrap token back.
	ReplaceBootstrap(ctx context.Context, t Token, ev Event) (Revoked, error)

	// CreateResource stores a resource. ErrConflict when its type/id is taken; ErrNotFound when
	// its Parent does not exist. The store does not check the schema (the caller does).
	CreateResource(ctx context.Context, r Resource, ev Event) error
	// GetResource returns the resource "type/id", or ErrNotFound.
	GetResource(ctx context.Context, ref string) (Resource, error)
	// ListResources returns up to page.Limit resources matching f, ordered by (CreatedAt, ID,
	// Type); page.AfterID is the "type/id" of the last resource seen.
	ListResources(ctx context.Context, f ResourceFilter, page Page) ([]Resource, error)
	// UpdateResource applies fn to the stored resource and saves Name, Plan and Parent. A new
	// Parent that does not exist → ErrNotFound; one that is the resource itself or one of its
	// descendants → ErrInvalid.
	// guard runs after fn, in the same transaction, before anything is written.
	UpdateResource(ctx context.Context, ref string, fn func(*Resource) error, guard Guard, ev Event) (Resource, error)
	// DeleteResource removes the resource and all its descendants, every grant on any of them,
	// and every key whose Resource is any of them (with the keys' secrets and grants), in one
	// transaction. It returns the revoked key ids. ErrNotFound when absent. An ev without a
	// Detail gets one saying how many resources, grants and keys went.
	// guard runs once the resource is found, before anything is deleted.
	DeleteResource(ctx context.Context, ref string, guard Guard, ev Event) (Revoked, error)
	// PutGrant creates or replaces the grant of g.Principal on g.Resource and returns it as
	// stored (a replaced grant keeps its CreatedAt). ErrNotFound when the resource, or the user
	// or key the principal names, does not exist.
	// guard runs in the same transaction before anything is written.
	PutGrant(ctx context.Context, g Grant, guard Guard, ev Event) (Grant, error)
	// DeleteGrant removes one grant. ErrNotFound when there is none (guard is not called);
	// guard runs in the same transaction before the grant is deleted.
	DeleteGrant(ctx context.Context, resource, principal string, guard Guard, ev Event) error
	// ListGrants returns the grants on one resource (not its ancestors), ordered by
	// (CreatedAt, Principal); page.AfterID is the principal of the last grant seen.
	ListGrants(ctx context.Context, resource string, page Page) ([]Grant, error)
	// GrantsOf returns every grant of a principal, in no particular order.
	GrantsOf(ctx context.Context, principal string) ([]Grant, error)

	// PurgeExpired deletes the secrets that can never work again as of now, and reports how
	// many: personal and admin tokens whose ExpiresAt is not after now, and a key's old secrets
	// whose reissue grace has ended (a key's secret that has been superseded by a newer one).
	// Keys themselves stay, expired or not (an expired key is listed until it is deleted), with
	// their current secret; so does the bootstrap token. No event is written. Usage hours
	// that started UsageRetention or longer before now go too, uncounted: they are no secret;
	// so do revoked hashes recorded RevokedRetention or longer before now (a secret presented
	// later is then unknown rather than revoked: refused all the same).
	PurgeExpired(ctx context.Context, now time.Time) (int, error) // expired scoped tokens and console sessions go too

	// InstanceKey returns the installation's secret key for keyed fingerprints in the audit
	// trail (audit.Fingerprinter): 32 random bytes the store made the first time it was opened,
	// the same ever after and for every node that shares the store. It keeps the audit trail
	// from being searched by hashing guesses; whoever holds a copy of the store holds the key.
	InstanceKey(ctx context.Context) ([]byte, error)

	// CreateScopedToken stores a scoped token (as its hash) and writes ev, in one transaction.
	// A token with a Parent needs that parent to exist still (ErrNotFound otherwise: it was
	// revoked meanwhile). ErrConflict when the hash or the id is taken.
	CreateScopedToken(ctx context.Context, t ScopedToken, ev Event) error
	// ResolveScoped returns the scoped token whose hash is hash, expired ones included, or
	// ErrNotFound.
	ResolveScoped(ctx context.Context, hash Hash) (ScopedToken, error)
	// DeleteScopedToken removes the scoped token id and every token below it (its children,
	// theirs, …), in one transaction with ev, and reports them in Revoked.ScopedIDs.
	// ErrNotFound when there is no such token.
	DeleteScopedToken(ctx context.Context, id string, ev Event) (Revoked, error)

	// Sessions keeps console sessions; PurgeExpired deletes the expired ones.
	Sessions

	// AppendEvents writes audit events that belong to no change (refused credentials).
	AppendEvents(ctx context.Context, evs []Event) error
	// ListEvents returns events matching f ordered by (At, ID) like every list; the store
	// assigns IDs in write order, fixed-width so that byte order is write order. The page
	// position is the (At, ID) of the last event seen.
	ListEvents(ctx context.Context, f EventFilter, page Page) ([]Event, error)

	// Export calls fn with every record of the store, read from one snapshot, in the order
	// Import writes them in: meta by name, users, resources (parents before children, then by
	// (CreatedAt, ID, Type)), keys, secrets by (CreatedAt, ID, Hash), revoked hashes by (At,
	// Hash), scoped tokens by (CreatedAt, ID), grants by (Resource, Principal), usage hours by
	// (KeyID, Hour), events in write order. Lists are ordered as ListUsers and the others order them. An error from fn stops
	// Export and is returned unchanged. It holds what the store holds: hashes of secrets, never
	// a secret, and the instance key.
	Export(ctx context.Context, fn func(Record) error) error
	// Import writes records as they are (ids, times, hashes, event IDs and ancestries) into a
	// store that holds no user, resource, key, secret, revoked hash, scoped token, grant or
	// event (else ErrConflict), in one transaction: an error, from records or from the store,
	// leaves the store as it was.
	// Meta records replace what the store has (its instance key included). An event appended
	// afterwards gets an ID greater than every imported one. records is read once.
	Import(ctx context.Context, records iter.Seq2[Record, error]) error

	// Heartbeat records that the node n is alive (CONTRACT §11.33): it creates n's row, or
	// replaces its StartedAt, LastSeenAt and Applied with n's. No event is written. An empty
	// ID is ErrInvalid.
	Heartbeat(ctx context.Context, n Node) error
	// ListNodes returns the nodes last seen at or after since, ordered by ID.
	ListNodes(ctx context.Context, since time.Time) ([]Node, error)
	// DeleteNodes forgets the nodes last seen before before, and reports how many.
	DeleteNodes(ctx context.Context, before time.Time) (int, error)

	// AppendRevocation adds r to the revocation log and returns the Seq it gave it (r.Seq is
	// ignored): greater than every Seq given before, and given in commit order, so that a
	// reader that has read up to Seq n never later finds a new entry at or below n.
	AppendRevocation(ctx context.Context, r Revocation) (int64, error)
	// Revocations returns up to limit entries of the log whose Seq is greater than after, in
	// Seq order; a limit that is not positive means 50.
	Revocations(ctx context.Context, after int64, limit int) ([]Revocation, error)
	// LastRevocation returns the greatest Seq the log holds (0 when it is empty). Trimming
	// never lowers it.
	LastRevocation(ctx context.Context) (int64, error)
	// TrimRevocations deletes the entries whose At is before before, except the newest entry
	// of the log, and reports how many.
	TrimRevocations(ctx context.Context, before time.Time) (int, error)
}

// Node is a lanyard process serving the store, as it last reported itself (Heartbeat). Nodes
// and the revocation log are how several nodes of one store keep their caches in step
// (internal/fanout); neither is exported, imported or audited.
type Node struct {
	ID         string
	StartedAt  time.Time
	LastSeenAt time.Time
	// Applied is the Seq of the newest revocation the node has applied to its cache.
	Applied int64
}

// Revocation is an entry of the revocation log: what a change made on one node revoked, so
// that every other node forgets it too.
type Revocation struct {
	// Seq is the entry's position in the log, given by AppendRevocation.
	Seq int64
	At  time.Time
	// Node is the id of the node that made the change.
	Node    string
	Revoked Revoked
}

// Record is one record of a whole store, as Export reads it and Import writes it: exactly one
// of its pointers is set.
type Record struct {
	Meta     *Meta
	User     *User
	Resource *Resource
	Key      *Key
	Secret   *Secret
	// Revoked is the hash of a secret deleted while it still worked (Resolve: ErrRevoked).
	Revoked *RevokedHash
	Scoped  *ScopedToken
	Grant   *Grant
	Usage   *UsageHour
	Event   *Event
	// Ancestry is, with Event, the resources the event is found under (ListEvents'
	// EventFilter.Resource): its resource and that resource's ancestors when it was written,
	// root first. Empty for an event without a resource.
	Ancestry []string
}

// Meta is a setting the store keeps about itself (the instance key; whether it was ever
// bootstrapped).
type Meta struct {
	Name  string
	Value string
}

// The settings a store keeps (Meta.Name).
const (
	// MetaInstanceKey holds the instance key (InstanceKey): 32 bytes in lower-case hex.
	MetaInstanceKey = "instance_key"
	// MetaBootstrapped records when the store was first bootstrapped (RFC 3339, UTC).
	MetaBootstrapped = "bootstrapped"
)

// Check refuses (ErrInvalid) a setting Import must not write: one the store does not know, or
// an instance key that is not 32 bytes in hex — a store holding one could not start again.
func (m Meta) Check() error {
	switch m.Name {
	case MetaInstanceKey:
		if k, err := hex.DecodeString(m.Value); err != nil || len(k) != 32 {
			return fmt.Errorf("store: meta %s is not 32 bytes in hex: %w", m.Name, ErrInvalid)
		}
	case MetaBootstrapped:
		if _, err := time.Parse(time.RFC3339, m.Value); err != nil {
			return fmt.Errorf("store: meta %s is not an RFC 3339 time: %w", m.Name, ErrInvalid)
		}
	default:
		return fmt.Errorf("store: meta %q is no setting lanyard keeps: %w", m.Name, ErrInvalid)
	}
	return nil
}

// RevokedHash is the hash of a secret deleted while it still worked, and when.
type RevokedHash struct {
	Hash Hash
	At   time.Time
}

// Hash is the SHA-256 of a secret, as credential.Hash computes it. Only hashes are stored. It is
// an alias, not a type of its own, so that credential (token formats, pure functions) needs
// nothing from store.
type Hash = [32]byte

// Page selects a slice of a list ordered by (CreatedAt, ID): the records strictly after the
// position (AfterCreated, AfterID), at most Limit of them. A zero position starts at the first.
type Page struct {
	AfterCreated time.Time
	AfterID      string
	Limit        int
}

// User is a person (or a service account) who can own keys and tokens.
type User struct {
	ID    string
	Email string // as given (trimmed)
	// EmailNorm is the unique lookup form (see NormalizeEmail).
	EmailNorm    string
	Name         string
	PasswordHash string // PHC string; empty: cannot log in
	Admin        bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Key formats.
const (
	FormatToken     = "token"
	FormatKeySecret = "key_secret"
)

// Key is an API key: a personal key (Owner set) or a business key (no owner; Resource and Role
// set). Its secret lives in a Secret row.
type Key struct {
	ID     string
	Name   string
	Format string // FormatToken or FormatKeySecret
	// Prefix is the start of the current token or secret, shown in lists.
	Prefix string
	// Owner is the owning user's id; empty for a business key.
	Owner string
	// Resource is "type/id" or empty; Role is a role name or empty.
	Resource     string
	Role         string
	Plan         string
	Metadata     map[string]any
	AllowedCIDRs []string
	Credits      *Credits
	ExpiresAt    *time.Time
	LastUsedAt   *time.Time
	CreatedAt    time.Time
	CreatedBy    string // principal that created it, for the audit trail
}

// Credits is a key's spendable balance, as last set (POST or PATCH on the key) or last written
// back by the rate limiter, which keeps the live balance (internal/ratelimit).
type Credits struct {
	Remaining int64   `json:"remaining"`
	Refill    *Refill `json:"refill"`
	// RefilledAt is the start of the UTC day or month of the last refill; nil until the first.
	RefilledAt *time.Time `json:"refilled_at"`
	// SetAt is when the credits were last set, to the nanosecond, growing with every setting:
	// the generation a live balance belongs to. A write-back never changes it.
	SetAt time.Time `json:"set_at"`
}

// UsageHour is what one key did in one UTC hour: the requests whose credential resolved to the
// key, and how many of those lanyard refused (a grant, a rate-limit window, credits, a network,
// a scoped token). Nodes count them in memory and add them in batches (AddUsage), so the
// store's figures lag by up to one batch interval.
type UsageHour struct {
	KeyID string
	// Hour is the start of the hour, UTC.
	Hour     time.Time
	Requests int64
	Refusals int64
}

// Check refuses counts no store keeps: a negative one is ErrInvalid.
func (u UsageHour) Check() error {
	if u.Requests < 0 || u.Refusals < 0 {
		return fmt.Errorf("store: usage of key %q counts %d requests and %d refusals: %w", u.KeyID, u.Requests, u.Refusals, ErrInvalid)
	}
	return nil
}

// RevokedRetention is how long the hash of a revoked secret is remembered, so that presenting
// the secret is answered "revoked" rather than "unknown" (verify's code; both are refused).
// PurgeExpired forgets older ones: the table does not grow with every revocation ever made.
const RevokedRetention = 365 * 24 * time.Hour

// UsageRetention is how long usage hours are kept: a week's chart, and a day to spare for the
// nodes' batches and for time zones. PurgeExpired deletes older ones.
const UsageRetention = 8 * 24 * time.Hour

// HourOf is the start of the UTC hour t falls in.
func HourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// SumUsage is hours as a store writes them: each Hour the start of its UTC hour, the entries of
// one key and hour added up, those that count nothing left out, ordered by (KeyID, Hour) (one
// lock order for every writer). A negative count is ErrInvalid.
func SumUsage(hours []UsageHour) ([]UsageHour, error) {
	type at struct {
		key  string
		hour int64
	}
	sums := make(map[at]int, len(hours))
	out := make([]UsageHour, 0, len(hours))
	for _, u := range hours {
		if err := u.Check(); err != nil {
			return nil, err
		}
		if u.Requests == 0 && u.Refusals == 0 {
			continue
		}
		u.Hour = HourOf(u.Hour)
		k := at{u.KeyID, u.Hour.Unix()}
		if i, ok := sums[k]; ok {
			out[i].Requests += u.Requests
			out[i].Refusals += u.Refusals
			continue
		}
		sums[k] = len(out)
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b UsageHour) int {
		if c := strings.Compare(a.KeyID, b.KeyID); c != 0 {
			return c
		}
		return a.Hour.Compare(b.Hour)
	})
	return out, nil
}

// CreditBalance is a live balance the rate limiter hands back for the store.
type CreditBalance struct {
	KeyID      string
	SetAt      time.Time
	Remaining  int64
	RefilledAt *time.Time
}

// Refill tops credits up every interval.
type Refill struct {
	Amount   int64  `json:"amount"`
	Interval string `json:"interval"` // "day" or "month"
}

// KeyFilter selects keys. Empty fields match everything.
type KeyFilter struct {
	Owner    string // user id
	Resource string // "type/id"
	// Within, when non-nil, keeps only keys whose Resource is one of these resources or a
	// descendant of one; an empty non-nil slice selects nothing.
	Within []string
	// Business selects only keys without an owner; with AlsoOwner, also the keys of that
	// user.
	Business  bool
	AlsoOwner string
}

// Secret kinds: what a stored hash stands for.
const (
	KindKeyToken  = "key_token"  // a key's bearer token
	KindKeySecret = "key_secret" // a key+secret key's secret (Basic only)
	KindPersonal  = "personal"   // a personal access token
	KindAdmin     = "admin"      // an admin token
	KindBootstrap = "bootstrap"  // the bootstrap admin token
)

// Secret is a stored secret hash and what it stands for.
type Secret struct {
	Hash Hash
	Kind string
	// ID is the token id (personal, admin, bootstrap) or the key id.
	ID string
	// UserID is the user the secret acts for (personal, admin); for keys it is empty.
	UserID    string
	ExpiresAt *time.Time
	CreatedAt time.Time
	// Prefix is the secret's display prefix (e.g. "lk_AbC123"). CreateKey and ReissueKey store
	// it as the key's Prefix; it is not stored with the secret.
	Prefix string
}

// Token is a personal, admin or bootstrap token, stored as its hash.
type Token struct {
	ID        string
	Kind      string // KindPersonal, KindAdmin, KindBootstrap
	UserID    string
	Hash      Hash
	ExpiresAt *time.Time
	CreatedAt time.Time
	// IssuedAgainst is the password hash a login checked before issuing a personal token; it
	// is compared, never stored (see CreateToken).
	IssuedAgainst string
}

// TokenFilter selects tokens to delete. At least one field must be set.
type TokenFilter struct {
	ID     string
	UserID string
	Kind   string
	// ExceptID keeps one token (e.g. the one the caller is using).
	ExceptID string
}

// Resolved is what a secret hash names: the secret row and, for key secrets, the key.
type Resolved struct {
	Secret Secret
	Key    *Key
	// Principal is the principal the secret acts as ("user:<id>", "key:<id>", or "" for the
	// bootstrap token). Stores may leave it empty; PrincipalOf computes it.
	Principal string
}

// PrincipalOf is the principal a resolved secret acts as: a personal key, token or admin token
// acts as its user, a business key as itself, the bootstrap token as no one.
func PrincipalOf(r Resolved) string {
	switch {
	case r.Key != nil && r.Key.Owner != "":
		return "user:" + r.Key.Owner
	case r.Key != nil:
		return "key:" + r.Key.ID
	case r.Secret.UserID != "":
		return "user:" + r.Secret.UserID
	}
	return ""
}

// Revoked lists what a change revoked, so caches can forget it at once.
type Revoked struct {
	// Resources are deleted resources ("type/id").
	Resources []string
	KeyIDs    []string
	TokenIDs  []string
	UserIDs   []string
	// Hashes are secrets that stopped working without their key or token going away (reissue).
	Hashes []Hash
	// ScopedIDs are deleted scoped tokens.
	ScopedIDs []string
}

// ScopedToken is a scoped token (CONTRACT §6): it narrows the credential that obtained it to
// one resource, and is valid only together with that credential and its parent token.
type ScopedToken struct {
	ID   string
	Hash Hash
	// Type is the exchange type (the resource's type); Resource the "type/id" it is for.
	Type     string
	Resource string
	// Credential names the credential that obtained it ("key:<id>", "personal:<id>", …).
	Credential string
	// Parent is the id of the scoped token it was obtained with, or "".
	Parent    string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Merge adds o's entries to r.
func (r *Revoked) Merge(o Revoked) {
	r.Resources = append(r.Resources, o.Resources...)
	r.KeyIDs = append(r.KeyIDs, o.KeyIDs...)
	r.TokenIDs = append(r.TokenIDs, o.TokenIDs...)
	r.UserIDs = append(r.UserIDs, o.UserIDs...)
	r.Hashes = append(r.Hashes, o.Hashes...)
	r.ScopedIDs = append(r.ScopedIDs, o.ScopedIDs...)
}

// revokedJSON is how the revocation log keeps a Revoked: hashes in hex, empty lists left out.
type revokedJSON struct {
	Resources []string `json:"resources,omitempty"`
	KeyIDs    []string `json:"keys,omitempty"`
	TokenIDs  []string `json:"tokens,omitempty"`
	UserIDs   []string `json:"users,omitempty"`
	Hashes    []string `json:"hashes,omitempty"`
	ScopedIDs []string `json:"scoped,omitempty"`
}

// MarshalJSON writes r as the revocation log keeps it: {"keys": ["k1"], "hashes": ["<hex>"], …}.
func (r Revoked) MarshalJSON() ([]byte, error) {
	j := revokedJSON{Resources: r.Resources, KeyIDs: r.KeyIDs, TokenIDs: r.TokenIDs, UserIDs: r.UserIDs, ScopedIDs: r.ScopedIDs}
	for _, h := range r.Hashes {
		j.Hashes = append(j.Hashes, hex.EncodeToString(h[:]))
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *Revoked) UnmarshalJSON(b []byte) error {
	var j revokedJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Revoked{Resources: j.Resources, KeyIDs: j.KeyIDs, TokenIDs: j.TokenIDs, UserIDs: j.UserIDs, ScopedIDs: j.ScopedIDs}
	for _, s := range j.Hashes {
		var h Hash
		if len(s) != hex.EncodedLen(len(h)) {
			return fmt.Errorf("store: revoked hash %q is not 64 hex digits", s)
		}
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return fmt.Errorf("store: revoked hash %q is not 64 hex digits", s)
		}
		out.Hashes = append(out.Hashes, h)
	}
	*r = out
	return nil
}

// Empty reports whether nothing was revoked.
func (r Revoked) Empty() bool {
	return len(r.Resources)+len(r.KeyIDs)+len(r.TokenIDs)+len(r.UserIDs)+len(r.Hashes)+len(r.ScopedIDs) == 0
}

// Event is one audit trail entry.
type Event struct {
	ID string
	At time.Time
	// Actor is the principal ("user:u1", "key:k1") or "bootstrap"; empty when anonymous.
	Actor string
	// Credential names the credential used: "<kind>:<id>", e.g. "key:k1", "personal:t1".
	Credential string
	Action     string // e.g. "user.create", "key.revoke", "credential.refused"
	Target     string // e.g. "user:u1", "key:k1", "organization/acme"
	// Resource is the "type/id" the change belongs to, for queries by resource; may be empty.
	Resource string
	Result   string // "success", "denied", "refused"
	IP       string
	// Count aggregates identical refused credentials (1 for ordinary events).
	Count int
	// Detail is a short non-secret note (e.g. "expired").
	Detail string
}

// EventFilter selects audit events. Empty fields match everything.
type EventFilter struct {
	// Resource selects the events of that resource and of every resource that was below it
	// when the event was written (the store records each event's ancestry at write time, so
	// events of deleted descendants stay findable).
	Resource string
	Actor    string
	Action   string
	Target   string
	// FromID, when set, keeps only events written at or after the event with this ID.
	FromID string
}

// NormalizeEmail returns the form of an email address that uniqueness and login compare: trimmed,
// then brought to Unicode NFKC and fully case-folded (golang.org/x/text), so that
// "ＡLICE@example.com" (a full-width A), "alice@example.com" and "Ann@Example.com " against
// "ann@example.com" are each one account, and so is an address spelled with the Kelvin sign
// U+212A, which NFKC makes K. Full folding is not lower-casing: "İVAN@example.com" folds to
// "i̇van@example.com", i with a combining dot above, which is not "ivan@example.com" (Go's
// strings.ToLower would make it so), and "ß" folds to "ss".
//
// Folding can produce text that NFKC changes again, and the reverse, so the two are applied
// until neither changes anything: NormalizeEmail(NormalizeEmail(e)) == NormalizeEmail(e),
// which lets a store normalise whatever it is given.
func NormalizeEmail(email string) string {
	s, _ := normalizeEmail(email)
	return s
}

// maxFoldRounds bounds the rounds of folding and NFKC: two reach the fixed point for every code
// point (the tests check them all); the bound keeps a future Unicode version from looping.
const maxFoldRounds = 4

// normalizeEmail is NormalizeEmail, and whether the rounds reached a fixed point.
func normalizeEmail(email string) (string, bool) {
	s := norm.NFKC.String(strings.TrimSpace(email))
	for range maxFoldRounds {
		t := norm.NFKC.String(foldCherokee(cases.Fold().String(s)))
		if t == s {
			return strings.TrimSpace(s), true
		}
		s = t
	}
	return strings.TrimSpace(s), false
}

// foldCherokee completes cases.Fold for Cherokee. Unicode folds Cherokee's lowercase letters to
// its uppercase ones (CaseFolding.txt, since Unicode 8: the uppercase were encoded first, and
// folding is stable), but x/text's Fold maps each case to the other (Go issue 46101), so "Ꭰ"
// and "ꭰ" would never compare equal and folding twice would undo the first. After Fold, every
// Cherokee letter is mapped to uppercase, which is what Unicode's folding gives.
func foldCherokee(s string) string {
	if !strings.ContainsFunc(s, isCherokeeLower) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xAB70 && r <= 0xABBF: // ꭰ … ꮿ
			return r - 0xAB70 + 0x13A0
		case r >= 0x13F8 && r <= 0x13FD: // ᏸ … ᏽ
			return r - 0x13F8 + 0x13F0
		}
		return r
	}, s)
}

func isCherokeeLower(r rune) bool { return r >= 0xAB70 && r <= 0xABBF || r >= 0x13F8 && r <= 0x13FD }

// Resource is a node of the resource tree: typed, with at most one parent.
type Resource struct {
	Type string
	ID   string
	Name string
	// Parent is the parent's "type/id", or empty for a root resource.
	Parent    string
	Plan      string
	CreatedAt time.Time
}

// Ref is the resource's "type/id".
func (r Resource) Ref() string { return r.Type + "/" + r.ID }

// Grant gives a principal a role on a resource and, through it, on every descendant.
type Grant struct {
	// Resource is the "type/id" the grant is on.
	Resource string
	// Principal is "user:<id>" or "key:<id>" (a business key's own grant).
	Principal string
	Role      string
	CreatedAt time.Time
}

// ResourceFilter selects resources. Empty fields match everything.
type ResourceFilter struct {
	Type string
	// Parent selects the direct children of "type/id".
	Parent string
	// Within, when non-nil, keeps only these resources and their descendants; an empty non-nil
	// slice selects nothing.
	Within []string
}

// Session is a console session (CONTRACT §11.34): a person signed in to the console with a
// password. Its token lives only in the browser's cookie; the store keeps its SHA-256 hash.
// A session is not a credential of the native API: Resolve never finds one, so a session
// cookie can never authenticate a request to /v1.
//
// A user's sessions end with the user: DeleteUser, a demotion (SetAdmin with a nil token) and
// any change of the stored password hash (ChangePassword, UpdateUser) delete every session of
// the user in the same transaction. Export and Import leave sessions out: a store moved to
// another backend signs everyone out of the console.
type Session struct {
	ID     string
	UserID string
	Hash   Hash
	// ExpiresAt is when the session stops working; CreatedAt when it was made.
	ExpiresAt time.Time
	CreatedAt time.Time
	// IssuedAgainst is the password hash the sign-in checked; CreateSession compares it with
	// the stored one (it is never stored), as CreateToken does.
	IssuedAgainst string
}

// Sessions is the part of Store that keeps console sessions.
type Sessions interface {
	// CreateSession stores a session (as its hash) and writes ev, in one transaction.
	// ErrNotFound when s.UserID names no user; ErrConflict when the id or the hash is taken;
	// ErrChanged when s.IssuedAgainst is set and is no longer the user's password hash.
	CreateSession(ctx context.Context, s Session, ev Event) error
	// ResolveSession returns the session whose token hashes to hash, expired ones included
	// (the caller compares ExpiresAt with its clock), or ErrNotFound. IssuedAgainst is empty.
	ResolveSession(ctx context.Context, hash Hash) (Session, error)
	// DeleteSession removes the session id and writes ev (none when ev.Action is empty), in
	// one transaction. ErrNotFound when there is no such session.
	DeleteSession(ctx context.Context, id string, ev Event) error
}

// KeySecretKind checks the kind of a key's secret, as every store does before writing one; ""
// means the kind the key's format uses.
func KeySecretKind(kind, format string) (string, error) {
	switch kind {
	case KindKeyToken, KindKeySecret:
		return kind, nil
	case "":
		if format == FormatKeySecret {
			return KindKeySecret, nil
		}
		return KindKeyToken, nil
	}
	return "", fmt.Errorf("store: a key's secret cannot be of kind %q", kind)
}
