package authn

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// One fuzz target per credential source: each parser either finds a well-formed credential in
// its input, finds none, or refuses the input as malformed — never a panic, never a credential
// that is not in the input.

func checkParsed(t *testing.T, p Presented, ok bool, err error) {
	t.Helper()
	var mal *MalformedError
	if err != nil {
		if !errors.As(err, &mal) || ok {
			t.Fatalf("error %v (ok %v) is not a clean refusal", err, ok)
		}
		return
	}
	if ok && (p.Token == "" || p.Source == "") {
		t.Fatalf("empty credential %+v", p)
	}
}

func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x ", "Bearer", "Bearer a b", "BearerX y", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		p, ok, err := fromScheme(auth, "Bearer", SourceBearer)
		checkParsed(t, p, ok, err)
		if ok && !strings.Contains(auth, p.Token) {
			t.Fatalf("token %q is not in %q", p.Token, auth)
		}
	})
}

func FuzzScheme(f *testing.F) {
	for _, s := range []string{"APIKEY:ORGANIZATION lk_x", "apikey:organization  y", "APIKEY:ORGANIZATION", "APIKEY:ORGANIZATIONS z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		p, ok, err := fromScheme(auth, "APIKEY:ORGANIZATION", SourceScheme)
		checkParsed(t, p, ok, err)
		if ok && !strings.Contains(auth, p.Token) {
			t.Fatalf("token %q is not in %q", p.Token, auth)
		}
	})
}

func FuzzBasic(f *testing.F) {
	for _, s := range []string{"k:s", "k:", ":s", "ks", "k:s:t", "\xff:x"} {
		f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte(s)))
	}
	f.Add("Basic !!!")
	f.Add("Basic")
	f.Fuzz(func(t *testing.T, auth string) {
		p, ok, err := fromBasic(auth)
		checkParsed(t, p, ok, err)
		if ok && (p.KeyID == "" || strings.Contains(p.KeyID, ":")) {
			t.Fatalf("basic credential %+v from %q", p, auth)
		}
	})
}

func FuzzHeader(f *testing.F) {
	for _, s := range []string{"lk_x", " y ", "", "a b", "\x7f"} {
		f.Add(s, "")
	}
	f.Add("a", "b")
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		h := http.Header{"X-Bbk-Auth-Token": {v1}}
		if v2 != "" {
			h["X-Bbk-Auth-Token"] = append(h["X-Bbk-Auth-Token"], v2)
		}
		p, ok, err := fromHeader(h, "X-Bbk-Auth-Token")
		checkParsed(t, p, ok, err)
		if ok && !strings.Contains(v1, p.Token) {
			t.Fatalf("token %q is not in %q", p.Token, v1)
		}
	})
}
