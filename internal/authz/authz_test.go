package authz

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/cache"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

type scenario struct {
	Resources map[string]string `yaml:"resources"`
	Grants    []struct {
		Principal, Resource, Role string
	} `yaml:"grants"`
	Keys []struct {
		ID, Owner, Resource, Role string
	} `yaml:"keys"`
	Checks []struct {
		Who     string `yaml:"who"`
		Perm    string `yaml:"perm"`
		On      string `yaml:"on"`
		Allowed bool   `yaml:"allowed"`
	} `yaml:"checks"`
}

type world struct {
	st *cache.Store
	a  *Authorizer
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	st := cache.New(db, cache.Options{Size: 1 << 20})
	return &world{st: st, a: New(st, st, config.BuiltinRoles())}
}

func (w *world) resource(tb testing.TB, ref, parent string) {
	tb.Helper()
	typ, id, _ := ParseRef(ref)
	if err := w.st.CreateResource(tb.Context(), store.Resource{Type: typ, ID: id, Parent: parent}, store.Event{}); err != nil {
		tb.Fatalf("resource %s: %v", ref, err)
	}
}

func (w *world) user(tb testing.TB, id string) {
	tb.Helper()
	if _, err := w.st.GetUser(tb.Context(), id); err == nil {
		return
	}
	if err := w.st.CreateUser(tb.Context(), store.User{ID: id, Email: id + "@example.com"}, store.Event{}); err != nil {
		tb.Fatal(err)
	}
}

// load builds the scenario's world: resources parents first, users, grants, keys.
func (w *world) load(tb testing.TB, sc scenario) {
	tb.Helper()
	done := map[string]bool{}
	var add func(ref string)
	add = func(ref string) {
		if done[ref] {
			return
		}
		if p := sc.Resources[ref]; p != "" {
			add(p)
		}
		w.resource(tb, ref, sc.Resources[ref])
		done[ref] = true
	}
	for ref := range sc.Resources {
		add(ref)
	}
	for _, g := range sc.Grants {
		w.user(tb, strings.TrimPrefix(g.Principal, "user:"))
		if _, err := w.st.PutGrant(tb.Context(), store.Grant{Resource: g.Resource, Principal: g.Principal, Role: g.Role}, nil, store.Event{}); err != nil {
			tb.Fatal(err)
		}
	}
	for _, k := range sc.Keys {
		if k.Owner != "" {
			w.user(tb, k.Owner)
		}
		tok, _ := credential.Generate("lk")
		key := store.Key{ID: k.ID, Name: k.ID, Format: store.FormatToken, Owner: k.Owner, Resource: k.Resource, Role: k.Role}
		if err := w.st.CreateKey(tb.Context(), key, store.Secret{Hash: credential.Hash(tok), Kind: store.KindKeyToken, ID: k.ID}, nil, store.Event{}); err != nil {
			tb.Fatal(err)
		}
	}
}

// identity is who "user:<id>" or "key:<id>" acts as.
func (w *world) identity(tb testing.TB, who string) *authn.Identity {
	tb.Helper()
	kind, id, _ := strings.Cut(who, ":")
	if kind == "user" {
		return &authn.Identity{Type: authn.TypePersonal, ID: "t", UserID: id}
	}
	k, err := w.st.GetKey(tb.Context(), id)
	if err != nil {
		tb.Fatalf("key %s: %v", id, err)
	}
	return &authn.Identity{Type: authn.TypeKey, ID: k.ID, UserID: k.Owner, Key: &k}
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var sc scenario
			if err := yaml.Unmarshal(raw, &sc); err != nil {
				t.Fatal(err)
			}
			w := newWorld(t)
			w.load(t, sc)
			for _, c := range sc.Checks {
				perm, ok := config.ParsePermission(c.Perm)
				if !ok {
					t.Fatalf("bad permission %q", c.Perm)
				}
				id := w.identity(t, c.Who)
				got, err := w.a.Can(t.Context(), id, perm, c.On)
				if err != nil {
					t.Fatal(err)
				}
				explained, because, err := w.a.Explain(t.Context(), id, perm, c.On)
				if err != nil {
					t.Fatal(err)
				}
				if got != c.Allowed || explained != c.Allowed {
					t.Errorf("%s %s on %s: Can=%v Explain=%v, want %v (because %+v)", c.Who, c.Perm, c.On, got, explained, c.Allowed, because)
				}
				if because == nil || because.Reason == "" {
					t.Errorf("%s %s on %s: no explanation", c.Who, c.Perm, c.On)
				}
				if c.Allowed && (because.Grant == nil || len(because.Path) == 0 || because.Path[len(because.Path)-1] != because.Grant.Resource) {
					t.Errorf("%s %s on %s: explanation %+v does not name the grant and its path", c.Who, c.Perm, c.On, because)
				}
			}
		})
	}
}

