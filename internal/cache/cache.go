// Package cache keeps resolved credentials in process so that verifying a known credential
// touches no store. Store wraps a store.Store: it answers Resolve from memory (with a short
// negative cache for unknown hashes, so a flood of garbage tokens never reaches the database)
// and overrides every write that can revoke a credential so the cached entry is dropped before
// the write returns. A revoked key's very next request is therefore refused on this node.
//
// Entries live at most Options.TTL (the staleness bound): a change made by another process on
// the same database (another node, `lanyard bootstrap reset`) is seen within that bound even
// when no notification reaches this node. Options.Publish hears of every revoking write once
// this node has forgotten what it revoked, so that the other nodes forget it too, long before
// the bound (internal/fanout); Invalidate and ClearTree are how they do.
package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// Options tune the cache.
type Options struct {
	// Size bounds the number of entries (positive and negative).
	Size int
	// TTL bounds how long a positive entry is trusted without asking the store.
	TTL time.Duration
	// NegativeTTL is how long an unknown hash is remembered as unknown; 0 remembers nothing
	// (cache.negative_ttl: 0 in the config turns the negative cache off).
	NegativeTTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Publish, when set, is called after every write that may have revoked a credential or
	// taken away access, once this node has forgotten it, with the write's context and what
	// it revoked: empty when the write changed grants or the resource tree (the other nodes
	// then clear their tree whole). It is not called for a write that failed with a store
	// error saying nothing changed (ErrNotFound, ErrConflict, ErrInvalid, ErrChanged).
	Publish func(ctx context.Context, r store.Revoked)
}

// Store is a store.Store whose Resolve is cached.
type Store struct {
	store.Store
	opts Options

	mu      sync.RWMutex
	entries map[store.Hash]*entry
	// index maps a tag ("k:<key id>", "t:<token id>", "u:<user id>") to the hashes it covers.
	index map[string]map[store.Hash]struct{}
	// gen counts invalidations; a lookup that raced one does not fill the cache.
	gen uint64

	// tree caches resources and grants for authorization (tree.go).
	tree tree

	// hits and misses count Resolve's answers from memory and from the store.
	hits, misses atomic.Uint64
}

// Lookups reports how many Resolve calls were answered from memory (hits, negative entries
// included) and how many asked the store.
func (c *Store) Lookups() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

type entry struct {
	res      store.Resolved
	negative bool
	revoked  bool // a negative entry for a revoked secret (store.ErrRevoked)
	scoped   *store.ScopedToken
	until    time.Time
	tags     []string
}

var _ store.Store = (*Store)(nil)

// New wraps s.
func New(s store.Store, opts Options) *Store {
	if opts.Size <= 0 {
		opts.Size = 100_000
	}
	if opts.TTL <= 0 {
		opts.TTL = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{
		Store:   s,
		opts:    opts,
		entries: make(map[store.Hash]*entry),
		index:   make(map[string]map[store.Hash]struct{}),
		tree:    newTree(),
	}
}

// Resolve answers from memory when it can and fills the cache otherwise. The returned Key is
// shared: callers must not modify it.
func (c *Store) Resolve(ctx context.Context, h store.Hash) (store.Resolved, error) {
	now := c.opts.Now()
	c.mu.RLock()
	e, ok := c.entries[h]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now.Before(e.until) {
		c.hits.Add(1)
		if e.negative {
			if e.revoked {
				return store.Resolved{}, store.ErrRevoked
			}
			return store.Resolved{}, store.ErrNotFound
		}
		return e.res, nil
	}
	c.misses.Add(1)
	res, err := c.Store.Resolve(ctx, h)
	switch {
	case err == nil:
		res.Principal = store.PrincipalOf(res) // computed once, not on every hit
		c.fill(h, gen, &entry{res: res, until: now.Add(c.opts.TTL), tags: tagsOf(res)})
	case errors.Is(err, store.ErrNotFound) && c.opts.NegativeTTL > 0:
		c.fill(h, gen, &entry{negative: true, revoked: errors.Is(err, store.ErrRevoked), until: now.Add(c.opts.NegativeTTL)})
	}
	return res, err
}

func tagsOf(res store.Resolved) []string {
	var tags []string
	switch res.Secret.Kind {
	case store.KindKeyToken, store.KindKeySecret:
		tags = append(tags, "k:"+res.Secret.ID)
		if res.Key != nil && res.Key.Owner != "" {
			tags = append(tags, "u:"+res.Key.Owner)
		}
	default:
		tags = append(tags, "t:"+res.Secret.ID)
		if res.Secret.UserID != "" {
			tags = append(tags, "u:"+res.Secret.UserID)
		}
	}
	return tags
}

func (c *Store) fill(h store.Hash, gen uint64, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return // an invalidation ran while we asked the store: what we read may be stale
	}
	c.removeLocked(h)
	for len(c.entries) >= c.opts.Size {
		for victim := range c.entries { // map order is random: an O(1) random eviction
			c.removeLocked(victim)
			break
		}
	}
	c.entries[h] = e
	for _, t := range e.tags {
		set := c.index[t]
		if set == nil {
			set = make(map[store.Hash]struct{}, 1)
			c.index[t] = set
		}
		set[h] = struct{}{}
	}
}

