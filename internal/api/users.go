package api

import (
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/throttle"
)

const (
	maxEmailLen = 254
	maxNameLen  = 200
)

// userJSON is a user as the API shows it. It never holds the password hash.
type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      *string   `json:"name"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserJSON(u store.User) userJSON {
	return userJSON{
		ID:        u.ID,
		Email:     u.Email,
		Name:      nullable(u.Name),
		Admin:     u.Admin,
		CreatedAt: u.CreatedAt.UTC(),
		UpdatedAt: u.UpdatedAt.UTC(),
	}
}

type createUserRequest struct {
	ID       *string `json:"id"`
	Email    string  `json:"email"`
	Name     *string `json:"name"`
	Password *string `json:"password"`
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	var req createUserRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	id, err := chosenID(req.ID)
	if err != nil {
		return err
	}
	if id == "me" {
		// /users/me always names the caller, so no user may be called me (CONTRACT §11.42).
		return badRequest(`id "me" is reserved: /v1/users/me names the caller.`)
	}
	email, err := validEmail(req.Email)
	if err != nil {
		return err
	}
	name, err := validName(req.Name)
	if err != nil {
		return err
	}
	now := h.clock()
	u := store.User{ID: id, Email: email, EmailNorm: store.NormalizeEmail(email), Name: name, CreatedAt: now, UpdatedAt: now}
	if req.Password != nil {
		if u.PasswordHash, err = h.hashPassword(*req.Password, email); err != nil {
			return err
		}
	}
	if err := h.store.CreateUser(r.Context(), u, h.event(r, "user.create", "user:"+id, "")); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return conflict("A user with this id or email already exists.")
		}
		return err
	}
	h.writeJSON(w, http.StatusCreated, toUserJSON(u), "User created")
	return nil
}

// hashPassword checks the password policy and hashes the password.
func (h *Handler) hashPassword(password, email string) (string, error) {
	if err := credential.CheckPassword(password, email); err != nil {
		return "", badRequest("%s", sentence(err.Error()))
	}
	return h.hasher.Hash(password)
}

// sentence makes a message start upper-case and end with a full stop.
func sentence(s string) string {
	s = upperFirst(s)
	if s != "" && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func validEmail(raw string) (string, error) {
	email := strings.TrimSpace(raw)
	if email == "" {
		return "", badRequest("email is required.")
	}
	if len(email) > maxEmailLen {
		return "", badRequest("email must be at most %d characters.", maxEmailLen)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email || strings.Count(email, "@") != 1 {
		return "", badRequest("email is not a valid address.")
	}
	return email, nil
}

func validName(name *string) (string, error) {
	if name == nil {
		return "", nil
	}
	n := strings.TrimSpace(*name)
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > maxNameLen {
		return "", badRequest("name must be valid text of at most %d characters.", maxNameLen)
	}
	return n, nil
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	page, fp, err := pageFrom(r.URL.Query())
	if err != nil {
		return err
	}
	return writePage(h, w, "users", page, fp, func(p store.Page) ([]store.User, error) { return h.store.ListUsers(r.Context(), p) },
		func(u store.User) (time.Time, string) { return u.CreatedAt, u.ID }, toUserJSON)
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	id := authn.FromContext(r.Context())
	uid, err := h.authz.UserTarget(id, r.PathValue("id"))
	if err != nil {
		return err
	}
	u, err := h.store.GetUser(r.Context(), uid)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The user was")
		}
		return err
	}
	h.writeJSON(w, http.StatusOK, toUserJSON(u), "")
	return nil
}

type patchUserRequest struct {
	Name            *string `json:"name"`
	Password        *string `json:"password"`
	CurrentPassword *string `json:"current_password"`
}

// patchUser changes a user's name or password. Changing one's own password needs the current
// one and ends one's other personal access tokens; an admin setting another user's password
// ends all of theirs.
func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request) error {
	id := authn.FromContext(r.Context())
	uid, err := h.authz.UserTarget(id, r.PathValue("id"))
	if err != nil {
		return err
	}
	var req patchUserRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	cur, err := h.store.GetUser(ctx, uid)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The user was")
		}
		return err
	}
	var name string
	if req.Name != nil {
		if name, err = validName(req.Name); err != nil {
			return err
		}
	}
	u := cur
	if req.Password != nil {
		if u, err = h.changePassword(r, id, cur, *req.Password, req.CurrentPassword); err != nil {
			return err
		}
	}
	if req.Name != nil {
		u, err = h.store.UpdateUser(ctx, uid, func(u *store.User) error {
			u.Name = name
			u.UpdatedAt = h.clock()
			return nil
		}, h.event(r, "user.update", "user:"+uid, ""))
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("The user was")
			}
			return err
		}
	}
	h.writeJSON(w, http.StatusOK, toUserJSON(u), "User updated")
	return nil
}

// changePassword stores a user's new password and, in the same step, ends the user's other
// personal access tokens (all of them when an admin sets another user's password), CONTRACT
// §11.36. Changing one's own password needs the current one; the change is refused if the
// password changed meanwhile, so two changes never both end up believing they won.
func (h *Handler) changePassword(r *http.Request, id *authn.Identity, cur store.User, password string, current *string) (store.User, error) {
	self := id.UserID == cur.ID
	expect := ""
	if self {
		if current == nil {
			return store.User{}, badRequest("current_password is required to change your own password.")
		}
		if err := h.checkCurrentPassword(r, cur, *current); err != nil {
			return store.User{}, err
		}
		expect = cur.PasswordHash
	}
	hash, err := h.hashPassword(password, cur.Email)
	if err != nil {
		return store.User{}, err
	}
	keep := ""
	if self && id.Type == authn.TypePersonal {
		keep = id.ID
	}
	u, _, err := h.store.ChangePassword(r.Context(), cur.ID, expect, hash, keep, h.clock(),
		h.event(r, "user.password_change", "user:"+cur.ID, ""))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, notFound("The user was")
	case errors.Is(err, store.ErrChanged):
		return store.User{}, &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: "The password changed while this request was made; try again."}
	}
	return u, err
}

// checkCurrentPassword verifies the password a user gives to change their own. Wrong guesses
// count against the same per-account and per-address throttle as failed logins, so a stolen key
// cannot be used to guess its owner's password.
func (h *Handler) checkCurrentPassword(r *http.Request, u store.User, password string) error {
	attempt, err := h.pw.throttle.Begin(r.Context(), throttleAccount(u.EmailNorm), throttleAddr(h.clientAddr(r)))
	if err != nil {
		var ref *throttle.Refused
		if !errors.As(err, &ref) {
			return err
		}
		return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
			Message: "Too many wrong passwords; try again later.", RetryAfter: ref.RetrySeconds()}
	}
	defer attempt.Abandoned()
	encoded := u.PasswordHash
	if encoded == "" {
		encoded = h.pw.dummy
	}
	ok, err := h.hasher.Verify(password, encoded)
	if err != nil {
		return err
	}
	if !ok || u.PasswordHash == "" {
		attempt.Failed()
		h.recordLogin(actionLoginFailed, h.clientIP(r), "user:"+u.ID, "wrong current_password")
		return forbidden("current_password is not right.")
	}
	attempt.Succeeded()
	return nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	uid := r.PathValue("id")
	if uid == "me" {
		var err error
		if uid, err = h.authz.UserTarget(authn.FromContext(r.Context()), uid); err != nil {
			return err
		}
	}
	if _, err := h.store.DeleteUser(r.Context(), uid, h.event(r, "user.delete", "user:"+uid, "")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The user was")
		}
		return err
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}

// event starts the audit event of a change the caller makes.
func (h *Handler) event(r *http.Request, action, target, resource string) store.Event {
	ev := store.Event{At: h.clock(), Action: action, Target: target, Resource: resource, Result: "success", IP: h.clientIP(r), Count: 1}
	if id := authn.FromContext(r.Context()); id != nil {
		ev.Actor = id.Principal()
		if ev.Actor == "" {
			ev.Actor = id.Type // the bootstrap token
		}
		ev.Credential = id.CredentialName()
	}
	return ev
}
