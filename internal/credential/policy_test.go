package credential

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// runes returns the first n code points of the endless repetition of s.
func runes(s string, n int) string {
	r := []rune(s)
	out := make([]rune, n)
	for i := range out {
		out[i] = r[i%len(r)]
	}
	return string(out)
}

func TestCheckPassword(t *testing.T) {
	const email = "Alice.Longname1@example.com"
	tests := []struct {
		name     string
		password string
		context  []string
		want     error
	}{
		{"passphrase", "correct horse battery staple", nil, nil},
		{"15 ASCII", "tr0ub4dor&3-xyz", nil, nil},
		{"14 ASCII", "tr0ub4dor&3-xy", nil, ErrPasswordTooShort},
		{"empty", "", nil, ErrPasswordTooShort},
		{"15 two-byte runes", "äöüßéèêëîïôœùûÿ", nil, nil},
		{"14 two-byte runes (28 bytes)", "äöüßéèêëîïôœùû", nil, ErrPasswordTooShort},
		{"15 four-byte runes", runes("🔑🔒🗝", 15), nil, nil},
		{"14 four-byte runes (56 bytes)", runes("🔑🔒🗝", 14), nil, ErrPasswordTooShort},
		{"14 runes of combining marks", runes("e\u0301", 14), nil, ErrPasswordTooShort},
		{"1024 ASCII", runes("correct horse battery staple ", 1024), nil, nil},
		{"1025 ASCII", runes("correct horse battery staple ", 1025), nil, ErrPasswordTooLong},
		{"1024 two-byte runes", runes("aü", 1024), nil, nil},
		{"1025 two-byte runes", runes("aü", 1025), nil, ErrPasswordTooLong},
		{"1024 four-byte runes", runes("🔑🔒🗝", 1024), nil, nil},
		{"1025 four-byte runes", runes("🔑🔒🗝", 1025), nil, ErrPasswordTooLong},
		{"megabyte", strings.Repeat("ab", 1<<19), nil, ErrPasswordTooLong},
		{"invalid UTF-8", "correct horse battery\xff", nil, ErrPasswordEncoding},
		{"truncated rune", "correct horse battery\xe2\x82", nil, ErrPasswordEncoding},
		{"surrogate half", "correct horse battery\xed\xa0\x80", nil, ErrPasswordEncoding},
		{"short invalid UTF-8", "\xff", nil, ErrPasswordEncoding},
		{"one character", "aaaaaaaaaaaaaaa", nil, ErrPasswordRepeated},
		{"one character, mixed case", "AaAaAaAaAaAaAaAaAa", nil, ErrPasswordRepeated},
		{"one multibyte character", strings.Repeat("é", 20), nil, ErrPasswordRepeated},
		{"spaces", strings.Repeat(" ", 15), nil, ErrPasswordRepeated},
		{"one character among spaces", "  " + strings.Repeat("x", 15) + "  ", nil, ErrPasswordRepeated},
		{"digits", "123456789012345", nil, ErrPasswordSequence},
		{"digits rotated", "567890123456789", nil, ErrPasswordSequence},
		{"digits backwards", "9876543210987654", nil, ErrPasswordSequence},
		{"alphabet", "abcdefghijklmnop", nil, ErrPasswordSequence},
		{"alphabet upper-case", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", nil, ErrPasswordSequence},
		{"alphabet backwards", "zyxwvutsrqponmlk", nil, ErrPasswordSequence},
		{"keyboard rows", "qwertyuiopasdfgh", nil, ErrPasswordSequence},
		{"keyboard row repeated", "QwertyuiopQwertyuiop", nil, ErrPasswordSequence},
		{"keyboard columns", "1qaz2wsx3edc4rfv", nil, ErrPasswordSequence},
		{"number row and letters", "1234567890qwertyuiop", nil, ErrPasswordSequence},
		{"shifted digits", "!@#$%^&*()!@#$%^", nil, ErrPasswordSequence},
		{"not quite a sequence", "123456789012346", nil, nil},
		{"common", "passwordpassword", nil, ErrPasswordCommon},
		{"common, other case", "MasterOfDisaster", nil, ErrPasswordCommon},
		{"common, spaces around", "  BirthdayMassacre\t", nil, ErrPasswordCommon},
		{"common with a suffix", "masterofdisaster!", nil, nil},
		{"email", "alice.longname1@example.com", []string{email}, ErrPasswordContext},
		{"email, spaces and case", " ALICE.LONGNAME1@EXAMPLE.COM ", []string{email}, ErrPasswordContext},
		{"email local part", "alice.longname1", []string{email}, ErrPasswordContext},
		{"local part of last @", `"a@b"longlocalpart`, []string{`"a@b"longlocalpart@example.com`}, ErrPasswordContext},
		{"other context", "correct horse battery staple", []string{"", "lanyard", "Correct Horse Battery Staple"}, ErrPasswordContext},
		{"contains the email", "alice.longname1@example.com!", []string{email}, nil},
		{"unrelated email", "correct horse battery staple", []string{email}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckPassword(tt.password, tt.context...); got != tt.want {
				t.Errorf("CheckPassword(%.40q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}
}

func TestPasswordErrorsAreSentences(t *testing.T) {
	for _, err := range []error{ErrPasswordEncoding, ErrPasswordTooShort, ErrPasswordTooLong, ErrPasswordRepeated, ErrPasswordSequence, ErrPasswordCommon, ErrPasswordContext} {
		msg := err.Error()
		if !strings.HasPrefix(msg, "password ") || strings.ContainsAny(msg, ".\n") || strings.Contains(msg, "credential:") {
			t.Errorf("%q is not one user-facing sentence without a full stop", msg)
		}
	}
}

// TestCommonPasswordsFile checks the embedded list's invariants, which the binary search and
// the normalization in CheckPassword rely on.
func TestCommonPasswordsFile(t *testing.T) {
	if !strings.HasSuffix(commonPasswordsText, "\n") || strings.Contains(commonPasswordsText, "\r") {
		t.Fatal("commonpasswords.txt must be newline-terminated lines without CR")
	}
	lines := strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
	if len(lines) < 1000 {
		t.Fatalf("commonpasswords.txt has %d entries; expected thousands", len(lines))
	}
	if !slices.IsSorted(lines) {
		t.Error("commonpasswords.txt is not sorted")
	}
	if len(slices.Compact(slices.Clone(lines))) != len(lines) {
		t.Error("commonpasswords.txt has duplicates")
	}
	for _, s := range lines {
		if !utf8.ValidString(s) || s != strings.ToLower(strings.TrimSpace(s)) {
			t.Errorf("entry %q is not trimmed, lower-case UTF-8", s)
		}
		if n := utf8.RuneCountInString(s); n < MinPasswordLen || n > 64 {
			t.Errorf("entry %q has %d code points, want 15-64", s, n)
		}
		if err := CheckPassword(s); err == nil {
			t.Errorf("CheckPassword(%q) = nil for a listed password", s)
		}
		if err := CheckPassword(strings.ToUpper(s) + " "); err == nil && strings.ToLower(strings.ToUpper(s)) == s {
			t.Errorf("CheckPassword accepts %q upper-cased", s)
		}
	}
	if !slices.Equal(commonPasswords(), lines) {
		t.Error("commonPasswords() differs from the file's lines")
	}
}

// TestSequencesRefused generates the runs NIST warns about, every starting point of every
// keyboard run, forwards and backwards, 15 to 40 long, and checks that all are refused.
func TestSequencesRefused(t *testing.T) {
	n := 0
	for _, run := range keyboardRuns {
		rev := []byte(run)
		slices.Reverse(rev)
		for _, cycle := range []string{run, string(rev)} {
			for start := range cycle {
				for length := MinPasswordLen; length <= 40; length++ {
					b := make([]byte, length)
					for i := range b {
						b[i] = cycle[(start+i)%len(cycle)]
					}
					for _, pw := range []string{string(b), strings.ToUpper(string(b))} {
						n++
						if err := CheckPassword(pw); !errors.Is(err, ErrPasswordSequence) {
							t.Errorf("CheckPassword(%q) = %v, want %v", pw, err, ErrPasswordSequence)
						}
					}
				}
			}
		}
	}
	t.Logf("%d sequences refused", n)
}

func TestKeyboardRuns(t *testing.T) {
	for _, run := range keyboardRuns {
		if run != strings.ToLower(run) {
			t.Errorf("keyboard run %q is not lower-case", run)
		}
		for i := 0; i < len(run); i++ {
			if run[i] >= utf8.RuneSelf {
				t.Errorf("keyboard run %q is not ASCII", run)
			}
		}
	}
}

func BenchmarkCheckPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckPassword("correct horse battery staple", "alice@example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
