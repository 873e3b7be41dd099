package api

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/throttle"
)

// Audit actions of logins. Successes are written with the token they create; failures and
// throttled attempts belong to no change and go through the refusals aggregator (per client
// address, target, detail and minute, with a count).
const (
	actionLogin          = "user.login"
	actionLoginFailed    = "login.failed"
	actionLoginThrottled = "login.throttled"
	actionRehash         = "user.password_rehash"
)

// defaultPersonalTTL is a personal access token's lifetime when the options name none.
const defaultPersonalTTL = 24 * time.Hour

// passwords is what logins need beyond the handler's common dependencies.
type passwords struct {
	// params are the configured argon2id parameters: a stored hash made with others is
	// rehashed on a successful login.
	params credential.Params
	// dummy is a hash of a password nobody knows, made once at start with params: a login for
	// an unknown email (or a user without a password) verifies against it, so it costs exactly
	// what a wrong password costs.
	dummy    string
	ttl      time.Duration
	throttle throttle.Tracker
}

// initPasswords bounds every password hashing of the API (login, user create and patch) by
// one semaphore, computes the dummy hash and sets up login throttling.
func (h *Handler) initPasswords(o Options) error {
	wait := o.HashQueueTimeout
	if wait <= 0 {
		wait = 2 * time.Second
	}
	h.hasher = credential.Bounded(o.Hasher, o.HashConcurrency, wait)
	p := o.PasswordParams
	if p == (credential.Params{}) {
		p = credential.DefaultParams()
	}
	dummy, err := credential.DummyHash(p)
	if err != nil {
		return err
	}
	ttl := o.PersonalTTL
	if ttl <= 0 {
		ttl = defaultPersonalTTL
	}
	tc := o.Login
	if tc.Now == nil {
		tc.Now = h.now
	}
	tracker := o.LoginTracker
	if tracker == nil {
		tracker = throttle.New(tc)
	}
	h.pw = passwords{params: p, dummy: dummy, ttl: ttl, throttle: tracker}
	return nil
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// errInvalidCredentials is every failed login's answer, whatever failed: a wrong password, an
// unknown email, a user without a password.
var errInvalidCredentials = &Error{Status: http.StatusUnauthorized, Code: CodeInvalidCreds, Message: "The email or password is not right."}

// login exchanges an email and password for a personal access token (seed 001).
//
// Timing: the user is looked up by normalised email and then exactly one password verification
// runs, against the stored hash or, for an unknown email or a user without a password, against
// the dummy hash, so the two failures take the same work. Throttled attempts are refused before
// either.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	u, err := h.CheckPassword(r, req.Email, req.Password)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ip := h.clientIP(r)

	tok, err := credential.Generate(h.prefixes.Personal)
	if err != nil {
		return err
	}
	now := h.clock()
	exp := now.Add(h.pw.ttl)
	// The token is bound to the password hash just checked: if the password changes before the
	// token is stored, it is not (CONTRACT §11.36), and the login fails like a wrong password.
	t := store.Token{ID: credential.NewID(), Kind: store.KindPersonal, UserID: u.ID, Hash: credential.Hash(tok), ExpiresAt: &exp,
		CreatedAt: now, IssuedAgainst: u.PasswordHash}
	ev := store.Event{At: now, Actor: "user:" + u.ID, Credential: "password", Action: actionLogin,
		Target: "personal:" + t.ID, Result: "success", IP: ip, Count: 1}
	if err := h.store.CreateToken(ctx, t, ev); err != nil {
		if errors.Is(err, store.ErrChanged) {
			return errInvalidCredentials
		}
		return err
	}
	h.rehash(r, u, req.Password)
	noStore(w)
	h.writeJSON(w, http.StatusOK, loginAnswer{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(h.pw.ttl / time.Second)}, "Successfully authenticated")
	return nil
}

