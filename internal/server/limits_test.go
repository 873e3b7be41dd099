package server

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// TestBodyLimits: every route bounds its body before decoding it (CONTRACT §11.60): 413 with
// the contract's body past the route's limit, and metadata is measured as raw JSON.
func TestBodyLimits(t *testing.T) {
	in := start(t, startOpts{})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "u1", "email": "u1@example.com"}`})
	pad := func(n int) string { return strings.Repeat(" ", n) }
	tests := []struct {
		name string
		r    req
		want int
	}{
		{"a key create over 32 KiB", req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:u1"` + pad(33<<10) + `}`}, 413},
		{"a key create under 32 KiB", req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:u1"` + pad(30<<10) + `}`}, 201},
		{"a key patch over 32 KiB", req{method: "PATCH", path: "/v1/keys/nope", token: boot, body: `{"name": "k"` + pad(33<<10) + `}`}, 413},
		{"a revocation over 64 KiB", req{method: "POST", path: "/v1/tokens/revoke", body: `{"token": "x"` + pad(65<<10) + `}`}, 413},
		{"a user create over 64 KiB", req{method: "POST", path: "/v1/users", token: boot, body: `{"email": "x@example.com"` + pad(65<<10) + `}`}, 413},
		{"metadata over 16 KiB", req{method: "POST", path: "/v1/keys", token: boot,
			body: `{"name": "k", "owner": "user:u1", "metadata": {"a": "` + strings.Repeat("x", 17<<10) + `"}}`}, 400},
		{"metadata of many empty objects", req{method: "POST", path: "/v1/keys", token: boot,
			body: `{"name": "k", "owner": "user:u1", "metadata": {"a": [` + strings.Repeat("{},", 5000) + `{}]}}`}, 400},
		{"more than 100 tokens to revoke", req{method: "POST", path: "/v1/tokens/revoke", body: `[` + strings.Repeat(`"x",`, 100) + `"x"]`}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := in.do(tt.r)
			if a.status != tt.want {
				t.Fatalf("status %d, want %d; body %.200s", a.status, tt.want, a.body)
			}
			if tt.want == 413 && a.errCode(t) != "too_large" {
				t.Fatalf("413 without the contract's body: %.200s", a.body)
			}
		})
	}
}

// TestMemoryIsBoundedByTheRequest: 260 concurrent maximal bad requests — 200 leaked-token
// revocations without a credential and 60 key creates with metadata of empty objects — raise
// the process's heap by at most 100 MiB (CONTRACT §11.60). Before the limits the same burst of
// 1 MiB bodies took it from 37 MiB to 1.34 GiB.
func TestMemoryIsBoundedByTheRequest(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) { c.Quotas = config.Quotas{} }})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "u1", "email": "u1@example.com"}`})
	key := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:u1"}`}).json(t)["token"].(string)

	const mib = 1 << 20
	revokeBody := `[` + strings.Repeat(`"",`, (1<<20)/3) + `""]`                                // ~1 MiB: 349k tokens
	keyBody := `{"name": "k", "metadata": {"a": [` + strings.Repeat(`{},`, (1<<20)/3) + `{}]}}` // ~1 MiB of empty objects

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 260}}
	var wg sync.WaitGroup
	var bad atomic.Int32
	send := func(path, token, body string) {
		defer wg.Done()
		r, _ := http.NewRequest("POST", in.base+path, strings.NewReader(body))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(r)
		if err != nil {
			return // the server may close a connection whose body it refused
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			bad.Add(1)
		}
	}
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go send("/v1/tokens/revoke", "", revokeBody)
	}
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go send("/v1/keys", key, keyBody)
	}
	wg.Wait()
	close(stop)
	<-sampled
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of the bad requests were not refused with a 4xx", n)
	}
	grew := int64(peak.Load()) - int64(before.HeapAlloc)
	t.Logf("heap before %d MiB, peak %d MiB during 260 concurrent 1 MiB bad requests", before.HeapAlloc/mib, peak.Load()/mib)
	if grew > 100*mib {
		t.Errorf("the burst raised the heap by %s, more than 100 MiB", fmt.Sprintf("%d MiB", grew/mib))
	}
}

// TestQuotas: writes are bounded per principal, keys per owner, and the public endpoints per
// client address (CONTRACT §11.59, §11.63); admin credentials are the operator's and unbound.
func TestQuotas(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) {
		c.Quotas = config.Quotas{WritesPerMinute: 20, KeysPerOwner: 8, RevokePerMinute: 5, LoginPerMinute: 130}
	}})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "m", "email": "m@example.com"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "n", "email": "n@example.com"}`})
	mkey := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:m"}`}).json(t)["token"].(string)

	// The owner cap: m holds 1 key; 7 more make 8, the 9th is 403 and writes nothing.
	for i := 0; i < 7; i++ {
		in.must(201, req{method: "POST", path: "/v1/keys", token: mkey, body: `{"name": "k"}`})
	}
	if a := in.must(403, req{method: "POST", path: "/v1/keys", token: mkey, body: `{"name": "k"}`}); a.errCode(t) != "forbidden" {
		t.Fatalf("past the key cap: %s", a.body)
	}
	// Even an admin cannot give m a ninth key, but n has room of its own.
	in.must(403, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:m"}`})
	in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:n"}`})

	// The write quota: m has spent 9 of 20 writes; a tight loop reaches 429 with Retry-After.
	var limited answer
	for i := 0; i < 30; i++ {
		a := in.do(req{method: "POST", path: "/v1/keys", token: mkey, body: `{"name": "k"}`})
		if a.status == 429 {
			limited = a
			break
		}
		if a.status != 403 {
			t.Fatalf("write %d: %d %s", i, a.status, a.body)
		}
	}
	if limited.status != 429 || limited.header.Get("Retry-After") == "" || limited.errCode(t) != "rate_limited" {
		t.Fatalf("a tight loop of writes never got 429 with Retry-After: %d %v %s", limited.status, limited.header, limited.body)
	}
	// The bootstrap token is not bound by the write quota.
	for i := 0; i < 25; i++ {
		in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: fmt.Sprintf(`{"type": "organization", "id": "o%d"}`, i)})
	}

	// Leaked-token revocation: 5 per minute per address, then 429 whether or not the token
	// exists (§11.59).
	for i := 0; i < 5; i++ {
		in.must(200, req{method: "POST", path: "/v1/tokens/revoke", body: `{"token": "not-a-token"}`})
	}
	a := in.do(req{method: "POST", path: "/v1/tokens/revoke", body: `{"token": "` + mkey + `"}`})
	if a.status != 429 || a.header.Get("Retry-After") == "" {
		t.Fatalf("the 6th revocation: %d %v %s", a.status, a.header, a.body)
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: mkey}) // and it revoked nothing
}
