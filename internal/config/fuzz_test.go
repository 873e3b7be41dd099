package config

import (
	"os"
	"testing"
)

// FuzzParse: arbitrary bytes never panic, and a config Parse accepts validates.
func FuzzParse(f *testing.F) {
	for _, p := range presetPaths() {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"server:\n  addr: 127.0.0.1:0\n  read_timeout: 90\n",
		"roles:\n  contributor: [write]\n",
		"schema:\n  a: &x {parents: [b]}\n  b: {}\n  c: *x\n",
		"sources:\n  - {type: scheme, scheme: \"APIKEY:ORGANIZATION\"}\n",
		"gateway:\n  routes:\n    - path: /a/{id}\n      resource: {type: project, param: id}\n",
		"plans:\n  p: {bucket: key, windows: [{limit: 1, window: 1s}]}\ndefault_plan: p\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a config and an error: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v\n%s", err, b)
		}
	})
}
