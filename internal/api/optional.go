package api

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// optional is a PATCH field: absent (Set false), null (Null true) or a value.
type optional[T any] struct {
	Set  bool
	Null bool
	V    T
}

func (*optional[T]) wrappedType() reflect.Type { return reflect.TypeFor[T]() }

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(&o.V)
}
