package storetest

import (
	"bytes"
	"testing"

	"github.com/lanyardhq/lanyard/internal/store"
)

// instanceKey is s.InstanceKey, which must be 32 bytes that are not all zero.
func instanceKey(t *testing.T, s store.Store) []byte {
	t.Helper()
	key, err := s.InstanceKey(t.Context())
	if err != nil {
		t.Fatalf("InstanceKey: %v", err)
	}
	if len(key) != 32 || bytes.Equal(key, make([]byte, 32)) {
		t.Fatalf("InstanceKey = %x, want 32 random bytes", key)
	}
	return key
}

func testInstanceKey(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	key := instanceKey(t, s)
	if again := instanceKey(t, s); !bytes.Equal(again, key) {
		t.Errorf("InstanceKey changed from %x to %x", key, again)
	}
	// A caller that scribbles on the key it was given changes nothing.
	clear(key)
	instanceKey(t, s)
	if other := instanceKey(t, newStore(t)); bytes.Equal(other, instanceKey(t, s)) {
		t.Errorf("two stores have the same instance key %x", other)
	}
}

// testInstanceKeyKept: the key made the first time a store opens is the one it has after it is
// closed and opened again, twice.
func testInstanceKeyKept(t *testing.T, newPlace func(t *testing.T) string, open func(t *testing.T, place string) store.Store) {
	place := newPlace(t)
	s := open(t, place)
	key := instanceKey(t, s)
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s = open(t, place)
		if got := instanceKey(t, s); !bytes.Equal(got, key) {
			t.Errorf("reopen %d: instance key %x, want %x", i+1, got, key)
		}
	}
}
