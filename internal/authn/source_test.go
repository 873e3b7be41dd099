package authn

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func basic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

func TestSourcesExtract(t *testing.T) {
	all, err := NewSources([]SourceSpec{
		{Type: SourceBearer},
		{Type: SourceBasic},
		{Type: SourceScheme, Scheme: "APIKEY:ORGANIZATION"},
		{Type: SourceHeader, Header: "x-bbk-auth-token"},
	})
	if err != nil {
		t.Fatal(err)
	}
	bearerOnly, err := NewSources([]SourceSpec{{Type: SourceBearer}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sources *Sources
		headers map[string][]string
		want    Presented
		wantErr string // "none", "malformed" or ""
	}{
		{"nothing", all, nil, Presented{}, "none"},
		{"bearer", all, map[string][]string{"Authorization": {"Bearer tok1"}}, Presented{Source: SourceBearer, Token: "tok1"}, ""},
		{"bearer scheme case-insensitive", all, map[string][]string{"Authorization": {"bearer tok1"}}, Presented{Source: SourceBearer, Token: "tok1"}, ""},
		{"bearer extra spaces", all, map[string][]string{"Authorization": {"Bearer   tok1  "}}, Presented{Source: SourceBearer, Token: "tok1"}, ""},
		{"bearer empty", all, map[string][]string{"Authorization": {"Bearer"}}, Presented{}, "malformed"},
		{"bearer blank", all, map[string][]string{"Authorization": {"Bearer    "}}, Presented{}, "malformed"},
		{"bearer two tokens", all, map[string][]string{"Authorization": {"Bearer a b"}}, Presented{}, "malformed"},
		{"bearer control char", all, map[string][]string{"Authorization": {"Bearer a\x01b"}}, Presented{}, "malformed"},
		{"empty authorization", all, map[string][]string{"Authorization": {""}}, Presented{}, "malformed"},
		{"two authorization headers", all, map[string][]string{"Authorization": {"Bearer a", "Bearer a"}}, Presented{}, "malformed"},
		{"basic", all, map[string][]string{"Authorization": {basic("k1:s3cret")}}, Presented{Source: SourceBasic, Token: "s3cret", KeyID: "k1"}, ""},
		{"basic secret with colon", all, map[string][]string{"Authorization": {basic("k1:a:b")}}, Presented{Source: SourceBasic, Token: "a:b", KeyID: "k1"}, ""},
		{"basic unpadded", all, map[string][]string{"Authorization": {"Basic " + base64.RawStdEncoding.EncodeToString([]byte("k1:s"))}}, Presented{Source: SourceBasic, Token: "s", KeyID: "k1"}, ""},
		{"basic bad base64", all, map[string][]string{"Authorization": {"Basic !!!"}}, Presented{}, "malformed"},
		{"basic no colon", all, map[string][]string{"Authorization": {basic("k1s3cret")}}, Presented{}, "malformed"},
		{"basic empty user", all, map[string][]string{"Authorization": {basic(":s")}}, Presented{}, "malformed"},
		{"basic empty secret", all, map[string][]string{"Authorization": {basic("k1:")}}, Presented{}, "malformed"},
		{"basic empty", all, map[string][]string{"Authorization": {"Basic"}}, Presented{}, "malformed"},
		{"basic invalid utf8", all, map[string][]string{"Authorization": {basic("k\xff:s")}}, Presented{}, "malformed"},
		{"scheme", all, map[string][]string{"Authorization": {"APIKEY:ORGANIZATION lk_x"}}, Presented{Source: SourceScheme, Token: "lk_x"}, ""},
		{"scheme case", all, map[string][]string{"Authorization": {"apikey:organization lk_x"}}, Presented{Source: SourceScheme, Token: "lk_x"}, ""},
		{"scheme empty", all, map[string][]string{"Authorization": {"APIKEY:ORGANIZATION "}}, Presented{}, "malformed"},
		{"longer scheme name is not bearer", bearerOnly, map[string][]string{"Authorization": {"BearerX tok"}}, Presented{}, "none"},
		{"header", all, map[string][]string{"X-Bbk-Auth-Token": {"tok2"}}, Presented{Source: SourceHeader, Token: "tok2"}, ""},
		{"header empty", all, map[string][]string{"X-Bbk-Auth-Token": {" "}}, Presented{}, "malformed"},
		{"header twice", all, map[string][]string{"X-Bbk-Auth-Token": {"a", "b"}}, Presented{}, "malformed"},
		{"two different credentials", all, map[string][]string{"Authorization": {"Bearer a"}, "X-Bbk-Auth-Token": {"b"}}, Presented{}, "malformed"},
		{"same credential twice", all, map[string][]string{"Authorization": {"Bearer a"}, "X-Bbk-Auth-Token": {"a"}}, Presented{Source: SourceBearer, Token: "a"}, ""},
		{"unconfigured scheme ignored", bearerOnly, map[string][]string{"Authorization": {"Token abc"}}, Presented{}, "none"},
		{"unconfigured basic ignored", bearerOnly, map[string][]string{"Authorization": {basic("a:b")}}, Presented{}, "none"},
		{"unconfigured header ignored", bearerOnly, map[string][]string{"X-Bbk-Auth-Token": {"a"}}, Presented{}, "none"},
		{"8 KB bearer is one token", bearerOnly, map[string][]string{"Authorization": {"Bearer " + strings.Repeat("a", 8192)}}, Presented{Source: SourceBearer, Token: strings.Repeat("a", 8192)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sources.Extract(http.Header(tt.headers))
			var mal *MalformedError
			switch tt.wantErr {
			case "none":
				if !errors.Is(err, ErrNoCredential) {
					t.Fatalf("err = %v, want ErrNoCredential", err)
				}
			case "malformed":
				if !errors.As(err, &mal) {
					t.Fatalf("err = %v, want a MalformedError", err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if got != tt.want {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

func TestNewSourcesRejectsBadSpecs(t *testing.T) {
	for _, specs := range [][]SourceSpec{
		nil,
		{{Type: "cookie"}},
		{{Type: SourceScheme}},
		{{Type: SourceScheme, Scheme: "A B"}},
		{{Type: SourceHeader}},
	} {
		if _, err := NewSources(specs); err == nil {
			t.Errorf("NewSources(%+v) = nil error", specs)
		}
	}
}

func TestExtractBearerAllocatesNothing(t *testing.T) {
	s, err := NewSources([]SourceSpec{{Type: SourceBearer}, {Type: SourceBasic}})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Authorization": {"Bearer lk_0123456789012345678901234567890123"}}
	if n := testing.AllocsPerRun(100, func() { _, _ = s.Extract(h) }); n != 0 {
		t.Fatalf("Extract allocates %v times per call, want 0", n)
	}
}

// FuzzExtract feeds arbitrary header values to every source: it must never panic, and what it
// returns must be a MalformedError, ErrNoCredential, or a credential found in the input.
func FuzzExtract(f *testing.F) {
	for _, seed := range []string{"Bearer abc", "Basic " + base64.StdEncoding.EncodeToString([]byte("k:s")), "APIKEY:ORGANIZATION x", "Basic", "Bearer a b", ""} {
		f.Add(seed, "tok")
	}
	s, err := NewSources([]SourceSpec{
		{Type: SourceBearer}, {Type: SourceBasic},
		{Type: SourceScheme, Scheme: "APIKEY:ORGANIZATION"}, {Type: SourceHeader, Header: "x-bbk-auth-token"},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, auth, hdr string) {
		h := http.Header{}
		if auth != "" {
			h["Authorization"] = []string{auth}
		}
		if hdr != "" {
			h["X-Bbk-Auth-Token"] = []string{hdr}
		}
		p, err := s.Extract(h)
		var mal *MalformedError
		switch {
		case err == nil:
			if p.Token == "" || strings.ContainsAny(p.Token, " \t") && p.Source != SourceBasic {
				t.Fatalf("credential %+v from %q / %q", p, auth, hdr)
			}
			if p.Source == SourceBasic && p.KeyID == "" {
				t.Fatalf("basic credential without key id from %q", auth)
			}
		case errors.Is(err, ErrNoCredential), errors.As(err, &mal):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
