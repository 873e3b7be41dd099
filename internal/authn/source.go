package authn

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// Source kinds, as the config names them.
const (
	SourceBearer = "bearer"
	SourceBasic  = "basic"
	SourceScheme = "scheme"
	SourceHeader = "header"
)

// MaxTokenLen bounds a presented secret. Nothing lanyard issues comes close; a longer value is
// refused as an invalid token before it is hashed.
const MaxTokenLen = 512

// SourceSpec is one configured credential source.
type SourceSpec struct {
	Type string
	// Scheme is the Authorization scheme of a SourceScheme source, e.g. "APIKEY:ORGANIZATION".
	Scheme string
	// Header is the header name of a SourceHeader source, e.g. "x-bbk-auth-token".
	Header string
}

// Presented is the credential a request carries, as found by a source. Its strings point into
// the request's headers (Bearer and header sources allocate nothing).
type Presented struct {
	// Source is the kind of source that found it.
	Source string
	// Token is the secret: a token, or the secret half of a Basic key+secret pair.
	Token string
	// KeyID is the key id half of a Basic pair; empty for every other source.
	KeyID string
}

// ErrNoCredential: no configured source found a credential.
var ErrNoCredential = errors.New("no credential")

// MalformedError is a credential header that cannot be parsed: the request is bad (400), not
// unauthenticated.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return e.Reason }

func malformed(reason string) error { return &MalformedError{Reason: reason} }

// Sources reads credentials from requests in the configured order.
type Sources struct {
	specs []SourceSpec
	// canonical header names of header sources, computed once
	headers []string
	// useAuthorization: some source reads the Authorization header
	useAuthorization bool
}

// NewSources validates specs and returns the readers in order.
func NewSources(specs []SourceSpec) (*Sources, error) {
	if len(specs) == 0 {
		return nil, errors.New("authn: no credential sources")
	}
	s := &Sources{specs: append([]SourceSpec(nil), specs...), headers: make([]string, len(specs))}
	for i, sp := range s.specs {
		switch sp.Type {
		case SourceBearer, SourceBasic:
			s.useAuthorization = true
		case SourceScheme:
			if sp.Scheme == "" || strings.ContainsAny(sp.Scheme, " \t") {
				return nil, errors.New("authn: a scheme source needs a scheme without spaces")
			}
			s.useAuthorization = true
		case SourceHeader:
			if sp.Header == "" {
				return nil, errors.New("authn: a header source needs a header name")
			}
			s.headers[i] = textproto.CanonicalMIMEHeaderKey(sp.Header)
		default:
			return nil, errors.New("authn: unknown source type " + sp.Type)
		}
	}
	return s, nil
}

// Extract finds the request's credential. It returns ErrNoCredential when no configured source
// holds one, a *MalformedError when a source's header cannot be parsed or two sources carry
// different credentials, and otherwise the credential of the first source in order that has one.
// An Authorization header with a scheme no source is configured for is ignored.
func (s *Sources) Extract(h http.Header) (Presented, error) {
	var found Presented
	have := false
	var auth string
	if s.useAuthorization {
		vals := h["Authorization"]
		switch len(vals) {
		case 0:
		case 1:
			auth = vals[0]
			if strings.TrimSpace(auth) == "" {
				return Presented{}, malformed("the Authorization header is empty")
			}
		default:
			return Presented{}, malformed("the request has more than one Authorization header")
		}
	}
	for i, sp := range s.specs {
		var p Presented
		var ok bool
		var err error
		switch sp.Type {
		case SourceBearer:
			p, ok, err = fromScheme(auth, "Bearer", SourceBearer)
		case SourceScheme:
			p, ok, err = fromScheme(auth, sp.Scheme, SourceScheme)
		case SourceBasic:
			p, ok, err = fromBasic(auth)
		case SourceHeader:
			p, ok, err = fromHeader(h, s.headers[i])
		}
		if err != nil {
			return Presented{}, err
		}
		if !ok {
			continue
		}
		if !have {
			found, have = p, true
			continue
		}
		if p.Token != found.Token || p.KeyID != found.KeyID {
			return Presented{}, malformed("the request carries two different credentials")
		}
	}
	if !have {
		return Presented{}, ErrNoCredential
	}
	return found, nil
}

// fromScheme reads "Authorization: <scheme> <token>". The scheme compares case-insensitively
// (RFC 9110 §11.1); the token must be one non-empty word.
func fromScheme(auth, scheme, source string) (Presented, bool, error) {
	if len(auth) < len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return Presented{}, false, nil
	}
	rest := auth[len(scheme):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return Presented{}, false, nil // a longer scheme name, e.g. "BearerX"
	}
	tok := strings.Trim(rest, " \t")
	if tok == "" {
		return Presented{}, false, malformed("the " + scheme + " credential is empty")
	}
	if strings.ContainsAny(tok, " \t") {
		return Presented{}, false, malformed("the " + scheme + " credential holds more than one token")
	}
	if !printableASCII(tok) {
		return Presented{}, false, malformed("the " + scheme + " credential has characters a token cannot have")
	}
	return Presented{Source: source, Token: tok}, true, nil
}

// fromBasic reads "Authorization: Basic base64(<key id>:<secret>)" (RFC 7617, UTF-8).
func fromBasic(auth string) (Presented, bool, error) {
	const scheme = "Basic"
	if len(auth) < len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return Presented{}, false, nil
	}
	rest := auth[len(scheme):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return Presented{}, false, nil
	}
	enc := strings.Trim(rest, " \t")
	if enc == "" {
		return Presented{}, false, malformed("the Basic credential is empty")
	}
	if len(enc) > 4*MaxTokenLen {
		return Presented{}, false, malformed("the Basic credential is too long")
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(enc)
		if err != nil {
			return Presented{}, false, malformed("the Basic credential is not valid base64")
		}
	}
	if !utf8.Valid(raw) {
		return Presented{}, false, malformed("the Basic credential is not valid UTF-8")
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Presented{}, false, malformed("the Basic credential has no ':' between key and secret")
	}
	if id == "" || secret == "" {
		return Presented{}, false, malformed("the Basic credential needs both a key and a secret")
	}
	return Presented{Source: SourceBasic, Token: secret, KeyID: id}, true, nil
}

// fromHeader reads a configured header holding the token alone.
func fromHeader(h http.Header, name string) (Presented, bool, error) {
	vals := h[name]
	switch len(vals) {
	case 0:
		return Presented{}, false, nil
	case 1:
	default:
		return Presented{}, false, malformed("the request has more than one " + name + " header")
	}
	tok := strings.Trim(vals[0], " \t")
	if tok == "" {
		return Presented{}, false, malformed("the " + name + " header is empty")
	}
	if strings.ContainsAny(tok, " \t") {
		return Presented{}, false, malformed("the " + name + " header holds more than one token")
	}
	if !printableASCII(tok) {
		return Presented{}, false, malformed("the " + name + " header has characters a token cannot have")
	}
	return Presented{Source: SourceHeader, Token: tok}, true, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
