package audit

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

type sink struct{ evs []store.Event }

func (s *sink) AppendEvents(_ context.Context, evs []store.Event) error {
	s.evs = append(s.evs, evs...)
	return nil
}

func TestRefusalsAggregatePerActionAddressTargetAndMinute(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 5, 0, time.UTC)
	out := &sink{}
	r := NewRefusals(out, testKey, func() time.Time { return now }, nil)
	const secret = "lk_secretsecretsecretsecretsecret123456"
	for range 3 {
		r.Record("192.0.2.1", secret, "unknown or revoked")
	}
	for range 5 {
		r.RecordEvent("login.failed", "192.0.2.1", "user:ann", "wrong password")
	}
	r.RecordEvent("login.failed", "192.0.2.2", "user:ann", "wrong password")
	r.RecordEvent("login.throttled", "192.0.2.1", "user:ann", "account throttled")
	now = now.Add(time.Minute)
	r.RecordEvent("login.failed", "192.0.2.1", "user:ann", "wrong password")
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range out.evs {
		if strings.Contains(e.Target, secret) || strings.Contains(e.Detail, secret) {
			t.Fatalf("an event holds the secret: %+v", e)
		}
		got[e.Action+" "+e.IP+" "+e.Target+" "+e.At.Format("15:04")] += e.Count
	}
	want := map[string]int{
		ActionRefused + " 192.0.2.1 " + r.Fingerprint(secret) + " 10:00": 3,
		"login.failed 192.0.2.1 user:ann 10:00":                          5,
		"login.failed 192.0.2.2 user:ann 10:00":                          1,
		"login.throttled 192.0.2.1 user:ann 10:00":                       1,
		"login.failed 192.0.2.1 user:ann 10:01":                          1,
	}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: count %d, want %d", k, got[k], n)
		}
	}
	// A second flush writes nothing new.
	before := len(out.evs)
	if err := r.Flush(t.Context()); err != nil || len(out.evs) != before {
		t.Fatalf("second flush: %v, %d new events", err, len(out.evs)-before)
	}
}

// TestRefusalsPerAddress floods one address with 3000 distinct tokens in one minute, flushing
// now and then as Run does: the address gets at most 20 events of its own plus one that counts
// the rest, the counts add up, and another address keeps its own events (CONTRACT §11.61).
func TestRefusalsPerAddress(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	out := &sink{}
	r := NewRefusals(out, testKey, func() time.Time { return now }, nil)
	const flood = 3000
	for i := range flood {
		r.Record("192.0.2.66", "lk_"+strconv.Itoa(i)+"_"+strconv.FormatUint(rand.Uint64(), 36), "unknown or revoked")
		if i%7 == 0 {
			r.Record("192.0.2.7", "lk_calm_"+strconv.Itoa(i%5), "unknown or revoked")
		}
		if i%500 == 499 {
			// A periodic flush, as Run does, still in 10:00.
			now = now.Add(9 * time.Second)
			if err := r.flush(t.Context(), false); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The minute ends; the next periodic flush writes the folded count.
	now = now.Add(time.Minute)
	if err := r.flush(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	type tally struct{ rows, count, many int }
	byAddr := map[string]*tally{}
	for _, e := range out.evs {
		if e.At.Format("15:04") != "10:00" || e.Action != ActionRefused {
			t.Fatalf("unexpected event %+v", e)
		}
		a := byAddr[e.IP]
		if a == nil {
			a = &tally{}
			byAddr[e.IP] = a
		}
		a.rows++
		a.count += e.Count
		if e.Target == targetMany {
			a.many += e.Count
			if e.Detail != detailMany {
				t.Errorf("the folded event's detail is %q", e.Detail)
			}
		}
	}
	if a := byAddr["192.0.2.66"]; a == nil || a.rows > maxPerAddress+1 || a.count != flood || a.many != flood-maxPerAddress {
		t.Errorf("flooding address: %+v; want at most %d rows, counts adding up to %d, %d of them folded",
			a, maxPerAddress+1, flood, flood-maxPerAddress)
	}
	if a := byAddr["192.0.2.7"]; a == nil || a.many != 0 || a.count != (flood+6)/7 {
		t.Errorf("other address: %+v; want its own events only, counting %d", a, (flood+6)/7)
	}
	if len(byAddr) != 2 {
		t.Errorf("events from %d addresses, want 2", len(byAddr))
	}

	// The next minute, the address has its own events again.
	out.evs = nil
	r.Record("192.0.2.66", "lk_next_minute", "unknown or revoked")
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(out.evs) != 1 || out.evs[0].Target == targetMany || out.evs[0].Count != 1 {
		t.Errorf("next minute: %+v; want one event of its own", out.evs)
	}
}

// TestRefusalsBoundedByManyAddresses floods from more addresses than maxPending: what is held
// stays bounded and every refusal is still counted.
func TestRefusalsBoundedByManyAddresses(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	out := &sink{}
	r := NewRefusals(out, testKey, func() time.Time { return now }, nil)
	const n = maxPending + 500
	for i := range n {
		r.Record("10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256), "lk_"+strconv.Itoa(i), "unknown or revoked")
	}
	if len(r.pending) > maxPending+1 || len(r.own) > maxPending {
		t.Errorf("%d pending, %d own: want at most %d", len(r.pending), len(r.own), maxPending)
	}
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range out.evs {
		total += e.Count
	}
	if total != n || len(out.evs) > maxPending+1 {
		t.Errorf("%d events counting %d, want at most %d counting %d", len(out.evs), total, maxPending+1, n)
	}
}
