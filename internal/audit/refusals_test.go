package audit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

type sink struct{ evs []store.Event }

func (s *sink) AppendEvents(_ context.Context, evs []store.Event) error {
	s.evs = append(s.evs, evs...)
	return nil
}

func TestRefusalsAggregatePerActionAddressTargetAndMinute(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 5, 0, time.UTC)
	out := &sink{}
	r := NewRefusals(out, func() time.Time { return now }, nil)
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
		ActionRefused + " 192.0.2.1 " + Fingerprint(secret) + " 10:00": 3,
		"login.failed 192.0.2.1 user:ann 10:00":                        5,
		"login.failed 192.0.2.2 user:ann 10:00":                        1,
		"login.throttled 192.0.2.1 user:ann 10:00":                     1,
		"login.failed 192.0.2.1 user:ann 10:01":                        1,
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
