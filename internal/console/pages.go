package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lanyardhq/lanyard/internal/store"
)

// Every page below reads what it shows from the native API as the signed-in person, and every
// form asks the API to make its change; an answer that is not a success is shown with its
// status and message. Nothing here decides who may see or do what.

// listLimit is how many entries a page asks for per list.
const listLimit = "100"

type loginView struct {
	CSRF, Email, Next string
}

type keyForm struct {
	Roles             []string
	Formats, Expiries []option
}

func (c *Console) keyForm() keyForm {
	return keyForm{Roles: c.roles, Formats: formatOptions, Expiries: expiryOptions}
}

type accountView struct {
	Keys           []keyJSON
	KeysError      string
	Cursor, Next   string
	Resources      []resourceJSON
	ResourcesError string
	RootTypes      []string
	Form           keyForm
}

// accountPage is /console/: my keys (with the form that creates one), my resources, my
// password.
func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showAccount(w, r, s, http.StatusOK, "")
}

func (c *Console) showAccount(w http.ResponseWriter, r *http.Request, s *session, status int, alert string) {
	v := accountView{Form: c.keyForm()}
	if r.Method == http.MethodGet {
		v.Cursor = r.URL.Query().Get("cursor")
	}
	a := c.call(r, s, http.MethodGet, "/keys"+query("owner", "user:"+s.user.ID, "limit", listLimit, "cursor", v.Cursor), nil)
	if a.ok() {
		next, err := listOf(a, "keys", &v.Keys)
		if err != nil {
			c.log.Error("reading keys", "error", err)
		}
		if next != "" {
			v.Next = Path + "?cursor=" + url.QueryEscape(next)
		}
	} else {
		v.KeysError = a.message
	}
	if a := c.call(r, s, http.MethodGet, "/resources"+query("limit", listLimit), nil); a.ok() {
		if _, err := listOf(a, "resources", &v.Resources); err != nil {
			c.log.Error("reading resources", "error", err)
		}
	} else {
		v.ResourcesError = a.message
	}
	if s.user.Admin {
		for _, t := range c.schema.Types() {
			if c.schema.IsRoot(t) {
				v.RootTypes = append(v.RootTypes, t)
			}
		}
	}
	c.render(w, r, s, status, "account", "My account", alert, v)
}

// showFrom shows the console page back (where a form was posted from) with an alert: the form
// did not do what it asked, and the page says why.
func (c *Console) showFrom(w http.ResponseWriter, r *http.Request, s *session, back string, a answer) {
	if a.status == http.StatusUnauthorized {
		c.seeOther(w, r, "/console/login")
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	p, _, _ := strings.Cut(back, "?")
	switch {
	case p == "/console/users":
		c.showUsers(w, r, s, a.status, a.message)
	case strings.HasPrefix(p, "/console/resources/"):
		typ, id, ok := strings.Cut(strings.TrimPrefix(p, "/console/resources/"), "/")
		if ok && !strings.Contains(id, "/") {
			c.showResource(w, r, s, typ, id, a.status, a.message)
			return
		}
		c.showAccount(w, r, s, a.status, a.message)
	default:
		c.showAccount(w, r, s, a.status, a.message)
	}
}

// back is where a form goes back to: its next field when that is a console page, else fallback.
func back(r *http.Request, fallback string) string {
	if b := safeNext(r.PostForm.Get("next")); b != "" {
		return b
	}
	return fallback
}

// done is the page to show after a form that changed something: back, naming the notice.
func done(back, what string) string {
	p, _, _ := strings.Cut(back, "?")
	return p + "?done=" + what
}

type secretView struct {
	What, Label   string
	KeyID, Secret string
	Back          string
}

// createKey makes a key with the form's fields, which are the API's: name, owner, resource,
// role, format, expires_in. Only a name makes a personal key of the signed-in person with their
// full power. The new secret is shown once.
func (c *Console) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	ret := back(r, Path)
	body := map[string]any{"name": f.Get("name")}
	for _, k := range []string{"owner", "resource", "role", "format"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			body[k] = v
		}
	}
	if v := strings.TrimSpace(f.Get("expires_in")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			c.showFrom(w, r, s, ret, answer{status: http.StatusBadRequest, message: "expires_in must be a whole number of seconds."})
			return
		}
		body["expires_in"] = n
	}
	a := c.call(r, s, http.MethodPost, "/keys", body)
	if !a.ok() {
		c.showFrom(w, r, s, ret, a)
		return
	}
	c.showIssued(w, r, s, a, "The API key “%s” was created", ret)
}

