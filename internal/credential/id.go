package credential

// IDLen is the length of an id made by NewID: 20 base62 characters, about 119 random bits.
const IDLen = 20

// MaxIDLen is the longest id lanyard accepts (CONTRACT §2).
const MaxIDLen = 128

// NewID returns a fresh random id of IDLen base62 characters from crypto/rand. Every id it
// returns satisfies ValidID.
func NewID() string {
	var buf [IDLen]byte
	randomBase62(buf[:])
	return string(buf[:])
}

// ValidID reports whether s can be an id (CONTRACT §2, §11 item 2): 1–128 characters of
// [A-Za-z0-9._~-], and neither "." nor "..". It does not allocate.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}
