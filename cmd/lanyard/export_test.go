package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/store/postgres/pgtest"
)

// call sends one request to a running server's native API with token and returns the status
// and the body.
func call(t *testing.T, addr, token, method, path string, body any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+addr+"/v1"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestExportImport: a store moves from SQLite to PostgreSQL and back through export and import:
// each import exports the same lines as its source, and a server on the imported store takes
// the credentials made on the old one, with the audit trail found by resource.
func TestExportImport(t *testing.T) {
	dsn := pgtest.Database(t)
	const boot = "export-test-bootstrap-token-0123456789abcdef"
	dir1, dir2 := t.TempDir(), t.TempDir()
	sqlite1 := map[string]string{"LANYARD_DATA": dir1, "LANYARD_BOOTSTRAP_TOKEN": boot}
	pg := map[string]string{"LANYARD_DATA": t.TempDir(), "LANYARD_STORE": dsn, "LANYARD_BOOTSTRAP_TOKEN": boot}
	sqlite2 := map[string]string{"LANYARD_DATA": dir2, "LANYARD_BOOTSTRAP_TOKEN": boot}

	// On SQLite: a user, resources, a grant, a personal key and a business key, and their trail.
	addr, _, stop := startServe(t, sqlite1, "--addr", "127.0.0.1:0", "--config", cheapConfig(t))
	api := map[string]string{"LANYARD_ADDR": addr, "LANYARD_TOKEN": boot}
	if code, _, errs := cli(t, api, "a perfectly long password for ann\n", "users", "create", "--email", "Ann@Example.com",
		"--id", "ann", "--password-stdin"); code != 0 {
		t.Fatal(errs)
	}
	for _, r := range []map[string]any{{"type": "organization", "id": "acme"}, {"type": "project", "id": "p1", "parent": "organization/acme"}} {
		if code, body := call(t, addr, boot, http.MethodPost, "/resources", r); code != http.StatusCreated {
			t.Fatalf("creating %v: %d %s", r, code, body)
		}
	}
	if code, body := call(t, addr, boot, http.MethodPut, "/resources/organization/acme/grants/user:ann", map[string]any{"role": "member"}); code != http.StatusOK {
		t.Fatalf("grant: %d %s", code, body)
	}
	var tokens []string
	for _, args := range [][]string{
		{"--name", "ci", "--owner", "user:ann", "--id", "ann-ci", "--metadata", `{"team":"infra","n":2}`},
		{"--name", "biz", "--resource", "project/p1", "--role", "member", "--id", "biz"},
		{"--name", "gone", "--owner", "user:ann", "--id", "gone"},
	} {
		code, out, errs := cli(t, api, "", append([]string{"keys", "create"}, args...)...)
		var k map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &k) != nil {
			t.Fatalf("keys create %v: %d %s", args, code, errs)
		}
		tokens = append(tokens, k["token"].(string))
	}
	if code, _, errs := cli(t, api, "", "keys", "revoke", "gone"); code != 0 {
		t.Fatal(errs)
	}
	stop()

	export := func(vars map[string]string) string {
		t.Helper()
		code, out, errs := cli(t, vars, "", "export")
		if code != 0 || !strings.Contains(errs, "exported") {
			t.Fatalf("export: %d %s", code, errs)
		}
		return out
	}
	importInto := func(vars map[string]string, lines string) {
		t.Helper()
		if code, _, errs := cli(t, vars, lines, "import"); code != 0 || !strings.Contains(errs, "imported") {
			t.Fatalf("import: %d %s", code, errs)
		}
	}
	fromSQLite := export(sqlite1)
	if !strings.HasPrefix(fromSQLite, `{"lanyard_export":1}`+"\n") {
		t.Fatalf("the export does not start with its header: %.80q", fromSQLite)
	}
	for _, secret := range append(tokens, boot, "a perfectly long password for ann") {
		if strings.Contains(fromSQLite, secret) {
			t.Fatal("the export holds a secret")
		}
	}
	for _, want := range []string{`"user":{"id":"ann","email":"Ann@Example.com"`, `"password_hash":"$argon2id$`,
		`"resource":{"type":"project","id":"p1","name":"","parent":"organization/acme"`, `"metadata":{"n":2,"team":"infra"}`,
		`"ancestry":["organization/acme","project/p1"]`, `"name":"instance_key"`, `{"revoked":{"hash":"`} {
		if !strings.Contains(fromSQLite, want) {
			t.Errorf("the export lacks %s", want)
		}
	}

	// SQLite → PostgreSQL: the same lines come back.
	importInto(pg, fromSQLite)
	if got := export(pg); got != fromSQLite {
		t.Fatalf("PostgreSQL exports what SQLite did not:\n%s\nwant\n%s", got, fromSQLite)
	}
	// A second import into the same store is refused and changes nothing.
	if code, _, errs := cli(t, pg, fromSQLite, "import"); code != 1 || !strings.Contains(errs, "empty store") {
		t.Errorf("a second import: %d %q", code, errs)
	}

	// A server on PostgreSQL takes the keys made on SQLite, and finds the trail by resource.
	addr, _, stop = startServe(t, pg, "--addr", "127.0.0.1:0", "--config", cheapConfig(t))
	if code, out, errs := cli(t, map[string]string{"LANYARD_ADDR": addr, "LANYARD_TOKEN": tokens[0]}, "", "keys", "get", "ann-ci"); code != 0 || !strings.Contains(out, `"ann-ci"`) {
		t.Fatalf("the personal key made on SQLite, on PostgreSQL: %d %q %s", code, out, errs)
	}
	if code, body := call(t, addr, tokens[1], http.MethodGet, "/resources/project/p1", nil); code != http.StatusOK {
		t.Fatalf("the business key made on SQLite, on PostgreSQL: %d %s", code, body)
	}
	if code, body := call(t, addr, boot, http.MethodPost, "/verify", map[string]any{"token": tokens[2]}); code != http.StatusOK ||
		!strings.Contains(body, `"code":"revoked"`) {
		t.Fatalf("the key revoked on SQLite, verified on PostgreSQL: %d %s", code, body)
	}
	code, body := call(t, addr, boot, http.MethodGet, "/audit?resource=organization/acme", nil)
	if code != http.StatusOK || !strings.Contains(body, `"key.create"`) || !strings.Contains(body, `"project/p1"`) {
		t.Fatalf("the trail of organization/acme on PostgreSQL: %d %s", code, body)
	}
	stop()

	// PostgreSQL → SQLite, with what the server on PostgreSQL added.
	fromPG := export(pg)
	if fromPG == fromSQLite {
		t.Error("serving on PostgreSQL changed nothing: the test proves less than it says")
	}
	importInto(sqlite2, fromPG)
	if got := export(sqlite2); got != fromPG {
		t.Fatalf("SQLite exports what PostgreSQL did not:\n%s\nwant\n%s", got, fromPG)
	}
	addr, _, stop = startServe(t, sqlite2, "--addr", "127.0.0.1:0", "--config", cheapConfig(t))
	if code, _, errs := cli(t, map[string]string{"LANYARD_ADDR": addr, "LANYARD_TOKEN": tokens[0]}, "", "keys", "get", "ann-ci"); code != 0 {
		t.Fatalf("the personal key, back on SQLite: %s", errs)
	}
	stop()
}

