package credential

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Password lengths, in Unicode code points (CONTRACT §5 Users).
const (
	MinPasswordLen = 15
	MaxPasswordLen = 1024
)

// The errors of CheckPassword. Each message is one sentence for the person choosing the
// password, without the final full stop.
var (
	ErrPasswordEncoding = errors.New("password must be valid UTF-8 text")
	ErrPasswordTooShort = errors.New("password must be at least 15 characters")
	ErrPasswordTooLong  = errors.New("password must be at most 1024 characters")
	ErrPasswordRepeated = errors.New("password must not be a single character repeated")
	ErrPasswordSequence = errors.New("password must not be a run of keyboard, alphabet or number keys")
	ErrPasswordCommon   = errors.New("password is too common, choose another one")
	ErrPasswordContext  = errors.New("password must not be the same as your email address")
)

// CheckPassword applies lanyard's password policy (NIST SP 800-63B) and returns nil or one of
// the ErrPassword errors. A password must be valid UTF-8 of 15 to 1024 code points, counted
// as such and never truncated. Compared after trimming spaces and ignoring case, it must not
// be a single character repeated, a run along the digits, the alphabet or a keyboard row, a
// breached or common password, or any of context (an email address, whose local part counts
// too).
func CheckPassword(password string, context ...string) error {
	if len(password) > utf8.UTFMax*MaxPasswordLen {
		return ErrPasswordTooLong // more code points than that whatever the encoding
	}
	if !utf8.ValidString(password) {
		return ErrPasswordEncoding
	}
	switch n := utf8.RuneCountInString(password); {
	case n < MinPasswordLen:
		return ErrPasswordTooShort
	case n > MaxPasswordLen:
		return ErrPasswordTooLong
	}
	norm := strings.ToLower(strings.TrimSpace(password))
	switch {
	case oneRune(norm):
		return ErrPasswordRepeated
	case isSequence(norm):
		return ErrPasswordSequence
	case isCommonPassword(norm):
		return ErrPasswordCommon
	}
	for _, c := range context {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		local := c
		if at := strings.LastIndexByte(c, '@'); at >= 0 {
			local = c[:at]
		}
		if norm == c || norm == local {
			return ErrPasswordContext
		}
	}
	return nil
}

// oneRune reports whether s is empty or one code point repeated.
func oneRune(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	for i := size; i < len(s); {
		q, n := utf8.DecodeRuneInString(s[i:])
		if q != r {
			return false
		}
		i += n
	}
	return true
}
