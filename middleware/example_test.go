package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/lanyardhq/lanyard/middleware"
)

// standIn answers POST /v1/verify the way a lanyard does in which the key lk_example is Ann's
// and Ann is a member of organization/acme, so that the examples run on their own. In a
// service, the base URL is your lanyard's, e.g. http://127.0.0.1:8080.
func standIn() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q struct {
			Headers    map[string]string `json:"headers"`
			Resource   string            `json:"resource"`
			Permission string            `json:"permission"`
			ClientIP   string            `json:"client_ip"`
			DryRun     bool              `json:"dry_run"`
			Explain    bool              `json:"explain"`
		}
		json.NewDecoder(r.Body).Decode(&q)
		ans := map[string]any{"valid": false, "code": "invalid_token", "principal": nil, "key_id": nil, "resource": nil, "role": nil, "ratelimit": nil}
		layer := "credential"
		if q.Headers["Authorization"] == "Bearer lk_example" {
			ans["principal"], ans["key_id"] = "user:ann", "ann-laptop"
			ans["code"], layer = "forbidden", "grant"
			if q.Resource == "" || q.Resource == "organization/acme" && q.Permission != "manage" {
				ans["valid"], ans["code"], layer = true, nil, ""
				if q.Resource != "" {
					ans["resource"], ans["role"] = q.Resource, "member"
				}
			}
		}
		if q.Explain {
			ans["because"] = map[string]any{"layer": layer, "reason": "…"}
		}
		json.NewEncoder(w).Encode(ans)
	}))
}

func get(h http.Handler, method, path, token string) {
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Body)
	fmt.Printf("%s %s: %d %s\n", method, path, w.Code, strings.TrimSpace(string(body)))
}

// A service wraps each route's handler, saying which resource the route acts on. The
// permission follows the method unless the route names one: read for GET, write for POST.
func Example() {
	lanyard := standIn()
	defer lanyard.Close()

	guard := middleware.New(middleware.Remote(lanyard.URL, middleware.RemoteOptions{}), middleware.Options{
		Resource: func(r *http.Request) (string, string) {
			return "organization/" + r.PathValue("org"), ""
		},
	})
	mux := http.NewServeMux()
	mux.Handle("GET /orgs/{org}/projects", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := middleware.IdentityFrom(r.Context())
		fmt.Fprintf(w, "projects of %s for %s (%s)", r.PathValue("org"), id.Principal, id.Role)
	})))

	get(mux, "GET", "/orgs/acme/projects", "lk_example")
	get(mux, "GET", "/orgs/globex/projects", "lk_example")
	get(mux, "GET", "/orgs/acme/projects", "lk_unknown")
	get(mux, "GET", "/orgs/acme/projects", "")
	// Output:
	// GET /orgs/acme/projects: 200 projects of acme for user:ann (member)
	// GET /orgs/globex/projects: 404 {"error":{"code":"not_found","message":"Not found: it does not exist, or you may not see it."}}
	// GET /orgs/acme/projects: 401 {"error":{"code":"invalid_token","message":"The credential is not valid."}}
	// GET /orgs/acme/projects: 401 {"error":{"code":"unauthenticated","message":"A credential is required."}}
}

// A route may need more than its method says: deleting an organization's members needs manage.
func ExampleOptions_resource() {
	lanyard := standIn()
	defer lanyard.Close()

	guard := middleware.New(middleware.Remote(lanyard.URL, middleware.RemoteOptions{}), middleware.Options{
		Resource: func(r *http.Request) (string, string) {
			return "organization/" + r.PathValue("org"), "manage"
		},
	})
	mux := http.NewServeMux()
	mux.Handle("DELETE /orgs/{org}/members/{user}", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "removed")
	})))
	get(mux, "DELETE", "/orgs/acme/members/bob", "lk_example")
	// Output:
	// DELETE /orgs/acme/members/bob: 403 {"error":{"code":"forbidden","message":"The credential may not do this."}}
}

// A service that decides on its own when to ask can call the Verifier itself.
func ExampleRemote() {
	lanyard := standIn()
	defer lanyard.Close()

	v := middleware.Remote(lanyard.URL, middleware.RemoteOptions{})
	res, err := v.Verify(context.Background(), middleware.Request{
		Header:     http.Header{"Authorization": {"Bearer lk_example"}},
		ClientIP:   "203.0.113.7",
		Resource:   "organization/acme",
		Permission: "write",
	})
	if err != nil {
		fmt.Println("lanyard did not answer:", err)
		return
	}
	fmt.Println(res.Valid, res.Principal, res.KeyID, res.Role)
	// Output:
	// true user:ann ann-laptop member
}
