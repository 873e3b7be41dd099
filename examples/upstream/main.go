// Command upstream is a tiny API to put behind lanyard while trying a preset: it answers every
// method on every path with the method, the path and the X-Lanyard-* identity headers it
// received, as one line of JSON, so you can see what lanyard let through and who it says the
// caller is.
//
//	go run ./examples/upstream                      # listens on 127.0.0.1:9000
//	go run ./examples/upstream -addr 127.0.0.1:9100
//
// It also says whether a credential reached it: lanyard removes the credential headers
// (Authorization, and the headers the config reads credentials from) before it proxies, unless a
// route forwards them. It never prints a credential.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strings"
)

// credentialHeaders are the headers the example configs read credentials from.
var credentialHeaders = []string{"Authorization", "X-Bbk-Auth-Token", "X-Event-Token", "X-Collaborator-Token", "X-Area-Token"}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	log.Printf("upstream: listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(echo)))
}

// echo answers {"method", "path", "lanyard": {header: value}, "credential_forwarded": bool}.
func echo(w http.ResponseWriter, r *http.Request) {
	ids := map[string]string{}
	for name, vs := range r.Header {
		if strings.HasPrefix(name, "X-Lanyard-") && len(vs) > 0 {
			ids[name] = vs[0]
		}
	}
	forwarded := false
	for _, name := range credentialHeaders {
		if r.Header.Get(name) != "" {
			forwarded = true
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Method    string            `json:"method"`
		Path      string            `json:"path"`
		Lanyard   map[string]string `json:"lanyard"`
		Forwarded bool              `json:"credential_forwarded"`
	}{r.Method, r.URL.Path, ids, forwarded})
}
