package credential

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// cheap are argon2id parameters that keep tests fast. Never use them for real.
var cheap = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestDefaultParams(t *testing.T) {
	p := DefaultParams()
	if want := (Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}); p != want {
		t.Errorf("DefaultParams() = %+v, want %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("DefaultParams().Validate() = %v", err)
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Params)
		ok   bool
	}{
		{"cheap", func(*Params) {}, true},
		{"minimum memory", func(p *Params) { p.MemoryKiB = 8 }, true},
		{"memory under 8 KiB", func(p *Params) { p.MemoryKiB = 7 }, false},
		{"memory under 8 per lane", func(p *Params) { p.MemoryKiB, p.Parallelism = 31, 4 }, false},
		{"memory 8 per lane", func(p *Params) { p.MemoryKiB, p.Parallelism = 32, 4 }, true},
		{"4 GiB", func(p *Params) { p.MemoryKiB = 4 << 20 }, true},
		{"over 4 GiB", func(p *Params) { p.MemoryKiB = 4<<20 + 1 }, false},
		{"no iterations", func(p *Params) { p.Iterations = 0 }, false},
		{"too many iterations", func(p *Params) { p.Iterations = 1025 }, false},
		{"no parallelism", func(p *Params) { p.Parallelism = 0 }, false},
		{"parallelism 255", func(p *Params) { p.MemoryKiB, p.Parallelism = 8*255, 255 }, true},
		{"short salt", func(p *Params) { p.SaltLen = 7 }, false},
		{"salt 8", func(p *Params) { p.SaltLen = 8 }, true},
		{"long salt", func(p *Params) { p.SaltLen = 1025 }, false},
		{"short key", func(p *Params) { p.KeyLen = 15 }, false},
		{"key 16", func(p *Params) { p.KeyLen = 16 }, true},
		{"long key", func(p *Params) { p.KeyLen = 1025 }, false},
		{"zero", func(p *Params) { *p = Params{} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cheap
			tt.edit(&p)
			if err := p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(%+v) = %v, want ok %v", p, err, tt.ok)
			}
		})
	}
}

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestArgon2RoundTrip(t *testing.T) {
	h := NewArgon2(cheap)
	for _, pw := range []string{"correct horse battery staple", "", "пароль-пароль-пароль", strings.Repeat("ü", 1024)} {
		enc, err := h.Hash(pw)
		if err != nil {
			t.Fatalf("Hash: %v", err)
		}
		if !phcRE.MatchString(enc) {
			t.Errorf("Hash = %q, not a PHC string of the cheap params", enc)
		}
		if ok, err := h.Verify(pw, enc); !ok || err != nil {
			t.Errorf("Verify(right password) = %v, %v", ok, err)
		}
		for _, wrong := range []string{pw + "x", strings.ToUpper(pw) + "!", "x"} {
			if ok, err := h.Verify(wrong, enc); ok || err != nil {
				t.Errorf("Verify(%.10q) = %v, %v; want false, nil", wrong, ok, err)
			}
		}
		if enc2, _ := h.Hash(pw); enc2 == enc {
			t.Errorf("two hashes of one password are equal: the salt is not random")
		}
		if NeedsRehash(enc, cheap) {
			t.Errorf("NeedsRehash(%q, its own params) = true", enc)
		}
	}
}

// TestArgon2Reference verifies hashes made by the reference implementation
// (phc-winner-argon2's argon2 command, Debian's 0~20171227), so that lanyard reads and
// writes the same format as everyone else.
func TestArgon2Reference(t *testing.T) {
	tests := []struct {
		password, encoded string
	}{
		// echo -n "correct horse battery staple" | argon2 lanyardsaltsalt -id -t 2 -m 6 -p 1 -l 32 -e
		{"correct horse battery staple", "$argon2id$v=19$m=64,t=2,p=1$bGFueWFyZHNhbHRzYWx0$vW82rCOXhvQQI73g+3xFERwQDgQqrVfJZ1/6XaAw2uA"},
		// echo -n "password" | argon2 somesaltsomesalt -id -t 1 -k 64 -p 2 -l 16 -e
		{"password", "$argon2id$v=19$m=64,t=1,p=2$c29tZXNhbHRzb21lc2FsdA$YDWZ7SC7/FISnTlw8W9X9w"},
		// echo -n "p" | argon2 saltsalt -id -t 3 -k 32 -p 1 -l 32 -e
		{"p", "$argon2id$v=19$m=32,t=3,p=1$c2FsdHNhbHQ$kVYShU66T9CZx9E3M2TC4MGqwgxylParUTMfvJLPkkw"},
	}
	// The hasher's own parameters do not matter to Verify.
	h := NewArgon2(DefaultParams())
	for _, tt := range tests {
		if ok, err := h.Verify(tt.password, tt.encoded); !ok || err != nil {
			t.Errorf("Verify(%q, %q) = %v, %v; want true, nil", tt.password, tt.encoded, ok, err)
		}
		if ok, err := h.Verify(tt.password+"!", tt.encoded); ok || err != nil {
			t.Errorf("Verify(wrong, %q) = %v, %v; want false, nil", tt.encoded, ok, err)
		}
		p, salt, key, err := decodePHC(tt.encoded)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodePHC(p, salt, key); got != tt.encoded {
			t.Errorf("encodePHC(decodePHC(%q)) = %q", tt.encoded, got)
		}
	}
}

