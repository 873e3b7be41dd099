package console

import (
	"bytes"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// The API's JSON, as far as the pages show it.
type (
	userJSON struct {
		ID        string    `json:"id"`
		Email     string    `json:"email"`
		Name      *string   `json:"name"`
		Admin     bool      `json:"admin"`
		CreatedAt time.Time `json:"created_at"`
	}
	keyJSON struct {
		ID         string     `json:"id"`
		Name       string     `json:"name"`
		Prefix     string     `json:"prefix"`
		Owner      *string    `json:"owner"`
		Resource   *string    `json:"resource"`
		Role       *string    `json:"role"`
		Format     string     `json:"format"`
		ExpiresAt  *time.Time `json:"expires_at"`
		LastUsedAt *time.Time `json:"last_used_at"`
		CreatedAt  time.Time  `json:"created_at"`
	}
	issuedJSON struct {
		keyJSON
		Token  *string `json:"token"`
		Key    *string `json:"key"`
		Secret *string `json:"secret"`
	}
	resourceJSON struct {
		Type      string    `json:"type"`
		ID        string    `json:"id"`
		Name      *string   `json:"name"`
		Parent    *string   `json:"parent"`
		CreatedAt time.Time `json:"created_at"`
	}
	grantJSON struct {
		Principal string    `json:"principal"`
		Role      string    `json:"role"`
		CreatedAt time.Time `json:"created_at"`
	}
	eventJSON struct {
		ID         string    `json:"id"`
		At         time.Time `json:"at"`
		Actor      *string   `json:"actor"`
		Credential *string   `json:"credential"`
		Action     string    `json:"action"`
		Target     *string   `json:"target"`
		Resource   *string   `json:"resource"`
		Result     string    `json:"result"`
		IP         *string   `json:"ip"`
		Count      int       `json:"count"`
		Detail     *string   `json:"detail"`
	}
)

// Ref is the resource's "type/id".
func (r resourceJSON) Ref() string { return r.Type + "/" + r.ID }

// Path is the resource's console page.
func (r resourceJSON) Path() string { return resourcePage(r.Type, r.ID) }

func resourcePage(typ, id string) string { return Path + "resources/" + typ + "/" + id }

// page is what every template gets: the layout's fields and the page's own (Body).
type page struct {
	Title  string
	User   *userJSON
	CSRF   string
	Alert  string
	Notice string
	Assets *assets
	Body   any
}

// option is one choice of a select.
type option struct{ Value, Label string }

// The choices the key forms offer.
var (
	formatOptions = []option{
		{"", "The server's default"},
		{"token", "Token (Authorization: Bearer)"},
		{"key_secret", "Key and secret (HTTP Basic)"},
	}
	expiryOptions = []option{
		{"", "Never"},
		{"86400", "In 1 day"},
		{"604800", "In 7 days"},
		{"2592000", "In 30 days"},
		{"7776000", "In 90 days"},
		{"31536000", "In 1 year"},
	}
)

var funcs = template.FuncMap{
	// when formats a time (or a *time.Time; nil is never) as the contract writes them.
	"when": func(v any) string {
		switch t := v.(type) {
		case time.Time:
			return t.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if t != nil {
				return t.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
		return "never"
	},
	"iso": func(v any) string {
		switch t := v.(type) {
		case time.Time:
			return t.UTC().Format(time.RFC3339)
		case *time.Time:
			if t != nil {
				return t.UTC().Format(time.RFC3339)
			}
		}
		return ""
	},
	"str": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"hasPrefix": strings.HasPrefix,
	// args makes the argument of a shared template: args "Keys" .Keys "Back" "/console/".
	"args": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

// parsePages parses every page template with the layout.
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("layout").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(files, n)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page. s is the signed-in person (nil on the sign-in and error pages of a
// request without a session).
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name, title, alert string, body any) {
	p := page{Title: title, Alert: alert, Assets: c.assets, Body: body, Notice: notice(r)}
	if s != nil {
		p.User, p.CSRF = &s.user, s.csrf
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("rendering a console page", "page", name, "request_id", requestIDFrom(r.Context()), "error", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error · lanyard</title><p role=\"alert\">Something went wrong on our side.</p>\n")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// seeOther answers 303 to target, a console path, with a small page that links it: every
// console answer has a body, the redirect after a post too.
func (c *Console) seeOther(w http.ResponseWriter, r *http.Request, target string) {
	h := w.Header()
	h.Set("Location", target)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusSeeOther)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, "<!doctype html>\n<title>See other · lanyard</title>\n<p><a href=\""+
			template.HTMLEscapeString(target)+"\">Continue</a></p>\n")
	}
}

type errorView struct {
	Status  int
	Message string
}

// renderError writes an error page with status and a message for a person.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, message string) {
	title := http.StatusText(status)
	switch status {
	case http.StatusNotFound:
		title = "Not found"
	case http.StatusForbidden:
		title = "Not allowed"
	}
	c.render(w, r, s, status, "error", title, message, errorView{Status: status, Message: message})
}

// apiError writes the page for an API answer that is not a success: its status and message.
func (c *Console) apiError(w http.ResponseWriter, r *http.Request, s *session, a answer) {
	if a.status == http.StatusUnauthorized {
		// The session is not accepted any more: sign in again.
		c.seeOther(w, r, "/console/login")
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	c.renderError(w, r, s, a.status, a.message)
}

// notices are the messages a page shows after a form, named in ?done= by the redirect that
// follows it (a fixed set: no text of a request ends up in a page this way).
var notices = map[string]string{
	"revoked":  "The key was revoked: every request with it is refused from now on.",
	"password": "Your password was changed. Your other console sessions and personal access tokens have ended.",
	"resource": "The resource was created.",
	"member":   "The member was saved.",
	"removed":  "The member was removed.",
	"user":     "The user was created.",
	"demoted":  "The user is no longer an admin: their admin tokens and console sessions have ended.",
	"deleted":  "The user was deleted, with every key and token they owned.",
}

func notice(r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return ""
	}
	return notices[r.URL.Query().Get("done")]
}