func (c *Store) removeLocked(h store.Hash) {
	e, ok := c.entries[h]
	if !ok {
		return
	}
	delete(c.entries, h)
	for _, t := range e.tags {
		if set := c.index[t]; set != nil {
			delete(set, h)
			if len(set) == 0 {
				delete(c.index, t)
			}
		}
	}
}

// Invalidate drops every credential entry that r names. It is what a cross-node notification
// calls (with ClearTree).
func (c *Store) Invalidate(r store.Revoked) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, h := range r.Hashes {
		c.removeLocked(h)
	}
	drop := func(tag string) {
		for h := range c.index[tag] {
			c.removeLocked(h)
		}
	}
	for _, id := range r.KeyIDs {
		drop("k:" + id)
	}
	for _, id := range r.TokenIDs {
		drop("t:" + id)
	}
	for _, id := range r.UserIDs {
		drop("u:" + id)
	}
	for _, id := range r.ScopedIDs {
		drop("s:" + id)
	}
}

// ResolveScoped answers from memory when it can, like Resolve; a deleted scoped token (and
// its subtree) is forgotten the moment DeleteScopedToken returns.
func (c *Store) ResolveScoped(ctx context.Context, h store.Hash) (store.ScopedToken, error) {
	now := c.opts.Now()
	c.mu.RLock()
	e, ok := c.entries[h]
	gen := c.gen
	c.mu.RUnlock()
	if ok && e.scoped != nil && now.Before(e.until) {
		c.hits.Add(1)
		return *e.scoped, nil
	}
	c.misses.Add(1)
	t, err := c.Store.ResolveScoped(ctx, h)
	if err == nil {
		tok := t
		c.fill(h, gen, &entry{scoped: &tok, until: now.Add(c.opts.TTL), tags: []string{"s:" + t.ID}})
	}
	return t, err
}

func (c *Store) DeleteScopedToken(ctx context.Context, id string, ev store.Event) (store.Revoked, error) {
	r, err := c.Store.DeleteScopedToken(ctx, id, ev)
	c.afterWrite(ctx, r, store.Revoked{ScopedIDs: []string{id}}, err)
	return r, err
}

// forget drops a single hash (a negative entry for a secret that now exists).
func (c *Store) forget(h store.Hash) {
	c.Invalidate(store.Revoked{Hashes: []store.Hash{h}})
}

// Len reports the number of cached entries.
func (c *Store) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// The writes below change what a hash resolves to; each drops the affected entries after the
// store committed and before it returns.

func (c *Store) DeleteUser(ctx context.Context, id string, ev store.Event) (store.Revoked, error) {
	r, err := c.Store.DeleteUser(ctx, id, ev)
	c.ClearTree() // the user's grants went with it
	c.afterWrite(ctx, r, store.Revoked{UserIDs: []string{id}}, err)
	return r, err
}

func (c *Store) SetAdmin(ctx context.Context, userID string, t *store.Token, ev store.Event) (store.User, store.Revoked, error) {
	u, r, err := c.Store.SetAdmin(ctx, userID, t, ev)
	if t != nil {
		c.forget(t.Hash)
	}
	c.afterWrite(ctx, r, store.Revoked{}, err)
	return u, r, err
}

