package credential

import (
	"errors"
	"io"
	"regexp"
	"strings"
)

// Token format (CONTRACT §11 item 9): "<prefix>_<random><checksum>".
const (
	// RandomLen is the number of random base62 characters in a token: 27 × log2(62) ≈ 160.8
	// bits.
	RandomLen = 27
	// ChecksumLen is the number of base62 characters of a token's checksum; 62^6 > 2^32.
	ChecksumLen = 6
	// MaxPrefixLen is the longest prefix a token may have.
	MaxPrefixLen = 16
	// bodyLen is the number of characters after the '_'.
	bodyLen = RandomLen + ChecksumLen
	// maxTokenLen is the length of the longest well-formed token.
	maxTokenLen = MaxPrefixLen + 1 + bodyLen
	// displayLen is the number of characters after the '_' that DisplayPrefix keeps.
	displayLen = 6
)

// ErrBadPrefix is returned by Generate for a prefix that is not 1–16 characters of [a-z0-9].
var ErrBadPrefix = errors.New("credential: token prefix must be 1-16 characters of [a-z0-9]")

// ValidPrefix reports whether p can be a token prefix: 1–16 characters of [a-z0-9].
func ValidPrefix(p string) bool {
	if len(p) == 0 || len(p) > MaxPrefixLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Generate returns a fresh token "<prefix>_<27 random base62 characters><6-character
// checksum>". The checksum is the CRC32-IEEE of everything before it, in base62 (0-9A-Za-z),
// most significant digit first, zero-padded to 6. The randomness comes from crypto/rand.
// prefix must be 1–16 characters of [a-z0-9], else Generate returns ErrBadPrefix.
func Generate(prefix string) (string, error) {
	return generate(prefix, nil)
}

// GenerateFrom is Generate with the random characters drawn from random instead of
// crypto/rand, by the same rule: the same bytes make the same token. It is for benchmarks and
// tests that make many tokens from a seed and must make them again later without keeping them
// anywhere; a token drawn from a predictable reader is predictable, so it must never be a real
// credential. An error from random is returned as it is.
func GenerateFrom(prefix string, random io.Reader) (string, error) {
	if random == nil {
		return "", errors.New("credential: GenerateFrom needs a reader")
	}
	return generate(prefix, random)
}

// generate makes a token, its random characters from random or, when that is nil, from
// crypto/rand.
func generate(prefix string, random io.Reader) (string, error) {
	if !ValidPrefix(prefix) {
		return "", ErrBadPrefix
	}
	var buf [maxTokenLen]byte
	tok := buf[:len(prefix)+1+bodyLen]
	n := copy(tok, prefix)
	tok[n] = '_'
	n++
	if random == nil {
		randomBase62(tok[n : n+RandomLen])
	} else if err := readBase62(tok[n:n+RandomLen], random); err != nil {
		return "", err
	}
	n += RandomLen
	putBase62(tok[n:], uint64(checksum(string(tok[:n]))))
	return string(tok), nil
}

// Parse checks the shape and checksum of a presented token and returns its prefix, a
// substring of token. It reports ok == false for anything that is not a well-formed token:
// no '_', a prefix that is empty, longer than 16 or not [a-z0-9], a body that is not exactly
// 33 base62 characters (so also a second '_'), or a checksum that does not match. Parse does
// not allocate.
func Parse(token string) (prefix string, ok bool) {
	// Neither the prefix nor the body may hold a '_', so the first '_' is the one bodyLen
	// characters from the end, and everything else is checked character by character.
	n := len(token) - bodyLen - 1 // length of the prefix
	if n < 1 || n > MaxPrefixLen || token[n] != '_' {
		return "", false
	}
	t := tables()
	var bad uint8 // ORs the table entries: invalidDigit is set if any byte is not allowed
	for i := 0; i < n; i++ {
		bad |= t.prefix[token[i]]
	}
	end := n + 1 + RandomLen
	for i := n + 1; i < end; i++ {
		bad |= t.digit[token[i]]
	}
	var sum uint64
	for i := end; i < len(token); i++ {
		d := t.digit[token[i]]
		bad |= d
		sum = sum*62 + uint64(d)
	}
	if bad&invalidDigit != 0 || sum != uint64(checksum(token[:end])) {
		return "", false
	}
	return token[:n], true
}

// DisplayPrefix returns the part of a token shown in key lists: the token up to and including
// the 6th character after the '_' (e.g. "lk_AbC123"). It returns "" for anything that Parse
// does not accept, so that nothing but a token's public part is ever displayed.
func DisplayPrefix(token string) string {
	prefix, ok := Parse(token)
	if !ok {
		return ""
	}
	return token[:len(prefix)+1+displayLen]
}

// Pattern returns an RE2 regular expression that matches tokens with the given prefixes, for
// secret scanners, e.g. `\b(?:lk|lp)_[0-9A-Za-z]{33}\b`. Prefixes that Generate would refuse
// are skipped; with none left, the expression matches any valid prefix.
func Pattern(prefixes ...string) string {
	var alts []string
	seen := make(map[string]bool, len(prefixes))
	for _, p := range prefixes {
		if !ValidPrefix(p) || seen[p] {
			continue
		}
		seen[p] = true
		alts = append(alts, regexp.QuoteMeta(p))
	}
	head := `[a-z0-9]{1,16}`
	if len(alts) > 0 {
		head = `(?:` + strings.Join(alts, "|") + `)`
	}
	return `\b` + head + `_[0-9A-Za-z]{33}\b`
}
