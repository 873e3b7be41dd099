package inprocess_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/lanyardhq/lanyard/middleware/inprocess"
)

// A service runs lanyard in process: the config's routes decide what reaches the service's
// handler, and a request without a credential is refused before it.
func Example() {
	dir, err := os.MkdirTemp("", "lanyard-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "lanyard.yaml")
	routes := "gateway:\n  routes:\n    - path: /orgs/{id}/{rest...}\n      resource: {type: organization, param: id}\n"
	if err := os.WriteFile(config, []byte(routes), 0o600); err != nil {
		panic(err)
	}
	os.Setenv("LANYARD_BOOTSTRAP_TOKEN", "an-example-bootstrap-token-0123456789") // or one is printed
	defer os.Unsetenv("LANYARD_BOOTSTRAP_TOKEN")

	lan, err := inprocess.Open(context.Background(), inprocess.Options{Config: config, Data: filepath.Join(dir, "data")})
	if err != nil {
		panic(err)
	}
	defer lan.Close()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello,", r.Header.Get("X-Lanyard-Principal"))
	})
	handler := lan.Middleware(api)

	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest("GET", "/orgs/acme/projects", nil))
	body, _ := io.ReadAll(w.Result().Body)
	fmt.Println(w.Code)
	fmt.Print(string(body))
	// Output:
	// 401
	// {"error":{"code":"unauthenticated","message":"A credential is required."}}
}
