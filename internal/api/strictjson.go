package api

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
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

// checkJSON reads data once, without building any value, and refuses (400) what encoding/json
// would accept but the contract does not (CONTRACT §11.41): a key given twice in one object, and
// an object key that names a field of t (the type it decodes into) only when case is ignored
// ("NAME" for "name"). It also refuses containers past maxMembers and nesting past maxDepth.
// Malformed JSON is left to the decoder that follows: checkJSON then stops without an error.
func checkJSON(data []byte, t reflect.Type) error {
	s := jsonScan{data: data}
	s.ws()
	if s.i >= len(data) {
		return nil
	}
	err := s.value(t, 0)
	if err == errMalformed {
		return nil
	}
	return err
}

// errMalformed stops the scan at JSON the decoder will refuse with its own message.
var errMalformed = &Error{}

// jsonScan is a minimal JSON reader: it skips strings, numbers and literals, and looks at
// object keys and nesting only.
type jsonScan struct {
	data []byte
	i    int
	keys [][]byte // the keys of the objects being read, a stack shared by every level
}

func (s *jsonScan) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScan) value(t reflect.Type, depth int) error {
	if s.i >= len(s.data) {
		return errMalformed
	}
	switch s.data[s.i] {
	case '{':
		if depth >= maxDepth {
			return badRequest("The request body nests deeper than %d levels.", maxDepth)
		}
		return s.object(structOf(t), depth)
	case '[':
		if depth >= maxDepth {
			return badRequest("The request body nests deeper than %d levels.", maxDepth)
		}
		return s.array(elemOf(t), depth)
	case '"':
		_, err := s.str()
		return err
	}
	// A number or a literal: up to the next delimiter.
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return nil
		}
		s.i++
	}
	return nil
}

func (s *jsonScan) object(t reflect.Type, depth int) error {
	s.i++ // {
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	for n := 0; ; n++ {
		s.ws()
		if s.i >= len(s.data) {
			return errMalformed
		}
		if s.data[s.i] == '}' && n == 0 {
			s.i++
			return nil
		}
		if n >= maxMembers {
			return badRequest("An object in the request body has more than %d members.", maxMembers)
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		for _, k := range s.keys[base:] {
			if bytes.Equal(k, key) {
				return badRequest("The field %q is given twice.", key)
			}
		}
		s.keys = append(s.keys, key)
		var ft reflect.Type
		if t != nil {
			f := fieldsOf(t)
			var exact bool
			if ft, exact = f.lookup(key); !exact && ft != nil {
				return badRequest("Unknown field %q.", key) // a field's name in another case
			}
		}
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return errMalformed
		}
		s.i++
		s.ws()
		if err := s.value(ft, depth+1); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.data) {
			return errMalformed
		}
		switch s.data[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errMalformed
		}
	}
}

func (s *jsonScan) array(et reflect.Type, depth int) error {
	s.i++ // [
	for n := 0; ; n++ {
		s.ws()
		if s.i >= len(s.data) {
			return errMalformed
		}
		if s.data[s.i] == ']' && n == 0 {
			s.i++
			return nil
		}
		if n >= maxMembers {
			return badRequest("An array in the request body has more than %d elements.", maxMembers)
		}
		if err := s.value(et, depth+1); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.data) {
			return errMalformed
		}
		switch s.data[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errMalformed
		}
	}
}

// str reads a string at s.i and returns its value: the raw bytes when it has no escape, else
// the unescaped value (so "\u006eame" is the key "name", as encoding/json reads it).
func (s *jsonScan) str() ([]byte, error) {
	if s.i >= len(s.data) || s.data[s.i] != '"' {
		return nil, errMalformed
	}
	start := s.i
	s.i++
	escaped := false
	for s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == '"':
			s.i++
			raw := s.data[start+1 : s.i-1]
			if !escaped {
				return raw, nil
			}
			v, err := strconv.Unquote(string(s.data[start:s.i]))
			if err != nil || !utf8.ValidString(v) {
				// JSON escapes Go does not read the same way (a lone surrogate): compare raw.
				return raw, nil
			}
			return []byte(v), nil
		case c == '\\':
			escaped = true
			s.i += 2
		default:
			s.i++
		}
	}
	return nil, errMalformed
}

// fieldTable is a struct type's JSON field names and types, made once per type.
type fieldTable struct {
	names [][]byte
	types []reflect.Type
}

var fieldTables sync.Map // reflect.Type → *fieldTable

func fieldsOf(t reflect.Type) *fieldTable {
	if f, ok := fieldTables.Load(t); ok {
		return f.(*fieldTable)
	}
	f := &fieldTable{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if sf.Anonymous && name == "" {
				if et := deref(sf.Type); et.Kind() == reflect.Struct {
					walk(et)
				}
				continue
			}
			if name == "-" || !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			f.names = append(f.names, []byte(name))
			f.types = append(f.types, sf.Type)
		}
	}
	walk(t)
	actual, _ := fieldTables.LoadOrStore(t, f)
	return actual.(*fieldTable)
}

// lookup finds the field a JSON key names: its type and whether the name matched exactly. A
// key that matches no field at all returns (nil, false): unknown fields are the decoder's to
// refuse.
func (f *fieldTable) lookup(key []byte) (reflect.Type, bool) {
	var folded reflect.Type
	for i, name := range f.names {
		if bytes.Equal(name, key) {
			return f.types[i], true
		}
		if folded == nil && bytes.EqualFold(name, key) {
			folded = f.types[i]
		}
	}
	return folded, false
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// unwrap looks through pointers and wrappers (optional[T]) to the type a value decodes into.
func unwrap(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
			continue
		}
		if reflect.PointerTo(t).Implements(wrapperType) {
			t = reflect.Zero(reflect.PointerTo(t)).Interface().(wrapper).wrappedType()
			continue
		}
		return t
	}
	return nil
}

// structOf is the struct type whose fields an object decoded into t has, or nil (maps, any).
func structOf(t reflect.Type) reflect.Type {
	if t = unwrap(t); t != nil && t.Kind() == reflect.Struct {
		return t
	}
	return nil
}

// elemOf is the element type of a slice or array decoded into t, or nil.
func elemOf(t reflect.Type) reflect.Type {
	if t = unwrap(t); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		return t.Elem()
	}
	return nil
}
