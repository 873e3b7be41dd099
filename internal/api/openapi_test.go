package api

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOpenAPIMatchesTheRoutes keeps GET /v1/openapi.json true: every route the server registers
// is described with its method, every described operation is a route, and every schema it
// references exists.
func TestOpenAPIMatchesTheRoutes(t *testing.T) {
	h := newTestHandler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /v1/openapi.json = %d", rec.Code)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	registered := map[string]bool{}
	described := 0
	for _, rt := range h.Routes() {
		key := rt.Method + " " + rt.Path
		registered[key] = true
		if _, ok := operations[key]; !ok && rt.Doc == nil {
			t.Errorf("route %s is not described in operations", key)
			continue
		}
		methods := []string{rt.Method}
		if rt.Method == AnyMethod {
			methods = anyMethods
		}
		for _, m := range methods {
			described++
			if _, ok := doc.Paths[strings.ReplaceAll(rt.FullPath(h.Prefix()), "...}", "}")][strings.ToLower(m)]; !ok {
				t.Errorf("route %s (%s) is missing from the document", key, m)
			}
		}
	}
	for key := range operations {
		if !registered[key] {
			t.Errorf("operations describes %s, which is no route", key)
		}
	}
	n := 0
	for _, item := range doc.Paths {
		n += len(item)
	}
	if n != described {
		t.Errorf("the document has %d operations for %d routes", n, described)
	}
	for _, m := range strings.Split(rec.Body.String(), `"#/components/schemas/`)[1:] {
		name := m[:strings.IndexByte(m, '"')]
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s is referenced but not defined", name)
		}
	}
}
