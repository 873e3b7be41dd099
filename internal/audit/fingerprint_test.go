package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"
)

func TestFingerprinter(t *testing.T) {
	const secret = "lk_secretsecretsecretsecretsecret123456"
	a, b := NewFingerprinter(testKey), NewFingerprinter([]byte("another key, another instance..."))
	fa := a.Fingerprint(secret)
	if !regexp.MustCompile(`^hmac:[0-9a-f]{12}$`).MatchString(fa) {
		t.Errorf("fingerprint %q, want hmac: and 12 hex digits", fa)
	}
	if again := NewFingerprinter(testKey).Fingerprint(secret); again != fa {
		t.Errorf("the same key fingerprints %q as %q and %q", secret, fa, again)
	}
	if fb := b.Fingerprint(secret); fb == fa {
		t.Errorf("two instance keys give the same fingerprint %q", fa)
	}
	if other := a.Fingerprint(secret + "x"); other == fa {
		t.Errorf("two secrets give the same fingerprint %q", fa)
	}
	// Without the key, hashing a guess finds nothing to compare with.
	if sum := sha256.Sum256([]byte(secret)); hex.EncodeToString(sum[:6]) == fa[len("hmac:"):] {
		t.Errorf("the keyed fingerprint is the unkeyed one")
	}
	// The key is copied: the caller's slice may change afterwards.
	key := append([]byte(nil), testKey...)
	c := NewFingerprinter(key)
	clear(key)
	if got := c.Fingerprint(secret); got != fa {
		t.Errorf("after the caller cleared its key: %q, want %q", got, fa)
	}
}

func TestFingerprinterNeedsAKey(t *testing.T) {
	for name, f := range map[string]func(){
		"short key":  func() { NewFingerprinter([]byte("short")) },
		"zero value": func() { Fingerprinter{}.Fingerprint("x") },
		"refusals":   func() { NewRefusals(&sink{}, nil, nil, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
