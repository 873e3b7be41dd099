package credential

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"lk_AbC123defGHI456jklMNO789pqr1VCGxm",
		"lp_zzzzzzzzzzzzzzzzzzzzzzzzzzz1MNvIy",
		"lk_0000000000000000000000000002LHyc3",
		"0123456789abcdef_AbC123defGHI456jklMNO789pqr1VCGxm",
		"lk_AbC123defGHI456jklMNO789pqr1VCGxn",
		"lk", "_", "", "lk__", "LK_AbC123defGHI456jklMNO789pqr1VCGxm",
	} {
		f.Add(s)
	}
	shape := regexp.MustCompile(`^[a-z0-9]{1,16}_[0-9A-Za-z]{33}$`)
	f.Fuzz(func(t *testing.T, s string) {
		prefix, ok := Parse(s)
		if ok {
			if !shape.MatchString(s) {
				t.Fatalf("Parse accepted %q, which does not have a token's shape", s)
			}
			if prefix != s[:strings.IndexByte(s, '_')] {
				t.Fatalf("Parse(%q) prefix = %q", s, prefix)
			}
			if want := refToken(s[:len(s)-ChecksumLen]); want != s {
				t.Fatalf("Parse accepted %q; its checksum should make it %q", s, want)
			}
			if d := DisplayPrefix(s); d != s[:len(prefix)+1+6] {
				t.Fatalf("DisplayPrefix(%q) = %q", s, d)
			}
		} else {
			if prefix != "" {
				t.Fatalf("Parse(%q) refused but returned prefix %q", s, prefix)
			}
			if DisplayPrefix(s) != "" {
				t.Fatalf("DisplayPrefix(%q) of a non-token is not empty", s)
			}
			if shape.MatchString(s) && refToken(s[:len(s)-ChecksumLen]) == s {
				t.Fatalf("Parse refused %q, a token with a good checksum", s)
			}
		}
		// Any valid prefix makes tokens that Parse accepts.
		if ValidPrefix(s) {
			tok, err := Generate(s)
			if err != nil {
				t.Fatalf("Generate(%q): %v", s, err)
			}
			if p, ok := Parse(tok); !ok || p != s {
				t.Fatalf("Parse(Generate(%q)) = %q, %v", s, p, ok)
			}
		} else if _, err := Generate(s); err == nil {
			t.Fatalf("Generate(%q) accepted an invalid prefix", s)
		}
	})
}

func FuzzVerify(f *testing.F) {
	good, err := NewArgon2(cheap).Hash("pw")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("pw", good)
	f.Add("password", "$argon2id$v=19$m=64,t=1,p=2$c29tZXNhbHRzb21lc2FsdA$YDWZ7SC7/FISnTlw8W9X9w")
	f.Add("pw", "$argon2id$v=19$m=0,t=0,p=0$$")
	f.Add("pw", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$")
	f.Add("", "$")
	f.Add("pw", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy")
	h := NewArgon2(cheap)
	f.Fuzz(func(t *testing.T, password, encoded string) {
		p, _, _, err := decodePHC(encoded)
		if err == nil && (p.MemoryKiB > 1024 || p.Iterations > 4 || p.Parallelism > 4) {
			t.Skip("valid but too costly to verify while fuzzing")
		}
		ok, verr := h.Verify(password, encoded)
		if (err == nil) != (verr == nil) {
			t.Fatalf("decodePHC error %v, Verify error %v", err, verr)
		}
		if verr != nil && (ok || !errors.Is(verr, ErrMalformedHash)) {
			t.Fatalf("Verify(%q) = %v, %v", encoded, ok, verr)
		}
		if NeedsRehash(encoded, cheap) != (err != nil || p != cheap) {
			t.Fatalf("NeedsRehash(%q) disagrees with decodePHC", encoded)
		}
	})
}

func FuzzCheckPassword(f *testing.F) {
	for _, s := range []string{
		"correct horse battery staple", "passwordpassword", "aaaaaaaaaaaaaaa",
		"123456789012345", "äöüßéèêëîïôœùû", "correct horse battery\xff", "",
	} {
		f.Add(s, "alice@example.com")
	}
	sentinels := []error{ErrPasswordEncoding, ErrPasswordTooShort, ErrPasswordTooLong, ErrPasswordRepeated, ErrPasswordSequence, ErrPasswordCommon, ErrPasswordContext}
	f.Fuzz(func(t *testing.T, password, email string) {
		err := CheckPassword(password, email)
		if err != nil {
			for _, s := range sentinels {
				if err == s {
					return
				}
			}
			t.Fatalf("CheckPassword(%q) = %v, not one of the sentinels", password, err)
		}
		n := utf8.RuneCountInString(password)
		norm := strings.ToLower(strings.TrimSpace(password))
		if !utf8.ValidString(password) || n < MinPasswordLen || n > MaxPasswordLen || oneRune(norm) || isCommonPassword(norm) {
			t.Fatalf("CheckPassword accepted %q", password)
		}
		if e := strings.ToLower(strings.TrimSpace(email)); e != "" && norm == e {
			t.Fatalf("CheckPassword accepted %q equal to the email", password)
		}
	})
}
