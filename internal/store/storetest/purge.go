package storetest

import (
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// testPurgeExpired: PurgeExpired deletes expired personal and admin tokens and the old secrets
// of reissued keys once their grace has ended, and nothing else: not an expired key (listed
// until it is deleted), not a key's current secret, not the bootstrap token, not what expires
// later. It writes no event.
func testPurgeExpired(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	tok := func(id, kind string, expires *time.Time) store.Token {
		tk := newToken(id, kind, "u1", at(0))
		tk.ExpiresAt = expires
		return tk
	}
	for _, tk := range []store.Token{
		tok("p-expired", store.KindPersonal, ptr(at(10))),
		tok("p-long-expired", store.KindPersonal, ptr(at(-100))),
		tok("p-later", store.KindPersonal, ptr(at(11))),
		tok("p-forever", store.KindPersonal, nil),
	} {
		mustCreateToken(t, s, tk)
	}
	admin := tok("a-expired", store.KindAdmin, ptr(at(5)))
	if _, _, err := s.SetAdmin(ctx, "u1", &admin, event("user.promote", "user:u1")); err != nil {
		t.Fatal(err)
	}
	boot := store.Token{ID: "bootstrap", Hash: hash("bootstrap"), ExpiresAt: ptr(at(1)), CreatedAt: at(0)}
	if _, err := s.InitBootstrap(ctx, boot, event("bootstrap.create", "bootstrap")); err != nil {
		t.Fatal(err)
	}

	// An expired key, with its only secret.
	expiredKey := newKey("k-expired", "u1", at(0))
	expiredKey.ExpiresAt = ptr(at(1))
	kExpired := mustCreateKey(t, s, expiredKey)
	// A key whose only secret carries an expiry: it is no superseded secret, and stays.
	odd := newKey("k-odd", "u1", at(0))
	kOdd := keySecret(odd, "odd")
	kOdd.ExpiresAt = ptr(at(1))
	if err := s.CreateKey(ctx, odd, kOdd, nil, event("key.create", "key:k-odd")); err != nil {
		t.Fatal(err)
	}
	// Two reissued keys: one grace has ended, one runs on.
	reissue := func(id string, grace time.Time) (old, cur store.Secret) {
		t.Helper()
		old = mustCreateKey(t, s, newKey(id, "u1", at(0)))
		cur = keySecret(newKey(id, "u1", at(0)), "new:"+id)
		if _, _, err := s.ReissueKey(ctx, id, cur, grace, event("key.reissue", "key:"+id)); err != nil {
			t.Fatal(err)
		}
		return old, cur
	}
	endedOld, endedCur := reissue("k-grace-ended", at(10))
	runningOld, runningCur := reissue("k-grace-running", at(60))
	before := countEvents(t, s)

	n, err := s.PurgeExpired(ctx, at(10))
	if err != nil {
		t.Fatalf("PurgeExpired: %v", err)
	}
	if n != 4 {
		t.Errorf("PurgeExpired = %d, want 4 (two personal tokens, an admin token, an old key secret)", n)
	}
	for name, h := range map[string]store.Hash{
		"p-expired": hash("token:p-expired"), "p-long-expired": hash("token:p-long-expired"),
		"a-expired": admin.Hash, "k-grace-ended's old secret": endedOld.Hash,
	} {
		wantUnresolved(t, s, name, h)
	}
	for name, h := range map[string]store.Hash{
		"p-later": hash("token:p-later"), "p-forever": hash("token:p-forever"), "bootstrap": boot.Hash,
		"k-expired": kExpired.Hash, "k-odd": kOdd.Hash,
		"k-grace-ended's new secret":   endedCur.Hash,
		"k-grace-running's old secret": runningOld.Hash, "k-grace-running's new secret": runningCur.Hash,
	} {
		if _, err := s.Resolve(ctx, h); err != nil {
			t.Errorf("Resolve(%s) after PurgeExpired: %v", name, err)
		}
	}
	keys, err := s.ListKeys(ctx, store.KeyFilter{Owner: "u1"}, store.Page{})
	if err != nil || len(keys) != 4 {
		t.Errorf("ListKeys after PurgeExpired = %d keys, %v; want all 4, the expired one too", len(keys), err)
	}
	if u, err := s.GetUser(ctx, "u1"); err != nil || !u.Admin {
		t.Errorf("GetUser(u1) = %+v, %v; want the user, still an admin", u, err)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("PurgeExpired wrote %d events", n-before)
	}
	if n, err := s.PurgeExpired(ctx, at(10)); err != nil || n != 0 {
		t.Errorf("second PurgeExpired = %d, %v; want 0", n, err)
	}
	if n, err := s.PurgeExpired(ctx, at(60)); err != nil || n != 2 {
		t.Errorf("PurgeExpired(later) = %d, %v; want 2 (p-later, k-grace-running's old secret)", n, err)
	}
	wantUnresolved(t, s, "k-grace-running's old secret", runningOld.Hash)
	mustResolve(t, s, runningCur.Hash)
}

// testPurgeUsage: PurgeExpired deletes the usage hours that started store.UsageRetention or
// longer before now, keeps the later ones, and does not count them among what it purged.
func testPurgeUsage(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustCreateKey(t, s, newKey("k1", "u1", at(0)))
	now := hourAt(0).Add(30 * time.Minute)
	days := int(store.UsageRetention / time.Hour)
	tests := []struct {
		name  string
		hour  time.Time
		stays bool
	}{
		{"long before the retention", hourAt(-days - 100), false},
		{"an hour before the retention", hourAt(-days - 1), false},
		{"started before the retention, ends inside it", hourAt(-days), false},
		{"started inside the retention", hourAt(-days + 1), true},
		{"the current hour", hourAt(0), true},
	}
	var batch []store.UsageHour
	for _, tt := range tests {
		batch = append(batch, use("k1", tt.hour, 1, 0))
	}
	if err := s.AddUsage(ctx, batch); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeExpired(ctx, now)
	if err != nil || n != 0 {
		t.Errorf("PurgeExpired = %d, %v; want 0: usage hours are not counted", n, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := usageOf(t, s, "k1", tt.hour, tt.hour.Add(time.Hour))
			if stays := len(got) == 1; stays != tt.stays {
				t.Errorf("the hour %v after PurgeExpired(%v): %+v; want it kept: %v", tt.hour, now, got, tt.stays)
			}
		})
	}
}
