package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestParseRevokeBody(t *testing.T) {
	tests := []struct {
		body string
		want []string // nil: a 400
	}{
		{`token=lk_abc`, []string{"lk_abc"}},
		{`token=lk_abc&token_type_hint=access_token&other=1`, []string{"lk_abc"}},
		{`token=a%2Bb+c`, []string{"a+b c"}},
		{`  {"token": "lk_abc"}  `, []string{"lk_abc"}},
		{`{"token": "lk_abc", "token_type_hint": "refresh_token", "extra": [1]}`, []string{"lk_abc"}},
		{`[{"token": "a", "type": "t", "url": "u", "source": "content"}, {"token": "b"}]`, []string{"a", "b"}},
		{``, nil},
		{`   `, nil},
		{`{}`, nil},
		{`[]`, nil},
		{`{"token": null}`, nil},
		{`{"token": 1}`, nil},
		{`{"token": "a"}{"token": "b"}`, nil},
		{`[{"token": "a"}, {"token": ""}]`, nil},
		{`%zz`, nil},
		{`token=`, nil},
		{`token=a&token=b`, nil},
		{`hello`, nil},
	}
	for _, tt := range tests {
		got, err := parseRevokeBody([]byte(tt.body))
		if tt.want == nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Errorf("%q: %v, %v; want a 400", tt.body, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%q: %q, %v; want %q", tt.body, got, err, tt.want)
		}
	}
}

// FuzzParseRevokeBody: the revocation body parser never panics, answers either tokens or a 400,
// and reads back any token written as a form or as JSON.
func FuzzParseRevokeBody(f *testing.F) {
	for _, s := range []string{"token=lk_abc", `{"token": "lk_abc"}`, `[{"token": "a"}]`, "", "%", "[", "{", "token=a&token=b", "lk_0123456789abcdefghijklmnopqrstuvw"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		toks, err := parseRevokeBody(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Message == "" {
				t.Fatalf("error %v is not a 400 with a message", err)
			}
			if toks != nil {
				t.Fatalf("tokens %q beside an error", toks)
			}
		} else {
			if len(toks) == 0 || len(toks) > maxRevokeTokens {
				t.Fatalf("%d tokens", len(toks))
			}
			for _, tok := range toks {
				if tok == "" {
					t.Fatal("an empty token")
				}
			}
		}

		tok := string(data)
		if tok == "" {
			return
		}
		got, err := parseRevokeBody([]byte("token=" + url.QueryEscape(tok) + "&token_type_hint=x"))
		if err != nil || len(got) != 1 || got[0] != tok {
			t.Fatalf("form round trip of %q: %q, %v", tok, got, err)
		}
		if utf8.ValidString(tok) {
			b, _ := json.Marshal(map[string]string{"token": tok})
			got, err := parseRevokeBody(b)
			if err != nil || len(got) != 1 || got[0] != tok {
				t.Fatalf("JSON round trip of %q: %q, %v", tok, got, err)
			}
		}
	})
}
