package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

type sample struct {
	Name  string            `json:"name"`
	N     *int64            `json:"n"`
	Inner map[string]any    `json:"inner"`
	Sub   *sampleSub        `json:"sub"`
	Opt   optional[sample2] `json:"opt"`
	List  []sample2         `json:"list"`
}

type sampleSub struct {
	Remaining int64 `json:"remaining"`
}

type sample2 struct {
	Amount int64 `json:"amount"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{``, true},
		{`   `, true},
		{`{}`, true},
		{`{"name": "a", "n": 3, "inner": {"x": [1, 2]}}`, true},
		{`{"name": "a"}   ` + "\n", true},
		{`{"name": "a"} {}`, false},
		{`{"name": "a"} x`, false},
		{`{"nope": 1}`, false},
		{`{"n": 1.5}`, false},
		{`{"n": "1"}`, false},
		{`[]`, false},
		{`null x`, false},
		{`{"name": `, false},
		{`{"name": "\ud800"}`, true},
		// §11.41: a key given twice, and a field name in another case, are 400.
		{`{"name": "a", "name": "b"}`, false},
		{`{"inner": {"x": 1, "x": 2}}`, false},
		{`{"NAME": "a"}`, false},
		{`{"Name": "a"}`, false},
		{`{"sub": {"remaining": 1}}`, true},
		{`{"sub": {"Remaining": 1}}`, false},
		{`{"opt": {"amount": 1}}`, true},
		{`{"opt": {"AMOUNT": 1}}`, false},
		{`{"list": [{"amount": 1}, {"amount": 2}]}`, true},
		{`{"list": [{"amount": 1}, {"Amount": 2}]}`, false},
		{`{"inner": {"X": 1, "x": 2}}`, true}, // free-form maps keep their keys
		// §11.60: containers and nesting are bounded before anything is decoded.
		{`{"inner": {"a": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, false},
		{`{"inner": {"a": [` + strings.Repeat("{},", 1000) + `{}]}}`, false},
		{`{"inner": {"a": [` + strings.Repeat("{},", 998) + `{}]}}`, true},
	}
	for _, tt := range tests {
		var dst sample
		err := decodeJSON([]byte(tt.body), &dst)
		if (err == nil) != tt.ok {
			t.Errorf("decodeJSON(%q) = %v, want ok=%v", tt.body, err, tt.ok)
		}
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Status != http.StatusBadRequest) {
			t.Errorf("decodeJSON(%q) error %v is not a 400", tt.body, err)
		}
	}
}

// FuzzDecodeJSON: any body is either decoded or refused with a 400, never a panic.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"a","n":1}`, `{"inner":{"a":[1,{"b":null}]}}`, `[`, `{"n":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst sample
		err := decodeJSON(body, &dst)
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Status != http.StatusBadRequest) {
			t.Fatalf("error %v is not a 400", err)
		}
	})
}