// showIssued shows the secret of a key just created or reissued.
func (c *Console) showIssued(w http.ResponseWriter, r *http.Request, s *session, a answer, what, ret string) {
	var k issuedJSON
	if err := a.decode(&k); err != nil {
		c.log.Error("reading an issued key", "error", err)
		c.renderError(w, r, s, http.StatusInternalServerError, "Something went wrong on our side.")
		return
	}
	v := secretView{What: strings.Replace(what, "%s", k.Name, 1), Back: ret}
	switch {
	case k.Secret != nil:
		v.KeyID, v.Secret, v.Label = k.ID, *k.Secret, "Its secret (the password for HTTP Basic, with the key as the user name):"
	case k.Token != nil:
		v.Secret, v.Label = *k.Token, "Its token (send it as Authorization: Bearer):"
	}
	c.render(w, r, s, a.status, "secret", "Copy your new secret", "", v)
}

// revokeKey revokes a key at once (DELETE /keys/{id}).
func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	ret := back(r, Path)
	a := c.call(r, s, http.MethodDelete, "/keys/"+url.PathEscape(r.PathValue("id")), nil)
	if !a.ok() {
		c.showFrom(w, r, s, ret, a)
		return
	}
	c.seeOther(w, r, done(ret, "revoked"))
}

// reissueKey gives a key a new secret; the old one stops working at once.
func (c *Console) reissueKey(w http.ResponseWriter, r *http.Request, s *session) {
	ret := back(r, Path)
	a := c.call(r, s, http.MethodPost, "/keys/"+url.PathEscape(r.PathValue("id"))+"/reissue", map[string]any{})
	if !a.ok() {
		c.showFrom(w, r, s, ret, a)
		return
	}
	c.showIssued(w, r, s, a, "The API key “%s” has a new secret; the old one no longer works", ret)
}

// changePassword changes the signed-in person's password (PATCH /users/me with the current
// one). The change ends every session of the user, this one too, so the browser gets a new
// session in its place.
func (c *Console) changePassword(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	if confirm := f.Get("password_confirm"); confirm != "" && confirm != f.Get("password") {
		c.showAccount(w, r, s, http.StatusBadRequest, "The new password and its confirmation differ.")
		return
	}
	body := map[string]any{"password": f.Get("password"), "current_password": f.Get("current_password")}
	a := c.call(r, s, http.MethodPatch, "/users/me", body)
	if !a.ok() {
		c.showFrom(w, r, s, Path, a)
		return
	}
	// The new session is bound to the password this request set, checked as a sign-in checks
	// it: if another change came in between, which ended every session, none is made here.
	u, err := c.api.CheckPassword(r, s.user.Email, f.Get("password"))
	var tok string
	var sess store.Session
	if err == nil && u.ID == s.user.ID {
		tok, sess, err = c.newSession(r, u.ID, u.Admin, u.PasswordHash)
	}
	if err != nil || u.ID != s.user.ID {
		// The password changed; only a new sign-in is missing.
		c.seeOther(w, r, "/console/login")
		return
	}
	c.setCookie(w, r, SessionCookie, tok, int(sess.ExpiresAt.Sub(sess.CreatedAt).Seconds()))
	c.seeOther(w, r, done(Path, "password"))
}

// createResource makes a resource (POST /resources) with the form's type, id, name and parent.
func (c *Console) createResource(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	ret := back(r, Path)
	body := map[string]any{"type": strings.TrimSpace(f.Get("type"))}
	for _, k := range []string{"id", "name", "parent"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			body[k] = v
		}
	}
	a := c.call(r, s, http.MethodPost, "/resources", body)
	if !a.ok() {
		c.showFrom(w, r, s, ret, a)
		return
	}
	var res resourceJSON
	if err := a.decode(&res); err != nil {
		c.seeOther(w, r, done(ret, "resource"))
		return
	}
	c.seeOther(w, r, done(res.Path(), "resource"))
}