func TestNewArgon2InvalidParams(t *testing.T) {
	h := NewArgon2(Params{})
	if enc, err := h.Hash("x"); err == nil || enc != "" {
		t.Errorf("Hash with zero Params = %q, %v; want an error", enc, err)
	}
	// Verify still works: it takes the parameters from the hash.
	enc, err := NewArgon2(cheap).Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Verify("correct horse battery staple", enc); !ok || err != nil {
		t.Errorf("Verify = %v, %v; want true, nil", ok, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	good, err := NewArgon2(cheap).Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(good, "$") // "", "argon2id", "v=19", "m=64,t=1,p=1", salt, key
	join := func(parts ...string) string { return strings.Join(parts, "$") }
	tests := []struct {
		name, encoded string
	}{
		{"empty", ""},
		{"dollar", "$"},
		{"garbage", "not a hash"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", join("", "argon2i", f[2], f[3], f[4], f[5])},
		{"argon2d", join("", "argon2d", f[2], f[3], f[4], f[5])},
		{"no leading dollar", strings.TrimPrefix(good, "$")},
		{"trailing dollar", good + "$"},
		{"missing key", join("", f[1], f[2], f[3], f[4])},
		{"missing version", join("", f[1], f[3], f[4], f[5])},
		{"version 16", join("", f[1], "v=16", f[3], f[4], f[5])},
		{"version garbage", join("", f[1], "v=x", f[3], f[4], f[5])},
		{"params reordered", join("", f[1], f[2], "t=1,m=64,p=1", f[4], f[5])},
		{"params missing", join("", f[1], f[2], "m=64,t=1", f[4], f[5])},
		{"params extra", join("", f[1], f[2], "m=64,t=1,p=1,k=2", f[4], f[5])},
		{"params empty", join("", f[1], f[2], "", f[4], f[5])},
		{"memory empty", join("", f[1], f[2], "m=,t=1,p=1", f[4], f[5])},
		{"memory negative", join("", f[1], f[2], "m=-64,t=1,p=1", f[4], f[5])},
		{"memory plus", join("", f[1], f[2], "m=+64,t=1,p=1", f[4], f[5])},
		{"memory leading zero", join("", f[1], f[2], "m=064,t=1,p=1", f[4], f[5])},
		{"memory hex", join("", f[1], f[2], "m=0x40,t=1,p=1", f[4], f[5])},
		{"memory too small", join("", f[1], f[2], "m=7,t=1,p=1", f[4], f[5])},
		{"memory zero", join("", f[1], f[2], "m=0,t=1,p=1", f[4], f[5])},
		{"memory over 4 GiB", join("", f[1], f[2], "m=4194305,t=1,p=1", f[4], f[5])},
		{"memory over uint32", join("", f[1], f[2], "m=4294967296,t=1,p=1", f[4], f[5])},
		{"iterations zero", join("", f[1], f[2], "m=64,t=0,p=1", f[4], f[5])},
		{"iterations huge", join("", f[1], f[2], "m=64,t=4294967295,p=1", f[4], f[5])},
		{"parallelism zero", join("", f[1], f[2], "m=64,t=1,p=0", f[4], f[5])},
		{"parallelism 256", join("", f[1], f[2], "m=4096,t=1,p=256", f[4], f[5])},
		{"memory under 8 per lane", join("", f[1], f[2], "m=64,t=1,p=9", f[4], f[5])},
		{"salt empty", join("", f[1], f[2], f[3], "", f[5])},
		{"salt short", join("", f[1], f[2], f[3], "c2FsdA", f[5])},
		{"salt padded", join("", f[1], f[2], f[3], f[4]+"==", f[5])},
		{"salt URL alphabet", join("", f[1], f[2], f[3], "c2FsdHNhbHQ_-w", f[5])},
		{"salt bad length", join("", f[1], f[2], f[3], f[4][:21], f[5])},
		{"key empty", join("", f[1], f[2], f[3], f[4], "")},
		{"key short", join("", f[1], f[2], f[3], f[4], "AAAAAAAAAAAAAAAAAAAA")},
		{"key not base64", join("", f[1], f[2], f[3], f[4], strings.Repeat("!", 43))},
		{"key non-canonical", join("", f[1], f[2], f[3], f[4], f[5][:42]+"B")},
	}
	h := NewArgon2(cheap)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify("pw", tt.encoded)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", tt.encoded, ok, err)
			}
			if !NeedsRehash(tt.encoded, cheap) {
				t.Errorf("NeedsRehash(%q) = false for a malformed hash", tt.encoded)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	enc, err := NewArgon2(cheap).Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*Params)
		want bool
	}{
		{"same", func(*Params) {}, false},
		{"memory", func(p *Params) { p.MemoryKiB = 128 }, true},
		{"iterations", func(p *Params) { p.Iterations = 2 }, true},
		{"parallelism", func(p *Params) { p.Parallelism = 2 }, true},
		{"salt", func(p *Params) { p.SaltLen = 32 }, true},
		{"key", func(p *Params) { p.KeyLen = 64 }, true},
		{"default", func(p *Params) { *p = DefaultParams() }, true},
	}
	for _, tt := range tests {
		p := cheap
		tt.edit(&p)
		if got := NeedsRehash(enc, p); got != tt.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDummyHash(t *testing.T) {
	enc, err := DummyHash(cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(enc) || NeedsRehash(enc, cheap) {
		t.Errorf("DummyHash(cheap) = %q, not a hash made with cheap", enc)
	}
	h := NewArgon2(cheap)
	for _, pw := range []string{"", "password", "correct horse battery staple"} {
		if ok, err := h.Verify(pw, enc); ok || err != nil {
			t.Errorf("Verify(%q, dummy) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	if _, err := DummyHash(Params{}); err == nil {
		t.Error("DummyHash(Params{}) succeeded")
	}
}

func BenchmarkArgon2Default(b *testing.B) {
	h := NewArgon2(DefaultParams())
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := h.Verify("correct horse battery staple", enc); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
