package credential

import (
	"hash/crc32"
	"regexp"
	"strings"
	"testing"
)

// refBase62 is an encoder written apart from putBase62, for known-answer tests.
func refBase62(v uint32, width int) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var s string
	for n := uint64(v); n > 0; n /= 62 {
		s = string(digits[n%62]) + s
	}
	return strings.Repeat("0", width-len(s)) + s
}

// refToken appends the checksum to head ("<prefix>_<random>") using hash/crc32 and
// refBase62.
func refToken(head string) string {
	return head + refBase62(crc32.ChecksumIEEE([]byte(head)), ChecksumLen)
}

func TestGenerateRoundTrip(t *testing.T) {
	for _, prefix := range []string{"lk", "lp", "a", "0", "0123456789abcdef"} {
		t.Run(prefix, func(t *testing.T) {
			seen := make(map[string]bool)
			for range 200 {
				tok, err := Generate(prefix)
				if err != nil {
					t.Fatalf("Generate(%q): %v", prefix, err)
				}
				if want := len(prefix) + 1 + RandomLen + ChecksumLen; len(tok) != want {
					t.Fatalf("len(%q) = %d, want %d", tok, len(tok), want)
				}
				if !strings.HasPrefix(tok, prefix+"_") {
					t.Fatalf("%q does not start with %q", tok, prefix+"_")
				}
				head := tok[:len(tok)-ChecksumLen]
				if got := refToken(head); got != tok {
					t.Fatalf("checksum of %q: got %q, want %q", head, tok, got)
				}
				p, ok := Parse(tok)
				if !ok || p != prefix {
					t.Fatalf("Parse(%q) = %q, %v; want %q, true", tok, p, ok, prefix)
				}
				if seen[tok] {
					t.Fatalf("Generate returned %q twice", tok)
				}
				seen[tok] = true
			}
		})
	}
}

func TestGenerateUsesWholeAlphabet(t *testing.T) {
	counts := make(map[byte]int)
	for range 400 {
		tok, err := Generate("lk")
		if err != nil {
			t.Fatal(err)
		}
		for i := 3; i < 3+RandomLen; i++ {
			counts[tok[i]]++
		}
	}
	// 10,800 draws over 62 characters: about 174 each. A missing or wildly rare character
	// means a broken mapping, not bad luck.
	for i := 0; i < len(base62Alphabet); i++ {
		if c := counts[base62Alphabet[i]]; c < 80 {
			t.Errorf("character %q drawn %d times in 10800", base62Alphabet[i], c)
		}
	}
	if len(counts) != 62 {
		t.Errorf("drew %d distinct characters, want 62", len(counts))
	}
}

func TestGenerateBadPrefix(t *testing.T) {
	for _, prefix := range []string{"", "LK", "l_k", "lk_", "lk-", "l k", "é", "0123456789abcdefg"} {
		if tok, err := Generate(prefix); err != ErrBadPrefix || tok != "" {
			t.Errorf("Generate(%q) = %q, %v; want \"\", ErrBadPrefix", prefix, tok, err)
		}
	}
}

func TestChecksumKnownAnswer(t *testing.T) {
	tests := []struct {
		head, want string
	}{
		// Computed outside Go (zlib.crc32 and a base62 encoder) and pinned here.
		{"lk_000000000000000000000000000", "lk_0000000000000000000000000002LHyc3"},
		{"lk_AbC123defGHI456jklMNO789pqr", "lk_AbC123defGHI456jklMNO789pqr1VCGxm"},
		{"lp_zzzzzzzzzzzzzzzzzzzzzzzzzzz", "lp_zzzzzzzzzzzzzzzzzzzzzzzzzzz1MNvIy"},
	}
	for _, tt := range tests {
		if got := refToken(tt.head); got != tt.want {
			t.Errorf("reference token of %q = %q, want %q", tt.head, got, tt.want)
		}
		if got := checksum(tt.head); got != crc32.ChecksumIEEE([]byte(tt.head)) {
			t.Errorf("checksum(%q) = %d, want %d", tt.head, got, crc32.ChecksumIEEE([]byte(tt.head)))
		}
		var buf [ChecksumLen]byte
		putBase62(buf[:], uint64(checksum(tt.head)))
		if got := tt.head + string(buf[:]); got != tt.want {
			t.Errorf("token of %q = %q, want %q", tt.head, got, tt.want)
		}
		if p, ok := Parse(tt.want); !ok || p != tt.want[:2] {
			t.Errorf("Parse(%q) = %q, %v", tt.want, p, ok)
		}
	}
	// Zero padding: the smallest and largest checksums.
	if got := refBase62(0, 6); got != "000000" {
		t.Errorf("refBase62(0) = %q", got)
	}
	var buf [ChecksumLen]byte
	putBase62(buf[:], 0xFFFFFFFF)
	if got, want := string(buf[:]), refBase62(0xFFFFFFFF, 6); got != want {
		t.Errorf("putBase62(MaxUint32) = %q, want %q", got, want)
	}
}

