package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Cookie names. Both are scoped to Path, HttpOnly and SameSite=Lax, and Secure under TLS.
const (
	// SessionCookie holds the session token; the store holds its hash.
	SessionCookie = "lanyard_session"
	// LoginCookie holds a random value the sign-in form's csrf field is derived from, before
	// there is a session.
	LoginCookie = "lanyard_login"
)

// sessionPrefix starts session tokens. A session token has the shape of a lanyard token, so a
// garbled cookie is refused before any lookup and a secret scanner recognises a leaked one; no
// source of the API takes it for a credential (the resolver never finds it).
const sessionPrefix = "lcs"

// maxFormBytes bounds a console form's body.
const maxFormBytes = 64 << 10

// loginCookieTTL is how long a sign-in form stays good.
const loginCookieTTL = time.Hour

// session is the signed-in person of a request: the session and the user as the API shows
// them (read again for every request).
type session struct {
	id    string
	token string
	csrf  string
	user  userJSON
	ident authn.Identity
}

type handler func(w http.ResponseWriter, r *http.Request, s *session)

// authed runs h for a request with a valid session, and — for a post — the right csrf field.
// Without a session the answer is 303 to the sign-in page (which comes back here after a
// sign-in, for a GET); a post without the right csrf field is 403 and asks nothing of the API.
func (c *Console) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.session(w, r)
		if !ok {
			if s != nil {
				return // answered (the store could not be read)
			}
			target := "/console/login"
			if r.Header.Get("HX-Request") == "true" {
				// htmx follows a redirect inside the page; this one must load the whole page.
				w.Header().Set("HX-Redirect", target)
				c.renderError(w, r, nil, http.StatusUnauthorized, "Your session has ended: sign in again.")
				return
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				if next := safeNext(r.URL.RequestURI()); next != "" && next != Path {
					target += "?next=" + url.QueryEscape(next)
				}
			}
			c.seeOther(w, r, target)
			return
		}
		if r.Method == http.MethodPost {
			if err := parseForm(w, r); err != nil {
				c.renderError(w, r, s, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) {
				c.renderError(w, r, s, http.StatusForbidden, "This form could not be verified (its csrf field is missing or wrong); nothing was changed. Reload the page and try again.")
				return
			}
		}
		h(w, r, s)
	}
}

// session returns the request's session. ok is false when there is none, or it expired or ended;
// then s is non-nil only when the answer was written already (the store failed).
func (c *Console) session(w http.ResponseWriter, r *http.Request) (s *session, ok bool) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, false
	}
	tok := ck.Value
	if prefix, formatted := credential.Parse(tok); !formatted || prefix != sessionPrefix {
		return nil, false
	}
	row, err := c.sessions.ResolveSession(r.Context(), credential.Hash(tok))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, false
		}
		s := &session{}
		c.storeError(w, r, err)
		return s, false
	}
	now := c.now()
	if !now.Before(row.ExpiresAt) {
		return nil, false
	}
	s = &session{id: row.ID, token: tok, csrf: c.mac("session", tok),
		ident: authn.Identity{Type: authn.TypeSession, ID: row.ID, UserID: row.UserID}}
	// Who the user is now: deleted users are signed out, demoted ones lose admin power.
	a := c.call(r, s, http.MethodGet, "/users/me", nil)
	if !a.ok() || a.decode(&s.user) != nil || s.user.ID != row.UserID {
		if a.status >= 500 || a.status == http.StatusTooManyRequests {
			c.renderError(w, r, nil, a.status, a.message)
			return s, false
		}
		return nil, false
	}
	if s.user.Admin {
		if !now.Before(row.CreatedAt.Add(config.MaxAdminSession)) {
			// An admin's session carries admin power, so it lasts at most 12 hours (§11.34).
			_ = c.sessions.DeleteSession(r.Context(), row.ID, store.Event{})
			return nil, false
		}
		s.ident.SessionAdmin = true
	}
	return s, true
}

// storeError answers a request whose session could not be read.
func (c *Console) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
		c.renderError(w, r, nil, http.StatusServiceUnavailable, "The service is temporarily unavailable.")
		return
	}
	c.log.Error("reading a console session", "request_id", requestIDFrom(r.Context()), "error", err)
	c.renderError(w, r, nil, http.StatusInternalServerError, "Something went wrong on our side.")
}

// mac is the csrf field for a session token or a sign-in cookie: an HMAC-SHA256 under the
// instance key, so that neither another site nor someone who can plant a cookie can forge it.
func (c *Console) mac(purpose, value string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("lanyard console csrf\x00" + purpose + "\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm()
}

// setCookie sets one of the console's cookies; maxAge < 0 deletes it.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     Path,
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   c.overTLS(r),
	})
}

