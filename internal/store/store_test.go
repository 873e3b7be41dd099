package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{"  Ann@Example.COM \t", "ann@example.com"},
		{"\uff21LICE@example.com", "alice@example.com"}, // full-width A
		{"ＡＬＩＣＥ＠ｅｘａｍｐｌｅ．ｃｏｍ", "alice@example.com"},      // all full-width
		{"\u212Aate@example.com", "kate@example.com"},   // Kelvin sign
		{"KATE@EXAMPLE.COM", "kate@example.com"},
		{"\u0130VAN@example.com", "i\u0307van@example.com"}, // İ folds to i + combining dot
		{"ivan@example.com", "ivan@example.com"},
		{"STRASSE@example.com", "strasse@example.com"},
		{"stra\u00dfe@example.com", "strasse@example.com"},  // ß folds to ss
		{"\u1E9E@example.com", "ss@example.com"},            // capital sharp s
		{"caf\u00e9@example.com", "caf\u00e9@example.com"},  // é composed
		{"cafe\u0301@example.com", "caf\u00e9@example.com"}, // e + combining acute
		{"CAF\u00c9@example.com", "caf\u00e9@example.com"},
		{"\u03a3\u039f\u03a6\u0399\u0391@example.com", "\u03c3\u03bf\u03c6\u03b9\u03b1@example.com"}, // final sigma folds to σ
		{"\ufb01le@example.com", "file@example.com"},                                                 // the ﬁ ligature
		{"x\u2460@example.com", "x1@example.com"},                                                    // circled digit one
		{"\u3000bob@example.com\u3000", "bob@example.com"},                                           // ideographic spaces
		{"\u13a0\u13f0@example.com", "\u13a0\u13f0@example.com"},                                     // Cherokee folds to uppercase
		{"\uab70\u13f8@example.com", "\u13a0\u13f0@example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeEmail(tt.in); got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q (%+q), want %q (%+q)", tt.in, got, got, tt.want, tt.want)
		}
	}
	// The same account, and not the same account.
	same := []string{"\uff21LICE@example.com", "alice@example.com", "Alice@Example.com"}
	for _, e := range same[1:] {
		if NormalizeEmail(e) != NormalizeEmail(same[0]) {
			t.Errorf("%q and %q are not the same account", e, same[0])
		}
	}
	if NormalizeEmail("\u212Aate@example.com") != NormalizeEmail("kate@example.com") {
		t.Error("the Kelvin sign does not match K")
	}
	if NormalizeEmail("\u13a0@example.com") != NormalizeEmail("\uab70@example.com") {
		t.Error("Cherokee Ꭰ and ꭰ are not the same account")
	}
	if NormalizeEmail("\u0130VAN@example.com") == NormalizeEmail("ivan@example.com") {
		t.Error("İVAN@example.com is ivan@example.com")
	}
}

// TestNormalizeEmailIsIdempotent checks every code point (and a few sequences that change on a
// second pass): folding and NFKC reach a fixed point within the bound, and normalising a
// normalised email changes nothing, so a store may normalise what it is given even when the
// caller already did.
func TestNormalizeEmailIsIdempotent(t *testing.T) {
	if testing.Short() {
		t.Skip("walks every code point")
	}
	check := func(s string) {
		once, fixed := normalizeEmail(s)
		if !fixed {
			t.Errorf("NormalizeEmail(%+q): no fixed point in %d rounds", s, maxFoldRounds)
		}
		if twice := NormalizeEmail(once); twice != once {
			t.Errorf("NormalizeEmail(%+q) = %+q, but normalising that gives %+q", s, once, twice)
		}
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if utf8.ValidRune(r) {
			check("a" + string(r) + "b")
		}
	}
	for _, s := range []string{"\u0345\u0130", "\u1FB3\u0301", "\u0390\u1E9E", "\u0149", "\uFB05"} {
		check(s)
	}
}

func TestRevokedJSON(t *testing.T) {
	r := Revoked{KeyIDs: []string{"k1"}, Hashes: []Hash{{1, 2, 3}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"keys":["k1"],"hashes":["0102030000000000000000000000000000000000000000000000000000000000"]}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back Revoked
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("Unmarshal = %+v, %v; want %+v", back, err, r)
	}
	if b, _ := json.Marshal(Revoked{}); string(b) != "{}" {
		t.Errorf("an empty Revoked is %s, want {}", b)
	}
	for _, bad := range []string{`{"hashes":["01"]}`, `{"hashes":["` + strings.Repeat("zz", 32) + `"]}`, `{"hashes":["` + strings.Repeat("00", 33) + `"]}`, `{"keys":"k1"}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s) = nil error", bad)
		}
	}
}
