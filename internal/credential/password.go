package credential

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Bounds that Params.Validate enforces, on the configured parameters and on those read back
// from a stored hash alike, so that a corrupt or hostile hash cannot make Verify allocate
// gigabytes or spin for minutes.
const (
	maxMemoryKiB  = 4 << 20 // 4 GiB
	maxIterations = 1024
	minSaltLen    = 8
	maxSaltLen    = 1024
	minKeyLen     = 16
	maxKeyLen     = 1024
)

// Params are argon2id parameters.
type Params struct {
	MemoryKiB   uint32 // memory in KiB: at least 8×Parallelism, at most 4 GiB
	Iterations  uint32 // passes over the memory (argon2's t): 1–1024
	Parallelism uint8  // lanes (argon2's p): at least 1
	SaltLen     uint32 // bytes of random salt: 8–1024
	KeyLen      uint32 // bytes of derived key: 16–1024
}

// DefaultParams returns OWASP's recommended minimum for argon2id: m=19 MiB (19456 KiB), t=2,
// p=1, with a 16-byte salt and a 32-byte key.
func DefaultParams() Params {
	return Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// Validate reports whether p is within sane bounds.
func (p Params) Validate() error {
	switch {
	case p.Parallelism < 1:
		return errors.New("credential: argon2 parallelism must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Parallelism):
		return fmt.Errorf("credential: argon2 memory must be at least %d KiB (8 × parallelism)", 8*uint32(p.Parallelism))
	case p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("credential: argon2 memory must be at most %d KiB (4 GiB)", maxMemoryKiB)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("credential: argon2 iterations must be 1-%d", maxIterations)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("credential: argon2 salt length must be %d-%d bytes", minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("credential: argon2 key length must be %d-%d bytes", minKeyLen, maxKeyLen)
	}
	return nil
}

// Hasher hashes and verifies passwords. Implementations are safe for concurrent use.
type Hasher interface {
	// Hash returns the encoded hash of password, a PHC string such as
	// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>".
	Hash(password string) (string, error)
	// Verify reports whether password matches encoded. It returns an error, and false, when
	// encoded is not a hash it can read.
	Verify(password, encoded string) (bool, error)
}

// ErrMalformedHash is returned (wrapped) by Verify for an encoded hash it cannot read.
var ErrMalformedHash = errors.New("credential: malformed password hash")

// NewArgon2 returns a Hasher that hashes with argon2id and p. If p is not valid, Hash
// returns the error of p.Validate. Verify reads the parameters from the encoded hash, so that
// hashes made with earlier parameters keep verifying; use NeedsRehash to upgrade them.
func NewArgon2(p Params) Hasher {
	return argon2Hasher{params: p, err: p.Validate()}
}

type argon2Hasher struct {
	params Params
	err    error
}

func (h argon2Hasher) Hash(password string) (string, error) {
	if h.err != nil {
		return "", h.err
	}
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt) // never returns an error; it crashes the program if it cannot read
	key := argon2.IDKey([]byte(password), salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, h.params.KeyLen)
	return encodePHC(h.params, salt, key), nil
}

func (h argon2Hasher) Verify(password, encoded string) (bool, error) {
	p, salt, key, err := decodePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters than p (or is not a hash
// this package can read), so that a successful login can store a fresh hash.
func NeedsRehash(encoded string, p Params) bool {
	q, _, _, err := decodePHC(encoded)
	return err != nil || q != p
}

// DummyHash returns a valid encoded hash, made with p, of a random password that nobody
// knows. A login for an unknown email verifies against it, so that it takes as long as one
// with a wrong password. Callers compute it once, at start.
func DummyHash(p Params) (string, error) {
	return NewArgon2(p).Hash(rand.Text())
}

// encodePHC writes the PHC string format of an argon2id hash:
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<key>, base64 without padding.
func encodePHC(p Params, salt, key []byte) string {
	var b strings.Builder
	b.Grow(64 + base64.RawStdEncoding.EncodedLen(len(salt)) + base64.RawStdEncoding.EncodedLen(len(key)))
	b.WriteString("$argon2id$v=")
	b.WriteString(strconv.Itoa(argon2.Version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(p.MemoryKiB), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.Iterations), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.Parallelism), 10))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(key))
	return b.String()
}

// decodePHC parses what encodePHC writes and checks the parameters against Params.Validate.
// The returned Params have SaltLen and KeyLen set from the decoded salt and key.
func decodePHC(encoded string) (Params, []byte, []byte, error) {
	var p Params
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return p, nil, nil, fmt.Errorf("%w: not a PHC string", ErrMalformedHash)
	}
	if fields[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: algorithm is not argon2id", ErrMalformedHash)
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported argon2 version", ErrMalformedHash)
	}
	m, rest, ok := strings.Cut(fields[3], ",")
	t, pp, ok2 := strings.Cut(rest, ",")
	if !ok || !ok2 {
		return p, nil, nil, fmt.Errorf("%w: bad parameters", ErrMalformedHash)
	}
	mem, err1 := parseParam(m, "m=", 32)
	iter, err2 := parseParam(t, "t=", 32)
	par, err3 := parseParam(pp, "p=", 8)
	if err := errors.Join(err1, err2, err3); err != nil {
		return p, nil, nil, fmt.Errorf("%w: bad parameters", ErrMalformedHash)
	}
	if len(fields[4]) > base64.RawStdEncoding.EncodedLen(maxSaltLen) || len(fields[5]) > base64.RawStdEncoding.EncodedLen(maxKeyLen) {
		return p, nil, nil, fmt.Errorf("%w: salt or hash too long", ErrMalformedHash)
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(fields[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("%w: bad salt encoding", ErrMalformedHash)
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(fields[5])
	if err != nil {
		return p, nil, nil, fmt.Errorf("%w: bad hash encoding", ErrMalformedHash)
	}
	p = Params{
		MemoryKiB:   uint32(mem),
		Iterations:  uint32(iter),
		Parallelism: uint8(par),
		SaltLen:     uint32(len(salt)),
		KeyLen:      uint32(len(key)),
	}
	if err := p.Validate(); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %v", ErrMalformedHash, err)
	}
	return p, salt, key, nil
}

// parseParam parses "<name><decimal>" with no sign and no leading zeros.
func parseParam(s, name string, bits int) (uint64, error) {
	digits, ok := strings.CutPrefix(s, name)
	if !ok || digits == "" || digits[0] < '1' || digits[0] > '9' {
		return 0, errors.New("bad parameter")
	}
	return strconv.ParseUint(digits, 10, bits)
}
