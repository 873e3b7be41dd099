package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// openAPIChecker holds every answer of the end-to-end suite to the server's own
// /v1/openapi.json: an answer of a documented operation must match the schema the document
// gives for its status (or for 4XX/5XX), so the document cannot drift from what the server
// sends (JSON Schema 2020-12, as OpenAPI 3.1 uses).
type openAPIChecker struct {
	mu       sync.Mutex
	ops      []docOperation
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

type docOperation struct {
	method    string
	re        *regexp.Regexp
	responses map[string]string // status, "4XX" or "5XX" → schema name ("" for no body)
}

var docParam = regexp.MustCompile(`\{[a-z]+\}`)

func newOpenAPIChecker(doc []byte) (*openAPIChecker, error) {
	var d struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	whole, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("openapi.json", whole); err != nil {
		return nil, err
	}
	ch := &openAPIChecker{compiler: c, schemas: map[string]*jsonschema.Schema{}}
	for path, item := range d.Paths {
		var pat strings.Builder
		for i, part := range docParam.Split(path, -1) {
			if i > 0 {
				pat.WriteString("[^/]+")
			}
			pat.WriteString(regexp.QuoteMeta(part))
		}
		re := regexp.MustCompile("^" + pat.String() + "$")
		if strings.HasSuffix(path, "/{path}") {
			re = regexp.MustCompile("^" + regexp.QuoteMeta(strings.TrimSuffix(path, "{path}")) + ".*$")
		}
		for method, op := range item {
			o := docOperation{method: strings.ToUpper(method), re: re, responses: map[string]string{}}
			for status, resp := range op.Responses {
				o.responses[status] = strings.TrimPrefix(resp.Content["application/json"].Schema.Ref, "#/components/schemas/")
			}
			ch.ops = append(ch.ops, o)
		}
	}
	return ch, nil
}

// check returns why an answer does not match the document, or "" when it does or the
// document does not describe it.
func (ch *openAPIChecker) check(method, path string, status int, body []byte) string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if method == http.MethodHead {
		return ""
	}
	for _, op := range ch.ops {
		if op.method != method || !op.re.MatchString(path) {
			continue
		}
		name, ok := op.responses[strconv.Itoa(status)]
		if !ok {
			class := strconv.Itoa(status/100) + "XX"
			if name, ok = op.responses[class]; !ok {
				return fmt.Sprintf("%s %s answered %d, which the document does not list", method, path, status)
			}
		}
		if name == "" || len(bytes.TrimSpace(body)) == 0 {
			return ""
		}
		s, ok := ch.schemas[name]
		if !ok {
			var err error
			if s, err = ch.compiler.Compile("openapi.json#/components/schemas/" + name); err != nil {
				return "schema " + name + ": " + err.Error()
			}
			ch.schemas[name] = s
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			return fmt.Sprintf("%s %s answered %d with a body that is not JSON", method, path, status)
		}
		if err := s.Validate(v); err != nil {
			return fmt.Sprintf("%s %s answered %d with a body that does not match %s: %v\nbody: %s", method, path, status, name, err, body)
		}
		return ""
	}
	return ""
}

// openAPI returns the instance's checker, fetching the document once.
func (in *instance) openAPI() *openAPIChecker {
	in.specOnce.Do(func() {
		resp, err := http.Get(in.base + "/v1/openapi.json")
		if err != nil {
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return // mounted elsewhere (api.prefix): not checked
		}
		ch, err := newOpenAPIChecker(b)
		if err != nil {
			in.t.Errorf("/v1/openapi.json cannot be read as a schema: %v", err)
			return
		}
		in.spec = ch
	})
	return in.spec
}

// TestOpenAPICheckerCatchesDrift: the checker is no rubber stamp — an answer that breaks the
// document is reported.
func TestOpenAPICheckerCatchesDrift(t *testing.T) {
	in := start(t, startOpts{})
	ch := in.openAPI()
	if ch == nil {
		t.Fatal("no document")
	}
	for _, tt := range []struct {
		method, path string
		status       int
		body         string
		ok           bool
	}{
		{"GET", "/v1/me", 200, `{"principal": null, "credential": {"type": "bootstrap", "id": "bootstrap"}, "admin": true}`, true},
		{"GET", "/v1/me", 200, `{"principal": 7, "credential": {"type": "bootstrap", "id": "bootstrap"}, "admin": true}`, false},
		{"GET", "/v1/me", 200, `{"credential": {"type": "bootstrap", "id": "bootstrap"}, "admin": true}`, false},
		{"GET", "/v1/keys/k1", 404, `{"error": {"code": "not_found", "message": "x"}}`, true},
		{"GET", "/v1/keys/k1", 404, `{"error": "not_found"}`, false},
		{"POST", "/v1/verify", 200, `{"valid": true}`, false},
	} {
		msg := ch.check(tt.method, tt.path, tt.status, []byte(tt.body))
		if (msg == "") != tt.ok {
			t.Errorf("%s %s %d %s: %q, want ok=%v", tt.method, tt.path, tt.status, tt.body, msg, tt.ok)
		}
	}
}
