package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// tree caches what authorization reads on every request: each resource's record (its parent
// above all) and each principal's grants. Any write that changes the tree or a grant clears it
// whole before the write returns: writes are rare next to checks, a cleared entry is read again
// on demand, and a wholesale clear cannot miss a dependent entry (no "new enemy" window).
type tree struct {
	mu        sync.RWMutex
	gen       uint64
	resources map[string]resourceEntry
	grants    map[string]grantsEntry
	ancestry  map[string]ancestryEntry
}

type ancestryEntry struct {
	chain []string
	until time.Time
}

// maxDepth bounds a walk up the tree. The schema has no cycles, so a real tree is at most as
// deep as it has types; this only guards against a corrupt store.
const maxDepth = 64

type resourceEntry struct {
	r        store.Resource
	negative bool
	until    time.Time
}

type grantsEntry struct {
	byResource map[string]string
	until      time.Time
}

func newTree() tree {
	return tree{
		resources: make(map[string]resourceEntry),
		grants:    make(map[string]grantsEntry),
		ancestry:  make(map[string]ancestryEntry),
	}
}

// Ancestry returns ref and its ancestors, nearest first, from memory when it can
// (authz.Tree): one lookup answers a whole walk up the tree however deep it is.
func (c *Store) Ancestry(ctx context.Context, ref string) ([]string, error) {
	now := c.opts.Now()
	t := &c.tree
	t.mu.RLock()
	e, ok := t.ancestry[ref]
	gen := t.gen
	t.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.chain, nil
	}
	var chain []string
	cur := ref
	for depth := 0; cur != "" && depth < maxDepth; depth++ {
		r, err := c.Resource(ctx, cur)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) && depth > 0 {
				break // a parent vanished mid-walk: nothing above it counts
			}
			return nil, err
		}
		chain = append(chain, cur)
		cur = r.Parent
	}
	t.mu.Lock()
	if t.gen == gen {
		putBounded(t.ancestry, ref, ancestryEntry{chain: chain, until: now.Add(c.opts.TTL)}, c.opts.Size)
	}
	t.mu.Unlock()
	return chain, nil
}

// Resource returns the resource ref from memory when it can (authz.Tree).
func (c *Store) Resource(ctx context.Context, ref string) (store.Resource, error) {
	now := c.opts.Now()
	c.tree.mu.RLock()
	e, ok := c.tree.resources[ref]
	gen := c.tree.gen
	c.tree.mu.RUnlock()
	if ok && now.Before(e.until) {
		if e.negative {
			return store.Resource{}, store.ErrNotFound
		}
		return e.r, nil
	}
	r, err := c.Store.GetResource(ctx, ref)
	switch {
	case err == nil:
		c.fillResource(ref, gen, resourceEntry{r: r, until: now.Add(c.opts.TTL)})
	case errors.Is(err, store.ErrNotFound):
		c.fillResource(ref, gen, resourceEntry{negative: true, until: now.Add(c.opts.NegativeTTL)})
	}
	return r, err
}

func (c *Store) fillResource(ref string, gen uint64, e resourceEntry) {
	t := &c.tree
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen {
		return
	}
	putBounded(t.resources, ref, e, c.opts.Size)
}

// Grants returns a principal's grants as resource → role from memory when it can (authz.Tree).
// The map is shared: callers must not modify it.
func (c *Store) Grants(ctx context.Context, principal string) (map[string]string, error) {
	now := c.opts.Now()
	c.tree.mu.RLock()
	e, ok := c.tree.grants[principal]
	gen := c.tree.gen
	c.tree.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.byResource, nil
	}
	gs, err := c.Store.GrantsOf(ctx, principal)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(gs))
	for _, g := range gs {
		m[g.Resource] = g.Role
	}
	t := &c.tree
	t.mu.Lock()
	if t.gen == gen {
		putBounded(t.grants, principal, grantsEntry{byResource: m, until: now.Add(c.opts.TTL)}, c.opts.Size)
	}
	t.mu.Unlock()
	return m, nil
}

// ClearTree forgets every cached resource and grant. Every write below calls it; a cross-node
// notification calls it too.
func (c *Store) ClearTree() {
	t := &c.tree
	t.mu.Lock()
	t.gen++
	t.resources = make(map[string]resourceEntry)
	t.grants = make(map[string]grantsEntry)
	t.ancestry = make(map[string]ancestryEntry)
	t.mu.Unlock()
}

func (c *Store) CreateResource(ctx context.Context, r store.Resource, ev store.Event) error {
	err := c.Store.CreateResource(ctx, r, ev)
	c.ClearTree()
	return err
}

func (c *Store) UpdateResource(ctx context.Context, ref string, fn func(*store.Resource) error, guard store.Guard, ev store.Event) (store.Resource, error) {
	r, err := c.Store.UpdateResource(ctx, ref, fn, guard, ev)
	c.ClearTree()
	c.publish(ctx, store.Revoked{}, err) // a move takes the subtree out of its old ancestors' reach
	return r, err
}

func (c *Store) DeleteResource(ctx context.Context, ref string, guard store.Guard, ev store.Event) (store.Revoked, error) {
	r, err := c.Store.DeleteResource(ctx, ref, guard, ev)
	c.ClearTree()
	c.afterWrite(ctx, r, store.Revoked{Resources: []string{ref}}, err)
	return r, err
}

func (c *Store) PutGrant(ctx context.Context, g store.Grant, guard store.Guard, ev store.Event) (store.Grant, error) {
	out, err := c.Store.PutGrant(ctx, g, guard, ev)
	c.ClearTree()
	c.publish(ctx, store.Revoked{}, err) // a replaced grant may give a lesser role
	return out, err
}

func (c *Store) DeleteGrant(ctx context.Context, resource, principal string, guard store.Guard, ev store.Event) error {
	err := c.Store.DeleteGrant(ctx, resource, principal, guard, ev)
	c.ClearTree()
	c.publish(ctx, store.Revoked{}, err)
	return err
}

// putBounded stores v under k in m, first evicting an entry (map order is random: an O(1)
// random eviction) when m already holds size entries.
func putBounded[V any](m map[string]V, k string, v V, size int) {
	if _, ok := m[k]; !ok {
		for len(m) >= size {
			for victim := range m {
				delete(m, victim)
				break
			}
		}
	}
	m[k] = v
}