// TestPermissionMatrix: every role × direct/inherited grant × every permission, and never
// upward.
func TestPermissionMatrix(t *testing.T) {
	w := newWorld(t)
	w.resource(t, "organization/o", "")
	w.resource(t, "project/p", "organization/o")
	roles := config.BuiltinRoles()
	for role, r := range roles {
		for _, where := range []string{"direct", "inherited"} {
			uid := role + "-" + where
			w.user(t, uid)
			on := "project/p"
			if where == "inherited" {
				on = "organization/o"
			}
			if _, err := w.st.PutGrant(t.Context(), store.Grant{Resource: on, Principal: "user:" + uid, Role: role}, nil, store.Event{}); err != nil {
				t.Fatal(err)
			}
			for _, perm := range []config.Perms{config.PermRead, config.PermWrite, config.PermManage} {
				got, err := w.a.Can(t.Context(), w.identity(t, "user:"+uid), perm, "project/p")
				if err != nil {
					t.Fatal(err)
				}
				if want := r.Perms.Has(perm); got != want {
					t.Errorf("%s grant of %s: %s on the project = %v, want %v", where, role, perm, got, want)
				}
				if where == "direct" {
					up, _ := w.a.Can(t.Context(), w.identity(t, "user:"+uid), perm, "organization/o")
					if up {
						t.Errorf("a %s grant on the project gave %s on the organization", role, perm)
					}
				}
			}
		}
	}
}