func TestParseRejects(t *testing.T) {
	const valid = "lk_AbC123defGHI456jklMNO789pqr1VCGxm"
	if _, ok := Parse(valid); !ok {
		t.Fatalf("Parse(%q) refused the valid token", valid)
	}
	body := valid[3:]
	tests := []struct {
		name, tok string
	}{
		{"empty", ""},
		{"no underscore", "lk" + body},
		{"only underscore", "_"},
		{"empty prefix", "_" + body},
		{"upper-case prefix", refToken("LK_AbC123defGHI456jklMNO789pqr")},
		{"prefix with dash", refToken("l-k_AbC123defGHI456jklMNO789pqr")},
		{"prefix with non-ASCII", refToken("lé_AbC123defGHI456jklMNO789pqr")},
		{"prefix too long", refToken("abcdefghijklmnopq_AbC123defGHI456jklMNO789pqr")},
		{"underscore in body", refToken("lk_AbC123def_HI456jklMNO789pqr")},
		{"two underscores", refToken("lk__bC123defGHI456jklMNO789pqr")},
		{"body too short", valid[:len(valid)-1]},
		{"body too long", valid + "0"},
		{"random part too short", refToken("lk_AbC123defGHI456jklMNO789pq")},
		{"random part too long", refToken("lk_AbC123defGHI456jklMNO789pqrs")},
		{"non-base62 in random", refToken("lk_AbC123defGHI456jklMNO789pq-")},
		{"non-base62 in checksum", valid[:len(valid)-1] + "-"},
		{"space", valid[:10] + " " + valid[11:]},
		{"NUL", valid[:10] + "\x00" + valid[11:]},
		{"bad checksum", valid[:len(valid)-1] + "n"},
		{"random changed", valid[:5] + "D" + valid[6:]},
		{"prefix changed", "lp" + valid[2:]},
		{"checksum of other prefix", "lp_" + valid[3:]},
		{"checksum case", valid[:len(valid)-6] + strings.ToLower(valid[len(valid)-6:])},
		{"leading space", " " + valid},
		{"trailing newline", valid + "\n"},
		{"over-long", strings.Repeat("a", 1<<16)},
		{"over-long prefix of valid", strings.Repeat("l", 100) + valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, ok := Parse(tt.tok); ok || p != "" {
				t.Errorf("Parse(%q) = %q, %v; want \"\", false", tt.tok, p, ok)
			}
		})
	}
}