// loginCSRF returns the sign-in form's csrf field, setting a fresh sign-in cookie unless the
// request has one that fits.
func (c *Console) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(LoginCookie); err == nil && validLoginCookie(ck.Value) {
		return c.mac("login", ck.Value)
	}
	var b [32]byte
	rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	c.setCookie(w, r, LoginCookie, v, int(loginCookieTTL/time.Second))
	return c.mac("login", v)
}

func validLoginCookie(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 32
}

// loginPage shows the sign-in form.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.renderLogin(w, r, http.StatusOK, "", "", safeNext(r.URL.Query().Get("next")))
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, alert, email, next string) {
	c.render(w, r, nil, status, "login", "Sign in", alert, loginView{CSRF: c.loginCSRF(w, r), Email: email, Next: next})
}

// login signs a person in: the form's csrf field, then CheckPassword (the check and throttling
// of /v1/auth/login), then a new session — a new id and token at every sign-in, and any
// session the browser still presented is ended.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		c.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.", "", "")
		return
	}
	f := r.PostForm
	email, next := f.Get("email"), safeNext(f.Get("next"))
	ck, err := r.Cookie(LoginCookie)
	if err != nil || !validLoginCookie(ck.Value) || !hmac.Equal([]byte(f.Get("csrf")), []byte(c.mac("login", ck.Value))) {
		c.renderLogin(w, r, http.StatusForbidden, "This sign-in form could not be verified (it expired, or cookies are off); nothing was sent. Try again.", email, next)
		return
	}
	err = c.api.SpendLoginQuota(r)
	var u store.User
	if err == nil {
		u, err = c.api.CheckPassword(r, email, f.Get("password"))
	}
	if err != nil {
		a := checkError(err)
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		c.renderLogin(w, r, a.status, a.message, email, next)
		return
	}
	if old, err := r.Cookie(SessionCookie); err == nil {
		if prev, err := c.sessions.ResolveSession(r.Context(), credential.Hash(old.Value)); err == nil {
			_ = c.sessions.DeleteSession(r.Context(), prev.ID, store.Event{})
		}
	}
	tok, sess, err := c.newSession(r, u.ID, u.Admin, u.PasswordHash)
	if err != nil {
		if errors.Is(err, store.ErrChanged) {
			// The password changed while it was being checked: the old one no longer signs in.
			c.renderLogin(w, r, http.StatusUnauthorized, "The email or password is not right.", email, next)
			return
		}
		c.storeError(w, r, err)
		return
	}
	c.setCookie(w, r, SessionCookie, tok, int(sess.ExpiresAt.Sub(sess.CreatedAt)/time.Second))
	c.setCookie(w, r, LoginCookie, "", -1)
	if next == "" {
		next = Path
	}
	c.seeOther(w, r, next)
}

// newSession stores a new session of the user and returns its token. An admin's lasts at most
// config.MaxAdminSession. issuedAgainst, when set, is the password hash the sign-in checked.
func (c *Console) newSession(r *http.Request, userID string, admin bool, issuedAgainst string) (string, store.Session, error) {
	tok, err := credential.Generate(sessionPrefix)
	if err != nil {
		return "", store.Session{}, err
	}
	now := c.now().UTC().Truncate(time.Second)
	ttl := c.ttl
	if admin {
		ttl = min(ttl, config.MaxAdminSession)
	}
	sess := store.Session{ID: credential.NewID(), UserID: userID, Hash: credential.Hash(tok), CreatedAt: now,
		ExpiresAt: now.Add(ttl), IssuedAgainst: issuedAgainst}
	ev := store.Event{At: now, Actor: "user:" + userID, Credential: "password", Action: "user.login",
		Target: "session:" + sess.ID, Result: "success", IP: c.clientAddr(r).String(), Count: 1}
	if err := c.sessions.CreateSession(r.Context(), sess, ev); err != nil {
		return "", store.Session{}, err
	}
	return tok, sess, nil
}

// logout ends the session: the row goes, and with it every way back in.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	ev := store.Event{At: c.now().UTC().Truncate(time.Second), Actor: "user:" + s.user.ID, Credential: s.ident.CredentialName(),
		Action: "user.logout", Target: "session:" + s.id, Result: "success", IP: c.clientAddr(r).String(), Count: 1}
	if err := c.sessions.DeleteSession(r.Context(), s.id, ev); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.storeError(w, r, err)
		return
	}
	c.setCookie(w, r, SessionCookie, "", -1)
	c.seeOther(w, r, "/console/login")
}

// safeNext returns next when it is a console page of this origin to come back to after a
// sign-in or a form ("/console/…", no scheme, host or backslash, not the sign-in page), else "".
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, Path) || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, Path) ||
		u.Path == "/console/login" || strings.HasPrefix(u.Path, "/console/static/") || strings.Contains(u.Path, "/../") ||
		strings.HasSuffix(u.Path, "/..") {
		return ""
	}
	return u.RequestURI()
}
