package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// hourAt is the start of the UTC hour n hours after the one at(0) falls in.
func hourAt(n int) time.Time { return store.HourOf(at(0)).Add(time.Duration(n) * time.Hour) }

// use is an entry of a usage batch: key's requests and refusals at t.
func use(key string, t time.Time, requests, refusals int64) store.UsageHour {
	return store.UsageHour{KeyID: key, Hour: t, Requests: requests, Refusals: refusals}
}

// usageOf is the key's usage hours in [from, to).
func usageOf(t *testing.T, s store.Store, key string, from, to time.Time) []store.UsageHour {
	t.Helper()
	got, err := s.UsageOf(t.Context(), key, from, to)
	if err != nil {
		t.Fatalf("UsageOf(%s): %v", key, err)
	}
	return got
}

// checkUsage compares usage hours, times as instants in UTC.
func checkUsage(t *testing.T, what string, got, want []store.UsageHour) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	for i := range got {
		if got[i].Hour.Location() != time.UTC {
			t.Errorf("%s: hour %v is not in UTC", what, got[i].Hour)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// testAddUsage: AddUsage adds each entry to the UTC hour it falls in, batch after batch, one key
// apart from another; what counts nothing, and keys that do not exist, are left out; a negative
// count refuses the whole batch. No event is written.
func testAddUsage(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name    string
		batches [][]store.UsageHour
		// err is what the last batch gives.
		err error
		// want is k1's hours, then k2's.
		want []store.UsageHour
	}{
		{name: "one entry", batches: [][]store.UsageHour{{use("k1", at(0), 3, 1)}},
			want: []store.UsageHour{use("k1", hourAt(0), 3, 1)}},
		{name: "a time inside an hour counts in that hour", batches: [][]store.UsageHour{{use("k1", hourAt(2).Add(59*time.Minute+59*time.Second), 1, 0)}},
			want: []store.UsageHour{use("k1", hourAt(2), 1, 0)}},
		{name: "entries of one key and hour add up", batches: [][]store.UsageHour{{use("k1", at(0), 1, 0), use("k1", hourAt(0), 2, 1), use("k1", at(60), 4, 0)}},
			want: []store.UsageHour{use("k1", hourAt(0), 7, 1)}},
		{name: "batches add up", batches: [][]store.UsageHour{{use("k1", at(0), 1, 0)}, {use("k1", at(10), 4, 2)}, {use("k1", at(20), 0, 1)}},
			want: []store.UsageHour{use("k1", hourAt(0), 5, 3)}},
		{name: "keys and hours apart", batches: [][]store.UsageHour{{use("k2", hourAt(1), 2, 2), use("k1", hourAt(1), 1, 0), use("k1", hourAt(0), 5, 0)}},
			want: []store.UsageHour{use("k1", hourAt(0), 5, 0), use("k1", hourAt(1), 1, 0), use("k2", hourAt(1), 2, 2)}},
		{name: "a key that does not exist is ignored", batches: [][]store.UsageHour{{use("ghost", at(0), 9, 9), use("k1", at(0), 1, 0)}},
			want: []store.UsageHour{use("k1", hourAt(0), 1, 0)}},
		{name: "nothing counted is nothing written", batches: [][]store.UsageHour{{use("k1", at(0), 0, 0)}, nil, {}}},
		{name: "a negative count refuses the batch", batches: [][]store.UsageHour{{use("k1", at(0), 5, 0), use("k2", at(0), -1, 0)}},
			err: store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			mustCreateUser(t, s, newUser("u1", at(0)))
			mustCreateKey(t, s, newKey("k1", "u1", at(0)))
			mustCreateKey(t, s, newKey("k2", "u1", at(0)))
			before := countEvents(t, s)
			var err error
			for _, b := range tt.batches {
				err = s.AddUsage(t.Context(), b)
			}
			if tt.err != nil {
				wantErr(t, "AddUsage", err, tt.err)
			} else if err != nil {
				t.Fatalf("AddUsage: %v", err)
			}
			var got []store.UsageHour
			for _, k := range []string{"k1", "k2"} {
				got = append(got, usageOf(t, s, k, hourAt(-24), hourAt(24))...)
			}
			checkUsage(t, "usage", got, tt.want)
			if n := countEvents(t, s); n != before {
				t.Errorf("AddUsage wrote %d events, want none", n-before)
			}
		})
	}
}