func TestDisplayPrefix(t *testing.T) {
	tests := []struct {
		tok, want string
	}{
		{"lk_AbC123defGHI456jklMNO789pqr1VCGxm", "lk_AbC123"},
		{"lp_zzzzzzzzzzzzzzzzzzzzzzzzzzz1MNvIy", "lp_zzzzzz"},
		{"lk_AbC123defGHI456jklMNO789pqr1VCGxn", ""}, // bad checksum
		{"lk_AbC123", ""},
		{"not a token", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := DisplayPrefix(tt.tok); got != tt.want {
			t.Errorf("DisplayPrefix(%q) = %q, want %q", tt.tok, got, tt.want)
		}
	}
	tok, err := Generate("0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := DisplayPrefix(tok), tok[:17+6]; got != want {
		t.Errorf("DisplayPrefix(%q) = %q, want %q", tok, got, want)
	}
}

func TestPattern(t *testing.T) {
	tests := []struct {
		prefixes []string
		want     string
	}{
		{[]string{"lk", "lp"}, `\b(?:lk|lp)_[0-9A-Za-z]{33}\b`},
		{[]string{"lk", "lk", "BAD", "l_k"}, `\b(?:lk)_[0-9A-Za-z]{33}\b`},
		{nil, `\b[a-z0-9]{1,16}_[0-9A-Za-z]{33}\b`},
	}
	for _, tt := range tests {
		if got := Pattern(tt.prefixes...); got != tt.want {
			t.Errorf("Pattern(%q) = %q, want %q", tt.prefixes, got, tt.want)
		}
	}

	re := regexp.MustCompile(Pattern("lk", "lp"))
	for range 50 {
		for _, prefix := range []string{"lk", "lp"} {
			tok, err := Generate(prefix)
			if err != nil {
				t.Fatal(err)
			}
			for _, text := range []string{tok, "token=" + tok + "&x", `"` + tok + `"`, "Bearer " + tok + "\n"} {
				if got := re.FindString(text); got != tok {
					t.Errorf("pattern found %q in %q, want %q", got, text, tok)
				}
			}
		}
	}

	const tok = "lk_AbC123defGHI456jklMNO789pqr1VCGxm"
	for _, miss := range []string{
		tok[:len(tok)-1],          // 32 characters
		tok + "0",                 // 34 characters
		"lx" + tok[2:],            // other prefix
		"xlk" + tok[2:],           // prefix inside a longer word
		"LK" + tok[2:],            // upper-case prefix
		"lk-" + tok[3:],           // no underscore
		tok[:10] + "-" + tok[11:], // non-base62 in the body
		"a_" + tok,                // glued to a word by '_'
		tok + "_x",
	} {
		if re.MatchString(miss) {
			t.Errorf("pattern matches near miss %q", miss)
		}
	}

	generic := regexp.MustCompile(Pattern())
	for _, prefix := range []string{"a", "0123456789abcdef"} {
		tok, err := Generate(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if !generic.MatchString(tok) {
			t.Errorf("Pattern() does not match %q", tok)
		}
	}
}

func TestHotPathAllocs(t *testing.T) {
	tok, err := Generate("lk")
	if err != nil {
		t.Fatal(err)
	}
	bad := tok[:len(tok)-1] + "!"
	long := strings.Repeat("x", 500)
	tests := []struct {
		name string
		f    func()
	}{
		{"Parse", func() { Parse(tok) }},
		{"Parse refused", func() { Parse(bad) }},
		{"DisplayPrefix", func() { DisplayPrefix(tok) }},
		{"Hash", func() { Hash(tok) }},
		{"Hash 500 bytes", func() { Hash(long) }},
		{"ValidID", func() { ValidID("organization.acme-1") }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", tt.name, n)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	tok, err := Generate("lk")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Parse(tok); !ok {
			b.Fatal("Parse refused a generated token")
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate("lk"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGenerateFrom checks that a token drawn from a reader follows the reader: the same bytes
// make the same token, other bytes another, and a reader that runs dry is an error.
func TestGenerateFrom(t *testing.T) {
	seq := func(start byte) *strings.Reader {
		b := make([]byte, 256)
		for i := range b {
			b[i] = start + byte(i)
		}
		return strings.NewReader(string(b))
	}
	a, err := GenerateFrom("lk", seq(0))
	if err != nil {
		t.Fatal(err)
	}
	// Bytes 0, 1, 2 … are the characters 0, 1, 2 … of the alphabet.
	if want := refToken("lk_" + base62Alphabet[:RandomLen]); a != want {
		t.Errorf("GenerateFrom(0, 1, 2 …) = %q, want %q", a, want)
	}
	if again, _ := GenerateFrom("lk", seq(0)); again != a {
		t.Errorf("the same bytes made %q, then %q", a, again)
	}
	if other, _ := GenerateFrom("lk", seq(1)); other == a {
		t.Errorf("other bytes made the same token %q", a)
	}
	// Bytes of 248 and above are skipped, as Generate skips them.
	skipped, err := GenerateFrom("lk", seq(248))
	if err != nil {
		t.Fatal(err)
	}
	if want := refToken("lk_" + base62Alphabet[:RandomLen]); skipped != want {
		t.Errorf("GenerateFrom(248, 249 … 255, 0, 1 …) = %q, want %q", skipped, want)
	}
	if p, ok := Parse(skipped); !ok || p != "lk" {
		t.Errorf("Parse(%q) = %q, %v", skipped, p, ok)
	}
	if _, err := GenerateFrom("lk", strings.NewReader("short")); err == nil {
		t.Error("a reader that ran dry made a token")
	}
	if _, err := GenerateFrom("LK", seq(0)); err != ErrBadPrefix {
		t.Errorf("GenerateFrom(\"LK\") = %v, want ErrBadPrefix", err)
	}
	if _, err := GenerateFrom("lk", nil); err == nil {
		t.Error("GenerateFrom without a reader made a token")
	}
}
