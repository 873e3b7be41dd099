package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The oracle below is checkJSON written the slow, obvious way, over encoding/json's tokenizer.
// FuzzCheckJSON holds the fast scanner to it.

// checkJSON walks data's tokens once, without building any value, and refuses (400) what
// encoding/json would accept but the contract does not (CONTRACT §11.41): a key given twice in
// one object, and an object key that names a field of t (the type it decodes into) only when
// case is ignored ("NAME" for "name"). It also refuses containers past maxMembers and nesting
// past maxDepth. Syntax errors are left to the decoder that follows.
func oracleCheckJSON(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil // empty or broken: the decoder says so
	}
	return oracleCheckValue(dec, tok, t, 0)
}

func oracleCheckValue(dec *json.Decoder, tok json.Token, t reflect.Type, depth int) error {
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxDepth {
		return badRequest("The request body nests deeper than %d levels.", maxDepth)
	}
	t = oracleStructOf(t)
	switch d {
	case '{':
		seen := map[string]struct{}{}
		for n := 0; ; n++ {
			tok, err := dec.Token()
			if err != nil {
				return nil // malformed JSON: the decoder that follows reports it
			}
			if tok == json.Delim('}') {
				return nil
			}
			if n >= maxMembers {
				return badRequest("An object in the request body has more than %d members.", maxMembers)
			}
			key, _ := tok.(string)
			if _, dup := seen[key]; dup {
				return badRequest("The field %q is given twice.", key)
			}
			seen[key] = struct{}{}
			var ft reflect.Type
			if t != nil {
				var exact bool
				if ft, exact = oracleFieldType(t, key); !exact && ft != nil {
					return badRequest("Unknown field %q.", key) // a field's name in another case
				}
			}
			val, err := dec.Token()
			if err != nil {
				return nil // malformed JSON: the decoder that follows reports it
			}
			if err := oracleCheckValue(dec, val, ft, depth+1); err != nil {
				return err
			}
		}
	case '[':
		var et reflect.Type
		if t0 := oracleDeref(t); t0 != nil && (t0.Kind() == reflect.Slice || t0.Kind() == reflect.Array) {
			et = t0.Elem()
		}
		for n := 0; ; n++ {
			tok, err := dec.Token()
			if err != nil {
				return nil // malformed JSON: the decoder that follows reports it
			}
			if tok == json.Delim(']') {
				return nil
			}
			if n >= maxMembers {
				return badRequest("An array in the request body has more than %d elements.", maxMembers)
			}
			if err := oracleCheckValue(dec, tok, et, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func oracleDeref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// structOf is the type whose fields an object decoded into t has: t itself (through pointers
// and wrappers), or the element type of a slice of structs; nil for anything else (maps, any).
func oracleStructOf(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(wrapperType) || reflect.PointerTo(t).Implements(wrapperType) {
			t = reflect.Zero(reflect.PointerTo(t)).Interface().(wrapper).wrappedType()
			continue
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
			continue
		case reflect.Struct:
			return t
		case reflect.Slice, reflect.Array:
			return t // its elements are looked up by checkValue
		}
		return nil
	}
	return nil
}

// fieldType finds the field of struct t that a JSON key names: its type and whether the name
// matched exactly. A key that matches no field at all returns (nil, false): unknown fields are
// the decoder's to refuse.
func oracleFieldType(t reflect.Type, key string) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	var folded reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			if ft, exact := oracleFieldType(oracleDeref(f.Type), key); ft != nil {
				if exact {
					return ft, true
				}
				folded = ft
			}
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f.Type, true
		}
		if strings.EqualFold(name, key) {
			folded = f.Type
		}
	}
	return folded, false
}

// FuzzCheckJSON: on any body encoding/json can read, the fast scanner and the tokenizer oracle
// agree on whether the body breaks a rule (a key twice, a field in another case, too many
// members, too deep).
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"a","name":"b"}`, `{"NAME":1}`, `{"sub":{"Remaining":1}}`,
		`{"list":[{"amount":1},{"Amount":2}]}`, `{"inner":{"x":1,"x":2}}`, `{"na\u006de":1,"name":2}`, `[[[[]]]]`} {
		f.Add([]byte(s))
	}
	t := reflect.TypeFor[*sample]()
	f.Fuzz(func(tt *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		fast, slow := checkJSON(data, t), oracleCheckJSON(data, t)
		if (fast == nil) != (slow == nil) {
			tt.Fatalf("%q: scanner %v, oracle %v", data, fast, slow)
		}
	})
}
