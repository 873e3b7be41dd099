package authz

import (
	"context"
	"errors"

	"github.com/lanyardhq/lanyard/internal/store"
)

// maxDepth bounds a walk up the resource tree read from a store.View (the schema allows no
// cycle; this keeps a corrupt store from hanging a request).
const maxDepth = 64

// In returns an Authorizer that reads the resource tree and the grants from v — the state a
// change's transaction sees — instead of the caches: what a store.Guard decides with it cannot
// be changed by another writer before the change is written.
func (a *Authorizer) In(v store.View) *Authorizer {
	b := *a
	b.tree = viewTree{v: v}
	return &b
}

// viewTree is a Tree over a store.View.
type viewTree struct{ v store.View }

func (t viewTree) Resource(ctx context.Context, ref string) (store.Resource, error) {
	return t.v.GetResource(ctx, ref)
}

func (t viewTree) Grants(ctx context.Context, principal string) (map[string]string, error) {
	gs, err := t.v.GrantsOf(ctx, principal)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(gs))
	for _, g := range gs {
		m[g.Resource] = g.Role
	}
	return m, nil
}

func (t viewTree) Ancestry(ctx context.Context, ref string) ([]string, error) {
	var chain []string
	for cur := ref; cur != ""; {
		if len(chain) == maxDepth {
			return nil, errors.New("authz: the resource tree is deeper than any schema allows")
		}
		r, err := t.v.GetResource(ctx, cur)
		if err != nil {
			return nil, err
		}
		chain = append(chain, cur)
		cur = r.Parent
	}
	return chain, nil
}