func (c *Store) CreateKey(ctx context.Context, k store.Key, s store.Secret, guard store.Guard, ev store.Event) error {
	err := c.Store.CreateKey(ctx, k, s, guard, ev)
	if k.Owner == "" {
		c.ClearTree() // a business key's grant was written with it
	}
	c.forget(s.Hash)
	return err
}

func (c *Store) UpdateKey(ctx context.Context, id string, fn func(*store.Key) error, ev store.Event) (store.Key, error) {
	k, err := c.Store.UpdateKey(ctx, id, fn, ev)
	c.afterWrite(ctx, store.Revoked{}, store.Revoked{KeyIDs: []string{id}}, err)
	return k, err
}

func (c *Store) DeleteKey(ctx context.Context, id string, ev store.Event) (store.Revoked, error) {
	r, err := c.Store.DeleteKey(ctx, id, ev)
	c.ClearTree() // and any grant naming the key
	c.afterWrite(ctx, r, store.Revoked{KeyIDs: []string{id}}, err)
	return r, err
}

func (c *Store) DeleteKeys(ctx context.Context, f store.KeyFilter, ev store.Event) (store.Revoked, error) {
	r, err := c.Store.DeleteKeys(ctx, f, ev)
	c.ClearTree()
	c.afterWrite(ctx, r, store.Revoked{}, err)
	return r, err
}

func (c *Store) ReissueKey(ctx context.Context, id string, s store.Secret, graceUntil time.Time, ev store.Event) (store.Key, store.Revoked, error) {
	k, r, err := c.Store.ReissueKey(ctx, id, s, graceUntil, ev)
	c.forget(s.Hash)
	c.afterWrite(ctx, r, store.Revoked{KeyIDs: []string{id}}, err)
	return k, r, err
}

func (c *Store) CreateToken(ctx context.Context, t store.Token, ev store.Event) error {
	err := c.Store.CreateToken(ctx, t, ev)
	c.forget(t.Hash)
	return err
}

func (c *Store) ChangePassword(ctx context.Context, userID, expect, hash, keep string, at time.Time, ev store.Event) (store.User, store.Revoked, error) {
	u, r, err := c.Store.ChangePassword(ctx, userID, expect, hash, keep, at, ev)
	c.afterWrite(ctx, r, store.Revoked{}, err)
	return u, r, err
}

func (c *Store) DeleteTokens(ctx context.Context, f store.TokenFilter, ev store.Event) (store.Revoked, error) {
	r, err := c.Store.DeleteTokens(ctx, f, ev)
	c.afterWrite(ctx, r, store.Revoked{}, err)
	return r, err
}

func (c *Store) InitBootstrap(ctx context.Context, t store.Token, ev store.Event) (bool, error) {
	ok, err := c.Store.InitBootstrap(ctx, t, ev)
	c.forget(t.Hash)
	return ok, err
}

func (c *Store) ResetBootstrap(ctx context.Context, t store.Token, ev store.Event) (store.Revoked, error) {
	r, err := c.Store.ResetBootstrap(ctx, t, ev)
	c.forget(t.Hash)
	c.afterWrite(ctx, r, store.Revoked{}, err)
	return r, err
}

func (c *Store) ReplaceBootstrap(ctx context.Context, t store.Token, ev store.Event) (store.Revoked, error) {
	r, err := c.Store.ReplaceBootstrap(ctx, t, ev)
	c.forget(t.Hash)
	c.afterWrite(ctx, r, store.Revoked{}, err)
	return r, err
}

// afterWrite invalidates what the store reported revoked and the entries the write was about,
// whether or not it reported an error: an error from the driver after a commit cannot be told
// from one before it, and dropping an entry is always safe. Then it publishes them.
func (c *Store) afterWrite(ctx context.Context, r store.Revoked, about store.Revoked, err error) {
	r.Merge(about)
	if r.Empty() {
		return
	}
	c.Invalidate(r)
	c.publish(ctx, r, err)
}

// publish tells Options.Publish of a write that may have revoked r (or, r empty, changed
// grants or the tree), unless err says that the write changed nothing.
func (c *Store) publish(ctx context.Context, r store.Revoked, err error) {
	if c.opts.Publish == nil {
		return
	}
	for _, nothing := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalid, store.ErrChanged} {
		if errors.Is(err, nothing) {
			return
		}
	}
	c.opts.Publish(ctx, r)
}