// TestChangesTakeEffectAtOnce: removing a grant or moving a resource is honoured by the very
// next check, although decisions are cached.
func TestChangesTakeEffectAtOnce(t *testing.T) {
	w := newWorld(t)
	w.resource(t, "organization/a", "")
	w.resource(t, "organization/b", "")
	w.resource(t, "project/p", "organization/a")
	w.user(t, "u")
	ctx := t.Context()
	if _, err := w.st.PutGrant(ctx, store.Grant{Resource: "organization/a", Principal: "user:u", Role: "admin"}, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	id := w.identity(t, "user:u")
	if ok, _ := w.a.Can(ctx, id, config.PermManage, "project/p"); !ok {
		t.Fatal("admin of a cannot manage its project")
	}
	if _, err := w.st.UpdateResource(ctx, "project/p", func(r *store.Resource) error { r.Parent = "organization/b"; return nil }, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := w.a.Can(ctx, id, config.PermRead, "project/p"); ok {
		t.Fatal("a moved project is still reachable through its old parent")
	}
	if _, err := w.st.UpdateResource(ctx, "project/p", func(r *store.Resource) error { r.Parent = "organization/a"; return nil }, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := w.a.Can(ctx, id, config.PermRead, "project/p"); !ok {
		t.Fatal("moving back did not restore access")
	}
	if err := w.st.DeleteGrant(ctx, "organization/a", "user:u", nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := w.a.Can(ctx, id, config.PermRead, "project/p"); ok {
		t.Fatal("a removed grant still allows")
	}
}

func TestCheckAllocatesNothing(t *testing.T) {
	w := newWorld(t)
	w.resource(t, "organization/o", "")
	w.resource(t, "project/p", "organization/o")
	w.user(t, "u")
	if _, err := w.st.PutGrant(t.Context(), store.Grant{Resource: "organization/o", Principal: "user:u", Role: "member"}, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	// The identity comes from the resolver, as on a real request: its principal is computed
	// once, when the credential was cached.
	tok, _ := credential.Generate("lk")
	k := store.Key{ID: "k", Name: "k", Format: store.FormatToken, Owner: "u"}
	if err := w.st.CreateKey(t.Context(), k, store.Secret{Hash: credential.Hash(tok), Kind: store.KindKeyToken, ID: "k"}, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	r := authn.NewResolver(w.st, authn.Prefixes{Key: "lk"}, nil)
	resolved, err := r.Resolve(t.Context(), authn.Presented{Source: authn.SourceBearer, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	id := &resolved
	ctx := t.Context()
	_, _ = w.a.Can(ctx, id, config.PermWrite, "project/p")
	_, _ = w.a.Can(ctx, id, config.PermManage, "project/p")
	if n := testing.AllocsPerRun(100, func() { _, _ = w.a.Can(ctx, id, config.PermWrite, "project/p") }); n != 0 {
		t.Errorf("an allowed check allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = w.a.Can(ctx, id, config.PermManage, "project/p") }); n != 0 {
		t.Errorf("a refused check allocates %v times", n)
	}
}

// deepTree builds a tree of six levels with fan-out 10 (111,111 resources) in the schema
// t0 > t1 > … > t5 and returns a leaf and the root.
func deepTree(b *testing.B, w *world) (leaf string) {
	b.Helper()
	level := []string{"t0/r"}
	w.resource(b, "t0/r", "")
	for depth := 1; depth < 6; depth++ {
		var next []string
		for _, parent := range level {
			for i := 0; i < 10; i++ {
				ref := "t" + strconv.Itoa(depth) + "/" + strings.ReplaceAll(strings.TrimPrefix(parent, "t"+strconv.Itoa(depth-1)+"/"), "/", "") + "-" + strconv.Itoa(i)
				w.resource(b, ref, parent)
				next = append(next, ref)
			}
		}
		level = next
	}
	return level[len(level)-1]
}

// BenchmarkCheckDeepTree: a check on a leaf of a 111,111-resource tree of depth 6, allowed by a
// grant at the root, with the tree warm in the cache. BenchmarkCheckBaselineDirect (a grant on
// the leaf itself) is the baseline of the same run.
func BenchmarkCheckDeepTree(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 111,111-resource tree")
	}
	w := newWorld(b)
	leaf := deepTree(b, w)
	w.user(b, "u")
	if _, err := w.st.PutGrant(b.Context(), store.Grant{Resource: "t0/r", Principal: "user:u", Role: "observer"}, nil, store.Event{}); err != nil {
		b.Fatal(err)
	}
	id := w.identity(b, "user:u")
	ctx := b.Context()
	if ok, _ := w.a.Can(ctx, id, config.PermRead, leaf); !ok {
		b.Fatal("not allowed")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if ok, _ := w.a.Can(ctx, id, config.PermRead, leaf); !ok {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkCheckManyGrants: one principal holds 10,000 grants; a check on a project under one
// of them.
func BenchmarkCheckManyGrants(b *testing.B) {
	w := newWorld(b)
	w.user(b, "u")
	w.resource(b, "organization/o", "")
	for i := 0; i < 10_000; i++ {
		ref := "project/p" + strconv.Itoa(i)
		w.resource(b, ref, "organization/o")
		if _, err := w.st.PutGrant(b.Context(), store.Grant{Resource: ref, Principal: "user:u", Role: "member"}, nil, store.Event{}); err != nil {
			b.Fatal(err)
		}
	}
	id := w.identity(b, "user:u")
	ctx := b.Context()
	target := "project/p9999"
	if ok, _ := w.a.Can(ctx, id, config.PermWrite, target); !ok {
		b.Fatal("not allowed")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if ok, _ := w.a.Can(ctx, id, config.PermWrite, target); !ok {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkCheckBaselineDirect is the baseline: a grant on the checked resource itself, in a
// two-resource tree.
func BenchmarkCheckBaselineDirect(b *testing.B) {
	w := newWorld(b)
	w.resource(b, "organization/o", "")
	w.user(b, "u")
	if _, err := w.st.PutGrant(b.Context(), store.Grant{Resource: "organization/o", Principal: "user:u", Role: "member"}, nil, store.Event{}); err != nil {
		b.Fatal(err)
	}
	id := w.identity(b, "user:u")
	ctx := b.Context()
	_, _ = w.a.Can(ctx, id, config.PermWrite, "organization/o")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = w.a.Can(ctx, id, config.PermWrite, "organization/o")
	}
}

// TestDeciders pins the named decisions handlers ask of authz, and that each refusal is a 403
// carrying its reason.
func TestDeciders(t *testing.T) {
	past := time.Now()
	admin := &authn.Identity{Type: authn.TypeAdmin, ID: "a", UserID: "u"}
	user := &authn.Identity{Type: authn.TypePersonal, ID: "t", UserID: "u"}
	fullKey := &authn.Identity{Type: authn.TypeKey, ID: "k", UserID: "u", Key: &store.Key{ID: "k", Owner: "u"}}
	netKey := &authn.Identity{Type: authn.TypeKey, ID: "n", UserID: "u", Key: &store.Key{ID: "n", Owner: "u", AllowedCIDRs: []string{"10.0.0.0/8"}}}
	expKey := &authn.Identity{Type: authn.TypeKey, ID: "e", UserID: "u", Key: &store.Key{ID: "e", Owner: "u", ExpiresAt: &past}}
	tests := []struct {
		name  string
		err   error
		allow bool
	}{
		{"admin sets spending", SetsSpending(admin), true},
		{"user sets spending", SetsSpending(user), false},
		{"admin creates a root", CreatesRoot(admin), true},
		{"user creates a root", CreatesRoot(user), false},
		{"admin reads the whole audit", ReadsWholeAudit(admin), true},
		{"user reads the whole audit", ReadsWholeAudit(user), false},
		{"user gives grants", GivesGrants(user), true},
		{"full key gives grants", GivesGrants(fullKey), true},
		{"network key gives grants", GivesGrants(netKey), false},
		{"expiring key gives grants", GivesGrants(expKey), false},
		{"full key changes limits", ChangesKeyLimits(fullKey), true},
		{"network key changes limits", ChangesKeyLimits(netKey), false},
		{"limited key reissues itself", Reissues(netKey, "n"), true},
		{"limited key reissues another", Reissues(netKey, "k"), false},
		{"full key reissues another", Reissues(fullKey, "n"), true},
		{"user ends all sessions", EndsAllSessions(user), true},
		{"limited key ends all sessions", EndsAllSessions(expKey), false},
	}
	for _, tt := range tests {
		var fb *Forbidden
		switch {
		case tt.allow && tt.err != nil:
			t.Errorf("%s: refused: %v", tt.name, tt.err)
		case !tt.allow && (!errors.As(tt.err, &fb) || fb.Reason == "" || !errors.Is(tt.err, ErrForbidden)):
			t.Errorf("%s: %v, want a *Forbidden with a reason", tt.name, tt.err)
		}
	}
}
