package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// The limits every JSON body is held to before it is decoded into Go values, so that what a
// request makes lanyard allocate is bounded by what it may hold, not by what it sends
// (CONTRACT §11.60): no documented field takes more than maxMembers entries, and none nests
// deeper than maxDepth.
const (
	maxMembers = 1000
	maxDepth   = 32
)

// wrapper is a field type that decodes into another (optional[T]); the check looks through it.
type wrapper interface{ wrappedType() reflect.Type }

var wrapperType = reflect.TypeFor[wrapper]()

// checkJSON walks data's tokens once, without building any value, and refuses (400) what
// encoding/json would accept but the contract does not (CONTRACT §11.41): a key given twice in
// one object, and an object key that names a field of t (the type it decodes into) only when
// case is ignored ("NAME" for "name"). It also refuses containers past maxMembers and nesting
// past maxDepth. Syntax errors are left to the decoder that follows.
func checkJSON(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil // empty or broken: the decoder says so
	}
	return checkValue(dec, tok, t, 0)
}

func checkValue(dec *json.Decoder, tok json.Token, t reflect.Type, depth int) error {
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxDepth {
		return badRequest("The request body nests deeper than %d levels.", maxDepth)
	}
	t = structOf(t)
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
				if ft, exact = fieldType(t, key); !exact && ft != nil {
					return badRequest("Unknown field %q.", key) // a field's name in another case
				}
			}
			val, err := dec.Token()
			if err != nil {
				return nil // malformed JSON: the decoder that follows reports it
			}
			if err := checkValue(dec, val, ft, depth+1); err != nil {
				return err
			}
		}
	case '[':
		var et reflect.Type
		if t0 := deref(t); t0 != nil && (t0.Kind() == reflect.Slice || t0.Kind() == reflect.Array) {
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
			if err := checkValue(dec, tok, et, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// structOf is the type whose fields an object decoded into t has: t itself (through pointers
// and wrappers), or the element type of a slice of structs; nil for anything else (maps, any).
func structOf(t reflect.Type) reflect.Type {
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
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	var folded reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			if ft, exact := fieldType(deref(f.Type), key); ft != nil {
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