type auditFilter struct {
	Actor, Action, Target string
}

type resourceView struct {
	Resource      resourceJSON
	Parent        string
	Children      []resourceJSON
	ChildrenError string
	ChildTypes    []string
	Members       []grantJSON
	MembersNote   string
	Keys          []keyJSON
	KeysNote      string
	Events        []eventJSON
	EventsNote    string
	Filter        auditFilter
	Paged         bool
	NextPage      string
	Form          keyForm
}

// resourcePage is /console/resources/{type}/{id}: the resource, its children, its members, its
// business keys and its audit trail, each as the API shows it to this person — a section the
// API refuses says so.
func (c *Console) resourcePage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showResource(w, r, s, r.PathValue("type"), r.PathValue("id"), http.StatusOK, "")
}

func (c *Console) showResource(w http.ResponseWriter, r *http.Request, s *session, typ, id string, status int, alert string) {
	a := c.call(r, s, http.MethodGet, resourcePath(typ, id), nil)
	if !a.ok() {
		c.apiError(w, r, s, a)
		return
	}
	v := resourceView{Form: c.keyForm()}
	if err := a.decode(&v.Resource); err != nil {
		c.log.Error("reading a resource", "error", err)
	}
	if v.Resource.Parent != nil {
		if pt, pid, ok := strings.Cut(*v.Resource.Parent, "/"); ok {
			v.Parent = resourcePage(pt, pid)
		}
	}
	ref := v.Resource.Ref()
	if a := c.call(r, s, http.MethodGet, "/resources"+query("parent", ref, "limit", listLimit), nil); a.ok() {
		_, _ = listOf(a, "resources", &v.Children)
	} else {
		v.ChildrenError = a.message
	}
	for _, t := range c.schema.Types() {
		if c.schema.AllowedParent(t, v.Resource.Type) {
			v.ChildTypes = append(v.ChildTypes, t)
		}
	}
	if a := c.call(r, s, http.MethodGet, resourcePath(typ, id)+"/grants"+query("limit", listLimit), nil); a.ok() {
		_, _ = listOf(a, "grants", &v.Members)
	} else {
		v.MembersNote = sectionNote(a, "Only this resource's managers see its members.")
	}
	if a := c.call(r, s, http.MethodGet, "/tokens/business"+query("resource", ref, "limit", listLimit), nil); a.ok() {
		_, _ = listOf(a, "keys", &v.Keys)
	} else {
		v.KeysNote = sectionNote(a, "Only this resource's managers see its business keys.")
	}
	q := url.Values{}
	if r.Method == http.MethodGet {
		q = r.URL.Query()
	}
	v.Filter = auditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target")}
	cursor := q.Get("cursor")
	v.Paged = cursor != ""
	a = c.call(r, s, http.MethodGet, "/audit"+query("resource", ref, "actor", v.Filter.Actor, "action", v.Filter.Action,
		"target", v.Filter.Target, "cursor", cursor, "limit", "25"), nil)
	if a.ok() {
		next, _ := listOf(a, "events", &v.Events)
		if next != "" {
			v.NextPage = resourcePage(typ, id) + query("actor", v.Filter.Actor, "action", v.Filter.Action,
				"target", v.Filter.Target, "cursor", next) + "#audit"
		}
	} else {
		v.EventsNote = sectionNote(a, "Only this resource's managers see its audit log.")
	}
	title := ref
	if v.Resource.Name != nil && *v.Resource.Name != "" {
		title = *v.Resource.Name + " (" + ref + ")"
	}
	c.render(w, r, s, status, "resource", title, alert, v)
}

// sectionNote is what a section of a page says when the API refused it: forbidden for the
// resource's readers who do not manage it, the API's message otherwise.
func sectionNote(a answer, forbidden string) string {
	if a.status == http.StatusForbidden {
		return forbidden
	}
	return a.message
}

// memberPath is the API path of a grant on the page's resource.
func memberPath(r *http.Request, principal string) string {
	return resourcePath(r.PathValue("type"), r.PathValue("id")) + "/grants/" + url.PathEscape(principal)
}