// testUsageOf: UsageOf reads one key's hours that start in [from, to), oldest first, whatever
// order they were added in.
func testUsageOf(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustCreateKey(t, s, newKey("k1", "u1", at(0)))
	mustCreateKey(t, s, newKey("k2", "u1", at(0)))
	var batch []store.UsageHour
	for h := 5; h >= 0; h-- {
		batch = append(batch, use("k1", hourAt(h), int64(h+1), int64(h)))
	}
	batch = append(batch, use("k2", hourAt(2), 100, 0))
	if err := s.AddUsage(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	hours := func(key string, from, to int) []store.UsageHour {
		var out []store.UsageHour
		for h := from; h < to; h++ {
			out = append(out, use(key, hourAt(h), int64(h+1), int64(h)))
		}
		return out
	}
	tests := []struct {
		name     string
		key      string
		from, to time.Time
		want     []store.UsageHour
	}{
		{"every hour", "k1", hourAt(-100), hourAt(100), hours("k1", 0, 6)},
		{"from is in, to is out", "k1", hourAt(1), hourAt(4), hours("k1", 1, 4)},
		{"a from inside an hour leaves that hour out", "k1", hourAt(1).Add(time.Second), hourAt(3), hours("k1", 2, 3)},
		{"an empty range", "k1", hourAt(3), hourAt(3), nil},
		{"a range before every hour", "k1", hourAt(-10), hourAt(0), nil},
		{"another key's hours are its own", "k2", hourAt(-100), hourAt(100), []store.UsageHour{use("k2", hourAt(2), 100, 0)}},
		{"a key that does not exist", "ghost", hourAt(-100), hourAt(100), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkUsage(t, "UsageOf", usageOf(t, s, tt.key, tt.from, tt.to), tt.want)
		})
	}
}

// testUsageGoesWithKey: a key's usage hours go with the key, however it goes, so a key that
// reuses its id starts with none.
func testUsageGoesWithKey(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name, key string
		remove    func(s store.Store) error
	}{
		{"DeleteKey", "k1", func(s store.Store) error {
			_, err := s.DeleteKey(t.Context(), "k1", event("key.revoke", "key:k1"))
			return err
		}},
		{"DeleteKeys", "k1", func(s store.Store) error {
			_, err := s.DeleteKeys(t.Context(), store.KeyFilter{Owner: "u1"}, event("key.revoke", ""))
			return err
		}},
		{"DeleteUser", "k1", func(s store.Store) error {
			_, err := s.DeleteUser(t.Context(), "u1", event("user.delete", "user:u1"))
			return err
		}},
		{"DeleteResource", "b1", func(s store.Store) error {
			_, err := s.DeleteResource(t.Context(), "org/acme", nil, resEvent("resource.delete", "org/acme"))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			mustUsers(t, s, "u1", "u2")
			mustTree(t, s, "org/acme")
			mustCreateKey(t, s, newKey("k1", "u1", at(0)))
			mustCreateKey(t, s, newKey("b1", "", at(0)))
			mustCreateKey(t, s, newKey("k2", "u2", at(0)))
			if err := s.AddUsage(t.Context(), []store.UsageHour{use(tt.key, at(0), 2, 1), use("k2", at(0), 1, 0)}); err != nil {
				t.Fatal(err)
			}
			if err := tt.remove(s); err != nil {
				t.Fatal(err)
			}
			checkUsage(t, "UsageOf(the removed key)", usageOf(t, s, tt.key, hourAt(-1), hourAt(1)), nil)
			checkUsage(t, "UsageOf(a key that stays)", usageOf(t, s, "k2", hourAt(-1), hourAt(1)), []store.UsageHour{use("k2", hourAt(0), 1, 0)})
		})
	}
}
