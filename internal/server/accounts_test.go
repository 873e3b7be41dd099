package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/lanyardhq/lanyard/internal/credential"
)

// TestPasswordChangeEndsSessionsEvenInFlight: a password change and the end of the user's
// personal access tokens are one step (CONTRACT §11.36). Logins with the old password race the
// change; once it has answered and the logins are done, no token any of them obtained works —
// not even one whose login checked the old password before the change and stored its token
// after. Run it with -race.
func TestPasswordChangeEndsSessionsEvenInFlight(t *testing.T) {
	in := start(t, startOpts{})
	boot := testBootstrap
	const oldPw, newPw = "correct horse battery staple one", "correct horse battery staple two"
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "ann", "email": "ann@example.com", "password": "` + oldPw + `"}`})

	login := func() (string, int) {
		resp, err := http.Post(in.base+"/v1/auth/login", "application/json",
			strings.NewReader(`{"email": "ann@example.com", "password": "`+oldPw+`"}`))
		if err != nil {
			return "", 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var a struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal(b, &a)
		return a.AccessToken, resp.StatusCode
	}

	var (
		mu     sync.Mutex
		tokens []string
		wg     sync.WaitGroup
		done   = make(chan struct{})
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				tok, status := login()
				if status == http.StatusOK {
					mu.Lock()
					tokens = append(tokens, tok)
					mu.Unlock()
				}
				select {
				case <-done:
					if status != http.StatusOK {
						return // the old password stopped working
					}
				default:
				}
			}
		}()
	}
	// Change the password while the logins run.
	first, status := login()
	if status != http.StatusOK {
		t.Fatalf("login before the change: %d", status)
	}
	in.must(200, req{method: "PATCH", path: "/v1/users/ann", token: boot, body: `{"password": "` + newPw + `"}`})
	close(done)
	wg.Wait()

	for _, tok := range append(tokens, first) {
		if a := in.do(req{method: "GET", path: "/v1/me", token: tok}); a.status != http.StatusUnauthorized {
			t.Fatalf("a token from a login with the old password works after the change: %d %s", a.status, a.body)
		}
	}
	if _, status := login(); status != http.StatusUnauthorized {
		t.Fatalf("the old password after the change: %d", status)
	}
	t.Logf("%d logins with the old password succeeded around the change; none of their tokens works", len(tokens)+1)
}

// stallHasher holds one verification of the password stall after it has checked it, until
// release is closed: a login caught between checking a password and storing its token.
type stallHasher struct {
	credential.Hasher
	stall   string
	once    sync.Once
	checked chan struct{}
	release chan struct{}
}

func (s *stallHasher) Verify(pw, enc string) (bool, error) {
	ok, err := s.Hasher.Verify(pw, enc)
	if pw == s.stall {
		s.once.Do(func() {
			close(s.checked)
			<-s.release
		})
	}
	return ok, err
}

// TestLoginCheckedBeforeAPasswordChangeIssuesNothing: the deterministic form of the race above.
// A login has checked the old password; the password changes; then the login goes on to issue
// its token — and must not, since the token was bound to the hash it checked (CONTRACT §11.36).
func TestLoginCheckedBeforeAPasswordChangeIssuesNothing(t *testing.T) {
	const oldPw, newPw = "correct horse battery staple one", "correct horse battery staple two"
	h := &stallHasher{Hasher: credential.NewArgon2(cheapParams()), stall: oldPw, checked: make(chan struct{}), release: make(chan struct{})}
	in := start(t, startOpts{hasher: h})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "ann", "email": "ann@example.com", "password": "` + oldPw + `"}`})

	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Post(in.base+"/v1/auth/login", "application/json",
			strings.NewReader(`{"email": "ann@example.com", "password": "`+oldPw+`"}`))
		if err != nil {
			answered <- answer{}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- answer{status: resp.StatusCode, body: b}
	}()
	<-h.checked // the login has checked the old password and is about to issue its token
	in.must(200, req{method: "PATCH", path: "/v1/users/ann", token: boot, body: `{"password": "` + newPw + `"}`})
	close(h.release)
	a := <-answered
	if a.status != http.StatusUnauthorized {
		t.Fatalf("a login that checked the password before it changed answered %d %s, want 401", a.status, a.body)
	}
}
