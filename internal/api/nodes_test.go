package api

import (
	"encoding/json"
	"testing"
)

func TestWithLagging(t *testing.T) {
	lagging := []string{"b:8080", "c<1>"}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"no body", nil, `{"lagging":["b:8080","c\u003c1\u003e"]}`},
		{"an empty object", struct{}{}, `{"lagging":["b:8080","c\u003c1\u003e"]}`},
		{"an answer's fields are kept", keyJSON{ID: "k1", Name: "<ci>"}, ""},
		{"not an object", []int{1}, `[1]`},
	} {
		b, err := json.Marshal(withLagging(tc.v, lagging))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.want != "" {
			if string(b) != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, b, tc.want)
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || m["id"] != "k1" || m["name"] != "<ci>" || len(m["lagging"].([]any)) != 2 {
			t.Errorf("%s: %s", tc.name, b)
		}
	}
}
