package server

import (
	"strings"
	"testing"
)

// TestParseRedisURLKeepsThePassword: whatever is wrong with --redis, the error never holds the
// password or a piece of it.
func TestParseRedisURLKeepsThePassword(t *testing.T) {
	for _, raw := range []string{
		"redis://user:s3cr%zzet@127.0.0.1:6379/0", // an invalid escape
		"redis://user:s3cr et@127.0.0.1:6379/0",   // a space
		"redis://user:s3cr@et@127.0.0.1:6379/x",   // a second @, a bad database
		"redis://:s3cr%zzet@127.0.0.1:6379/0",
		"http://user:s3cr%zzet@127.0.0.1:6379/0", // another scheme
	} {
		_, err := parseRedisURL(raw)
		if err == nil {
			t.Errorf("%q: no error", raw)
			continue
		}
		for _, piece := range []string{"s3cr", "zzet", "%zz"} {
			if strings.Contains(err.Error(), piece) {
				t.Errorf("%q: the error %q holds %q of the password", raw, err, piece)
			}
		}
	}
	if _, err := parseRedisURL("redis://user:secret@127.0.0.1:6379/0"); err != nil {
		t.Errorf("a valid URL: %v", err)
	}
}

// TestRedactURL: no piece of a password survives, wherever it stands and whatever it holds.
func TestRedactURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://lanyard:hunter2@db:5432/x?sslmode=require", "postgres://…@db:5432/x?…"},
		{"postgres://lanyard:hun?ter2@db/x", "postgres://…@db/x"},
		{"postgres://lanyard:hun/ter2@db/x", "postgres://…@db/x"},
		{"postgres://lanyard:hun@ter2@db/x", "postgres://…@db/x"},
		{"postgres://db/x?user=lanyard&password=hunter2", "postgres://db/x?…"},
		{"redis://:hunter2@127.0.0.1:6379/0", "redis://…@127.0.0.1:6379/0"},
		{"postgres://db/x", "postgres://db/x"},
	} {
		got := redactURL(tt.in)
		if got != tt.want || strings.Contains(got, "hun") || strings.Contains(got, "ter2") {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
