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