// TestExportImportRefusals: export needs a store, import needs an export and an empty store,
// and --output is made 0600.
func TestExportImportRefusals(t *testing.T) {
	missing := map[string]string{"LANYARD_DATA": filepath.Join(t.TempDir(), "typo")}
	if code, out, errs := cli(t, missing, "", "export"); code != 1 || out != "" || !strings.Contains(errs, "no lanyard store") {
		t.Errorf("export of a missing store: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(missing["LANYARD_DATA"]); !os.IsNotExist(err) {
		t.Error("export made a store")
	}
	vars := map[string]string{"LANYARD_DATA": t.TempDir()}
	for _, in := range []string{"", "not json", `{"lanyard_export":2}`, `{"users":[]}`} {
		if code, _, errs := cli(t, vars, in, "import"); code != 1 || !strings.Contains(errs, "not a lanyard export") {
			t.Errorf("import of %q: %d %q", in, code, errs)
		}
	}
	for in, says := range map[string]string{
		`{"lanyard_export":1}` + "\n" + `{"user":{"id":"u1"},"key":{"id":"k1"}}`:                                                   "exactly one",
		`{"lanyard_export":1}` + "\n" + `{"user":{"id":"u1","shoe_size":9}}`:                                                       "shoe_size",
		`{"lanyard_export":1}` + "\n" + `{"secret":{"hash":"abc"}}`:                                                                "64 hex digits",
		`{"lanyard_export":1}` + "\n" + `{"key":{"id":"k1","owner":"ghost","format":"token","created_at":"2030-01-01T00:00:00Z"}}`: "nowhere before it",
	} {
		if code, _, errs := cli(t, vars, in, "import"); code != 1 || !strings.Contains(errs, says) {
			t.Errorf("import of %q: %d %q, want it to say %q", in, code, errs, says)
		}
	}
	// Nothing was imported: the store exports only its meta records.
	out := filepath.Join(t.TempDir(), "export.jsonl")
	if code, _, errs := cli(t, vars, "", "export", "--output", out); code != 0 || !strings.Contains(errs, "exported 1 records") {
		t.Errorf("export of the store the refused imports left: %d %q", code, errs)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("--output: %v, %v; want mode 0600", fi, err)
	}
}
