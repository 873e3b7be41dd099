package authn

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/cache"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

var testPrefixes = Prefixes{Key: "lk", Secret: "lks", Personal: "lp", Admin: "la", Bootstrap: "lb"}

type fixture struct {
	st  *cache.Store
	r   *Resolver
	now time.Time
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f := &fixture{now: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	f.st = cache.New(db, cache.Options{TTL: time.Hour, NegativeTTL: time.Hour, Size: 200_000, Now: clock})
	f.r = NewResolver(f.st, testPrefixes, clock)
	if err := f.st.CreateUser(tb.Context(), store.User{ID: "u1", Email: "u1@example.com", EmailNorm: "u1@example.com"}, store.Event{}); err != nil {
		tb.Fatal(err)
	}
	return f
}

// key creates a key and returns its token (or, for key_secret, its secret).
func (f *fixture) key(tb testing.TB, id, format string, expires *time.Time) string {
	tb.Helper()
	prefix, kind := "lk", store.KindKeyToken
	if format == store.FormatKeySecret {
		prefix, kind = "lks", store.KindKeySecret
	}
	tok, err := credential.Generate(prefix)
	if err != nil {
		tb.Fatal(err)
	}
	k := store.Key{ID: id, Name: id, Format: format, Owner: "u1", ExpiresAt: expires}
	if err := f.st.CreateKey(tb.Context(), k, store.Secret{Hash: credential.Hash(tok), Kind: kind, ID: id}, nil, store.Event{}); err != nil {
		tb.Fatal(err)
	}
	return tok
}

func TestResolve(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tok := f.key(t, "k1", store.FormatToken, nil)
	secret := f.key(t, "k2", store.FormatKeySecret, nil)
	past := f.now.Add(-time.Second)
	expired := f.key(t, "k3", store.FormatToken, &past)
	personal, _ := credential.Generate("lp")
	if err := f.st.CreateToken(ctx, store.Token{ID: "t1", Kind: store.KindPersonal, UserID: "u1", Hash: credential.Hash(personal)}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	boot := "an-operator-chosen-bootstrap-token-0123"
	if _, err := f.st.InitBootstrap(ctx, store.Token{ID: "bootstrap", Kind: store.KindBootstrap, Hash: credential.Hash(boot)}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	unknown, _ := credential.Generate("lk")
	badsum := tok[:len(tok)-1] + map[bool]string{true: "b", false: "a"}[tok[len(tok)-1] == 'a']
	otherPrefix, _ := credential.Generate("zz")

	tests := []struct {
		name      string
		p         Presented
		wantType  string
		wantID    string
		wantError string // "", invalid_token or expired
	}{
		{"key token", Presented{Source: SourceBearer, Token: tok}, TypeKey, "k1", ""},
		{"key secret as basic", Presented{Source: SourceBasic, Token: secret, KeyID: "k2"}, TypeKey, "k2", ""},
		{"key secret alone", Presented{Source: SourceBearer, Token: secret}, "", "", ReasonInvalid},
		{"key secret with the wrong key id", Presented{Source: SourceBasic, Token: secret, KeyID: "k1"}, "", "", ReasonInvalid},
		{"key token as basic secret", Presented{Source: SourceBasic, Token: tok, KeyID: "k1"}, "", "", ReasonInvalid},
		{"expired key", Presented{Source: SourceBearer, Token: expired}, "", "", ReasonExpired},
		{"personal token", Presented{Source: SourceBearer, Token: personal}, TypePersonal, "t1", ""},
		{"bootstrap", Presented{Source: SourceBearer, Token: boot}, TypeBootstrap, "bootstrap", ""},
		{"bootstrap as basic", Presented{Source: SourceBasic, Token: boot, KeyID: "x"}, "", "", ReasonInvalid},
		{"unknown", Presented{Source: SourceBearer, Token: unknown}, "", "", ReasonInvalid},
		{"bad checksum", Presented{Source: SourceBearer, Token: badsum}, "", "", ReasonInvalid},
		{"unconfigured prefix", Presented{Source: SourceBearer, Token: otherPrefix}, "", "", ReasonInvalid},
		{"short garbage", Presented{Source: SourceBearer, Token: "abc"}, "", "", ReasonInvalid},
		{"too long", Presented{Source: SourceBearer, Token: string(make([]byte, MaxTokenLen+1))}, "", "", ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := f.r.Resolve(ctx, tt.p)
			if tt.wantError != "" {
				var ref *RefusedError
				if !errors.As(err, &ref) || ref.Reason != tt.wantError {
					t.Fatalf("err = %v, want a refusal %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Type != tt.wantType || id.ID != tt.wantID {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

// TestCheckShape: what the resolver refuses before any lookup, without a store. serve uses it
// on LANYARD_BOOTSTRAP_TOKEN, so a chosen token it refuses can never be one that works.
func TestCheckShape(t *testing.T) {
	gen := func(prefix string) string {
		tok, err := credential.Generate(prefix)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	boot := gen("lb")
	badsum := boot[:len(boot)-1] + map[bool]string{true: "b", false: "a"}[boot[len(boot)-1] == 'a']
	tests := []struct {
		name  string
		tok   string
		basic bool
		ok    bool
	}{
		{"operator-chosen", "an-operator-chosen-bootstrap-token-0123", false, true},
		{"32 characters", strings.Repeat("x", 32), false, true},
		{"MaxTokenLen characters", strings.Repeat("x", MaxTokenLen), false, true},
		{"a generated bootstrap token", boot, false, true},
		{"a key token", gen("lk"), false, true},
		{"a key secret", gen("lks"), true, true},
		{"31 characters", strings.Repeat("x", 31), false, false},
		{"too long", strings.Repeat("x", MaxTokenLen+1), false, false},
		{"a lanyard token's shape with a bad checksum", badsum, false, false},
		{"an unconfigured prefix", gen("zz"), false, false},
		{"a key secret alone", gen("lks"), false, false},
		{"a token as a Basic secret", boot, true, false},
		{"an operator-chosen token as a Basic secret", "an-operator-chosen-bootstrap-token-0123", true, false},
	}
	for _, tt := range tests {
		err := testPrefixes.CheckShape(tt.tok, tt.basic)
		var ref *RefusedError
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case !tt.ok && !errors.As(err, &ref):
			t.Errorf("%s: err = %v, want a refusal", tt.name, err)
		}
	}
}

func TestPrincipalAndAdmin(t *testing.T) {
	tests := []struct {
		id        Identity
		principal string
		admin     bool
	}{
		{Identity{Type: TypeKey, ID: "k", UserID: "u"}, "user:u", false},
		{Identity{Type: TypeKey, ID: "k"}, "key:k", false},
		{Identity{Type: TypePersonal, ID: "t", UserID: "u"}, "user:u", false},
		{Identity{Type: TypeAdmin, ID: "a", UserID: "u"}, "user:u", true},
		{Identity{Type: TypeBootstrap, ID: "bootstrap"}, "", true},
	}
	for _, tt := range tests {
		if got := tt.id.Principal(); got != tt.principal {
			t.Errorf("%+v.Principal() = %q, want %q", tt.id, got, tt.principal)
		}
		if got := tt.id.Admin(); got != tt.admin {
			t.Errorf("%+v.Admin() = %v, want %v", tt.id, got, tt.admin)
		}
	}
}

func TestUsageIsBatched(t *testing.T) {
	f := newFixture(t)
	tok := f.key(t, "k1", store.FormatToken, nil)
	for i := 0; i < 3; i++ {
		if _, err := f.r.Resolve(t.Context(), Presented{Source: SourceBearer, Token: tok}); err != nil {
			t.Fatal(err)
		}
	}
	k, _ := f.st.GetKey(t.Context(), "k1")
	if k.LastUsedAt != nil {
		t.Fatal("last_used_at was written on the request path")
	}
	if err := f.r.FlushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	k, _ = f.st.GetKey(t.Context(), "k1")
	if k.LastUsedAt == nil || !k.LastUsedAt.Equal(f.now) {
		t.Fatalf("last_used_at = %v, want %v", k.LastUsedAt, f.now)
	}
}

func TestResolveCachedKeyAllocatesNothing(t *testing.T) {
	f := newFixture(t)
	p := Presented{Source: SourceBearer, Token: f.key(t, "k1", store.FormatToken, nil)}
	unknown, _ := credential.Generate("lk")
	q := Presented{Source: SourceBearer, Token: unknown}
	_, _ = f.r.Resolve(t.Context(), p)
	_, _ = f.r.Resolve(t.Context(), q)
	ctx := t.Context()
	if n := testing.AllocsPerRun(200, func() { _, _ = f.r.Resolve(ctx, p) }); n != 0 {
		t.Errorf("resolving a cached key allocates %v times", n)
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = f.r.Resolve(ctx, q) }); n != 0 {
		t.Errorf("resolving a cached unknown key allocates %v times", n)
	}
}

// FuzzResolve: any presented token is resolved or refused, never a panic or a store error.
func FuzzResolve(f *testing.F) {
	fx := newFixture(f)
	tok := fx.key(f, "k1", store.FormatToken, nil)
	f.Add(tok, "")
	f.Add("lks_0000000000000000000000000000000000", "k1")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, token, keyID string) {
		src := SourceBearer
		if keyID != "" {
			src = SourceBasic
		}
		_, err := fx.r.Resolve(t.Context(), Presented{Source: src, Token: token, KeyID: keyID})
		var ref *RefusedError
		if err != nil && !errors.As(err, &ref) {
			t.Fatalf("Resolve(%q, %q) = %v", token, keyID, err)
		}
	})
}

func benchResolve(b *testing.B, keys int) {
	f := newFixture(b)
	var tok string
	for i := 0; i < keys; i++ {
		tok = f.key(b, "k"+strconv.Itoa(i), store.FormatToken, nil)
		if _, err := f.r.Resolve(b.Context(), Presented{Source: SourceBearer, Token: tok}); err != nil {
			b.Fatal(err)
		}
	}
	p := Presented{Source: SourceBearer, Token: tok}
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.r.Resolve(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveCachedKey is the in-process hot path: a known key resolved from the cache.
func BenchmarkResolveCachedKey(b *testing.B) { benchResolve(b, 1) }

// BenchmarkResolveCachedKey10k is the same with 10,000 keys cached.
func BenchmarkResolveCachedKey10k(b *testing.B) { benchResolve(b, 10_000) }

// BenchmarkResolveUnknownKey is a well-formed but unknown token, answered by the negative cache.
func BenchmarkResolveUnknownKey(b *testing.B) {
	f := newFixture(b)
	tok, _ := credential.Generate("lk")
	p := Presented{Source: SourceBearer, Token: tok}
	ctx := b.Context()
	_, _ = f.r.Resolve(ctx, p)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f.r.Resolve(ctx, p)
	}
}

// BenchmarkCreateAndVerify creates a key in the store and verifies it twice (a cache miss,
// then a hit): the whole life of a new key in process.
func BenchmarkCreateAndVerify(b *testing.B) {
	f := newFixture(b)
	ctx := b.Context()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		tok := f.key(b, "b"+strconv.Itoa(i), store.FormatToken, nil)
		p := Presented{Source: SourceBearer, Token: tok}
		for j := 0; j < 2; j++ {
			if _, err := f.r.Resolve(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkBaselineHashToken is the floor every lookup by hash pays: SHA-256 of the token. The
// resolve benchmarks above are read as ratios against it, measured in the same run.
func BenchmarkBaselineHashToken(b *testing.B) {
	tok, _ := credential.Generate("lk")
	b.ReportAllocs()
	for b.Loop() {
		_ = credential.Hash(tok)
	}
}

// TestNamed: what a token names when presented alone (leaked-token revocation) — the same
// checks and lookup as Resolve, and nothing for what no longer works by itself.
func TestNamed(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tok := f.key(t, "k1", store.FormatToken, nil)
	secret := f.key(t, "k2", store.FormatKeySecret, nil)
	personal, _ := credential.Generate("lp")
	past := f.now.Add(-time.Second)
	if err := f.st.CreateToken(ctx, store.Token{ID: "t1", Kind: store.KindPersonal, UserID: "u1", Hash: credential.Hash(personal), ExpiresAt: &past}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	unknown, _ := credential.Generate("lk")
	badsum := tok[:len(tok)-1] + map[bool]string{true: "b", false: "a"}[tok[len(tok)-1] == 'a']
	other, _ := credential.Generate("zz")
	tests := []struct {
		name, tok string
		wantID    string // "" for nothing named
	}{
		{"a key's token", tok, "k1"},
		{"a key+secret's secret alone", secret, "k2"},
		{"an expired personal token", personal, ""},
		{"an unknown token", unknown, ""},
		{"a bad checksum", badsum, ""},
		{"a prefix this server does not issue", other, ""},
		{"garbage", "abc", ""},
	}
	for _, tt := range tests {
		res, err := f.r.Named(ctx, tt.tok)
		var ref *RefusedError
		switch {
		case tt.wantID == "" && !errors.As(err, &ref):
			t.Errorf("%s: Named = %+v, %v; want a refusal", tt.name, res, err)
		case tt.wantID != "" && (err != nil || res.Secret.ID != tt.wantID):
			t.Errorf("%s: Named = %+v, %v; want %s", tt.name, res.Secret, err, tt.wantID)
		}
	}
}

// TestActing: the identity a principal acts with, as Resolve would give it, or nil.
func TestActing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.key(t, "k1", store.FormatToken, nil)
	past := f.now.Add(-time.Second)
	f.key(t, "k-old", store.FormatToken, &past)
	tests := []struct {
		principal string
		wantType  string // "" for nil
		wantAs    string
	}{
		{"user:u1", TypePersonal, "user:u1"},
		{"user:ghost", "", ""},
		{"key:k1", TypeKey, "user:u1"},
		{"key:k-old", "", ""},
		{"key:ghost", "", ""},
	}
	for _, tt := range tests {
		id, err := f.r.Acting(ctx, tt.principal)
		if err != nil {
			t.Fatalf("Acting(%s): %v", tt.principal, err)
		}
		if tt.wantType == "" {
			if id != nil {
				t.Errorf("Acting(%s) = %+v, want nil", tt.principal, id)
			}
			continue
		}
		if id == nil || id.Type != tt.wantType || id.Principal() != tt.wantAs {
			t.Errorf("Acting(%s) = %+v, want a %s acting as %s", tt.principal, id, tt.wantType, tt.wantAs)
		}
	}
}