func (c *Console) memberChange(w http.ResponseWriter, r *http.Request, s *session, method, principal string, body any, what string) {
	ret := resourcePage(r.PathValue("type"), r.PathValue("id"))
	a := c.call(r, s, method, memberPath(r, principal), body)
	if !a.ok() {
		c.showFrom(w, r, s, ret, a)
		return
	}
	c.seeOther(w, r, done(ret, what)+"#members")
}

// addMember gives the user with the form's email the form's role on the resource.
func (c *Console) addMember(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	c.memberChange(w, r, s, http.MethodPut, "email:"+strings.TrimSpace(f.Get("email")), map[string]any{"role": f.Get("role")}, "member")
}

// changeMember gives a member (the form's principal) another role.
func (c *Console) changeMember(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	c.memberChange(w, r, s, http.MethodPut, f.Get("principal"), map[string]any{"role": f.Get("role")}, "member")
}

// removeMember takes a member's grant away.
func (c *Console) removeMember(w http.ResponseWriter, r *http.Request, s *session) {
	c.memberChange(w, r, s, http.MethodDelete, r.PostForm.Get("principal"), nil, "removed")
}

type usersView struct {
	Users []userJSON
	Next  string
	Form  keyForm
}

// usersPage is /console/users: the users, as GET /users shows them — to admins; anyone else
// gets the API's 403.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showUsers(w, r, s, http.StatusOK, "")
}

func (c *Console) showUsers(w http.ResponseWriter, r *http.Request, s *session, status int, alert string) {
	cursor := ""
	if r.Method == http.MethodGet {
		cursor = r.URL.Query().Get("cursor")
	}
	a := c.call(r, s, http.MethodGet, "/users"+query("limit", listLimit, "cursor", cursor), nil)
	if !a.ok() {
		c.apiError(w, r, s, a)
		return
	}
	v := usersView{Form: c.keyForm()}
	next, _ := listOf(a, "users", &v.Users)
	if next != "" {
		v.Next = "/console/users?cursor=" + url.QueryEscape(next)
	}
	c.render(w, r, s, status, "users", "Users", alert, v)
}

// createUser makes a user with the form's email, name, password and id.
func (c *Console) createUser(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	body := map[string]any{"email": strings.TrimSpace(f.Get("email"))}
	for _, k := range []string{"id", "name", "password"} {
		if v := f.Get(k); strings.TrimSpace(v) != "" {
			body[k] = v
		}
	}
	a := c.call(r, s, http.MethodPost, "/users", body)
	if !a.ok() {
		c.showFrom(w, r, s, "/console/users", a)
		return
	}
	c.seeOther(w, r, done("/console/users", "user"))
}

// promoteUser makes a user an admin. The API answers with a new admin token for them, shown
// once like every secret.
func (c *Console) promoteUser(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	a := c.call(r, s, http.MethodPost, "/users/"+url.PathEscape(id)+"/admin", nil)
	if !a.ok() {
		c.showFrom(w, r, s, "/console/users", a)
		return
	}
	var t struct {
		Token string `json:"token"`
	}
	_ = a.decode(&t)
	v := secretView{What: "The user " + id + " is an admin", Secret: t.Token, Back: "/console/users",
		Label: "Their new admin token (it carries admin power over the whole instance; hand it over safely, or forget it — they can also sign in here):"}
	c.render(w, r, s, http.StatusOK, "secret", "Copy the new admin token", "", v)
}

// demoteUser ends a user's admin power.
func (c *Console) demoteUser(w http.ResponseWriter, r *http.Request, s *session) {
	c.userChange(w, r, s, "/users/"+url.PathEscape(r.PathValue("id"))+"/admin", "demoted")
}

// deleteUser deletes a user with everything they own.
func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, s *session) {
	c.userChange(w, r, s, "/users/"+url.PathEscape(r.PathValue("id")), "deleted")
}

func (c *Console) userChange(w http.ResponseWriter, r *http.Request, s *session, path, what string) {
	a := c.call(r, s, http.MethodDelete, path, nil)
	if !a.ok() {
		c.showFrom(w, r, s, "/console/users", a)
		return
	}
	c.seeOther(w, r, done("/console/users", what))
}
