package api

import (
	"net/url"
	"testing"
	"time"
)

func TestPageFrom(t *testing.T) {
	fp := filterFingerprint([]string{"owner=u1"})
	good := encodeCursor(time.Unix(1700000000, 0), "k1", fp)
	tests := []struct {
		query string
		ok    bool
		limit int
	}{
		{"", true, 50},
		{"limit=1", true, 1},
		{"limit=1000", true, 1000},
		{"limit=0", false, 0},
		{"limit=1001", false, 0},
		{"limit=abc", false, 0},
		{"limit=1&limit=2", false, 0},
		{"cursor=" + good, true, 50},
		{"cursor=not-base64!", false, 0},
		{"cursor=" + encodeCursor(time.Unix(1, 0), "k1", "other"), false, 0},
		{"cursor=" + encodeCursor(time.Unix(1, 0), "", fp), false, 0},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		page, _, err := pageFrom(q, "owner=u1")
		if (err == nil) != tt.ok {
			t.Errorf("pageFrom(%q) = %v, want ok=%v", tt.query, err, tt.ok)
			continue
		}
		if tt.ok && page.Limit != tt.limit {
			t.Errorf("pageFrom(%q).Limit = %d, want %d", tt.query, page.Limit, tt.limit)
		}
	}
	q, _ := url.ParseQuery("cursor=" + good)
	page, _, err := pageFrom(q, "owner=u1")
	if err != nil || page.AfterID != "k1" || page.AfterCreated.Unix() != 1700000000 {
		t.Fatalf("cursor round trip: %+v, %v", page, err)
	}
}

// FuzzCursor: a client-supplied cursor is decoded or refused, never a panic.
func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(time.Unix(5, 0), "id", "fp"))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, s string) {
		q := url.Values{"cursor": {s}}
		_, _, _ = pageFrom(q)
	})
}
