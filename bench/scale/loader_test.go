package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store/postgres"
	"github.com/lanyardhq/lanyard/internal/store/postgres/pgtest"
)

func TestTokensAreDerivedFromTheSeed(t *testing.T) {
	d := dataset{Keys: 10, Orgs: 3, Seed: "s"}
	seen := map[string]bool{}
	for i := range d.Keys {
		tok := d.token(i)
		if p, ok := credential.Parse(tok); !ok || p != keyPrefix {
			t.Fatalf("token %d = %q: not a token of prefix %q", i, tok, keyPrefix)
		}
		if tok != d.token(i) {
			t.Fatalf("token %d changed between two derivations", i)
		}
		if seen[tok] {
			t.Fatalf("token %d repeats another", i)
		}
		seen[tok] = true
	}
	if (dataset{Seed: "t"}).token(0) == d.token(0) {
		t.Error("two seeds derived the same token")
	}
	if d.orgRef(4) != "organization/o1" || !credential.ValidID(keyID(9)) {
		t.Errorf("key 4 belongs to %s, key 9 has the id %q", d.orgRef(4), keyID(9))
	}
}

// TestLoad loads a small dataset and checks that the real store resolves its tokens, that the
// indexes are the migrations' own, that a second load of the same dataset does nothing and
// that another dataset is refused.
func TestLoad(t *testing.T) {
	dsn := pgtest.Database(t)
	d := dataset{Keys: 1000, Orgs: 10, Seed: t.Name()}
	rep, err := load(t.Context(), dsn, d, 300, nil) // batches that do not divide the keys
	if err != nil {
		t.Fatal(err)
	}
	if rep.Already || rep.Sizes["keys"] == 0 || rep.Database < rep.Sizes["secrets"] {
		t.Errorf("report: %+v", rep)
	}

	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, i := range []int{0, 299, 300, 999} {
		res, err := st.Resolve(t.Context(), credential.Hash(d.token(i)))
		if err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		k := res.Key
		if k == nil || k.ID != keyID(i) || k.Resource != d.orgRef(i) || k.Role != keyRole || k.Owner != "" ||
			k.Prefix != credential.DisplayPrefix(d.token(i)) {
			t.Fatalf("key %d resolved to %+v", i, k)
		}
		gs, err := st.GrantsOf(t.Context(), "key:"+keyID(i))
		if err != nil || len(gs) != 1 || gs[0].Resource != d.orgRef(i) || gs[0].Role != keyRole {
			t.Fatalf("grants of key %d: %+v, %v", i, gs, err)
		}
		if _, err := st.GetResource(t.Context(), d.orgRef(i)); err != nil {
			t.Fatalf("the resource of key %d: %v", i, err)
		}
	}

	// The indexes are exactly those of a database the migrations alone made.
	fresh := pgtest.Database(t)
	st2, err := postgres.Open(t.Context(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	st2.Close()
	if got, want := defsOf(t, dsn), defsOf(t, fresh); !slices.Equal(got, want) {
		t.Errorf("indexes after the load:\n%v\nof the migrations:\n%v", got, want)
	}

	again, err := load(t.Context(), dsn, d, 300, nil)
	if err != nil || !again.Already {
		t.Errorf("loading the same dataset again: %+v, %v", again, err)
	}
	for _, other := range []dataset{{Keys: 1000, Orgs: 10, Seed: "another"}, {Keys: 999, Orgs: 10, Seed: d.Seed}} {
		if _, err := load(t.Context(), dsn, other, 300, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("loading %+v over another dataset: %v", other, err)
		}
	}
}

// defsOf reads the index definitions of the loaded tables of the database dsn.
func defsOf(t *testing.T, dsn string) []indexDef {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(t.Context())
	defs, err := indexDefs(t.Context(), tx)
	if err != nil || len(defs) < len(indexedTables) {
		t.Fatalf("%v, %v", defs, err)
	}
	return defs
}