// CheckPassword checks an email and a password the way a sign-in must (the login endpoint and
// the console both use it): bounded input, login throttling per account and per client
// address, exactly one password verification whether or not the account exists, and the
// failure audited. It returns the user, or the error the caller answers with (401
// invalid_credentials, 429, 400).
func (h *Handler) CheckPassword(r *http.Request, email, password string) (store.User, error) {
	req := loginRequest{Email: email, Password: password}
	if req.Email == "" || req.Password == "" {
		return store.User{}, badRequest("email and password are required.")
	}
	// Neither bound says anything about an account: no account could have a longer email or
	// password (users.go refuses them).
	account := store.NormalizeEmail(req.Email)
	if len(account) > maxEmailLen {
		return store.User{}, badRequest("email must be at most %d characters.", maxEmailLen)
	}
	if utf8.RuneCountInString(req.Password) > credential.MaxPasswordLen {
		return store.User{}, badRequest("password must be at most %d characters.", credential.MaxPasswordLen)
	}
	ip := h.clientIP(r)
	attempt, err := h.pw.throttle.Begin(r.Context(), throttleAccount(account), throttleAddr(h.clientAddr(r)))
	if err != nil {
		var ref *throttle.Refused
		if !errors.As(err, &ref) {
			return store.User{}, err
		}
		h.recordLogin(actionLoginThrottled, ip, h.emailTarget(account), ref.Scope+" throttled")
		return store.User{}, &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
			Message: "Too many failed sign-ins; try again later.", RetryAfter: ref.RetrySeconds()}
	}
	defer attempt.Abandoned() // unless decided below

	u, err := h.store.GetUserByEmail(r.Context(), account)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.User{}, err
	}
	encoded := u.PasswordHash
	if !known || encoded == "" {
		encoded = h.pw.dummy
	}
	ok, err := h.hasher.Verify(req.Password, encoded)
	if err != nil {
		// ErrBusy (429) or a stored hash lanyard cannot read (500): neither is the client's
		// failure, so neither counts against the account.
		return store.User{}, err
	}
	if !ok || !known || u.PasswordHash == "" {
		attempt.Failed()
		target, detail := h.emailTarget(account), "unknown account"
		if known {
			target, detail = "user:"+u.ID, "wrong password"
			if u.PasswordHash == "" {
				detail = "no password set"
			}
		}
		h.recordLogin(actionLoginFailed, ip, target, detail)
		return store.User{}, errInvalidCredentials
	}
	attempt.Succeeded()
	return u, nil
}

// rehash stores a fresh hash of the password when the stored one was made with other
// parameters than the configured ones. It is best effort: the login has succeeded either way.
func (h *Handler) rehash(r *http.Request, u store.User, password string) {
	if !credential.NeedsRehash(u.PasswordHash, h.pw.params) {
		return
	}
	fresh, err := h.hasher.Hash(password)
	if err != nil {
		return // busy: the next login will try again
	}
	old := u.PasswordHash
	ev := store.Event{At: h.clock(), Actor: "user:" + u.ID, Credential: "password", Action: actionRehash,
		Target: "user:" + u.ID, Result: "success", IP: h.clientIP(r), Count: 1}
	_, err = h.store.UpdateUser(r.Context(), u.ID, func(cur *store.User) error {
		if cur.PasswordHash != old {
			return errPasswordChanged // changed meanwhile: keep the newer password
		}
		cur.PasswordHash = fresh
		return nil
	}, ev)
	if err != nil && !errors.Is(err, errPasswordChanged) {
		h.log.Warn("rehashing a password after login", "user", u.ID, "error", err)
	}
}

var errPasswordChanged = errors.New("the password changed during the login")

// recordLogin audits a failed or throttled login, aggregated and written in the background.
func (h *Handler) recordLogin(action, ip, target, detail string) {
	if h.refusals != nil {
		h.refusals.RecordEvent(action, ip, target, detail)
	}
}

// emailTarget names an account by email in the audit trail without the email itself: the field
// sometimes holds a mistyped password, so it is recorded as a keyed fingerprint of the
// normalised email (an HMAC under the instance's key), which nobody can reverse by hashing
// guesses from the audit trail alone.
func (h *Handler) emailTarget(normalized string) string {
	if h.refusals == nil {
		return "email"
	}
	return "email:" + h.refusals.Fingerprint(normalized)
}

// throttleAccount is the key an account is throttled under: a digest of its normalised email,
// so the tracker holds 16 bytes per account whatever the email's length, and no email.
func throttleAccount(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return string(sum[:16])
}

// throttleAddr is the key a client address is throttled under: the address, or for IPv6 its
// /64, which one client usually holds whole.
func throttleAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
