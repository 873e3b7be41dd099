package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"strings"
)

//go:embed static templates
var files embed.FS

// asset is one embedded static file, served under a name that holds a hash of its content so
// that it can be cached for a year and still change with a new lanyard.
type asset struct {
	body        []byte
	contentType string
}

// assets are the embedded static files by served name, and the served names of the ones the
// pages link.
type assets struct {
	byName        map[string]asset
	CSS, JS, HTMX string
}

// loadAssets reads static/ and names every file <base>.<12 hex digits of its SHA-256>.<ext>
// (htmx.min.js becomes htmx.<hash>.min.js).
func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]asset{}}
	entries, err := files.ReadDir("static")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		body, err := files.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		base, ext, _ := strings.Cut(e.Name(), ".")
		name := base + "." + hex.EncodeToString(sum[:6]) + "." + ext
		ct := "application/octet-stream"
		switch path.Ext(e.Name()) {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		}
		a.byName[name] = asset{body: body, contentType: ct}
		url := Path + "static/" + name
		switch e.Name() {
		case "console.css":
			a.CSS = url
		case "console.js":
			a.JS = url
		case "htmx.min.js":
			a.HTMX = url
		}
	}
	return a, nil
}

// serveAsset serves an embedded file by its hashed name, cacheable for a year: a new content
// has a new name. Any other name is 404.
func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request) {
	f, ok := c.assets.byName[r.PathValue("name")]
	if !ok {
		c.renderError(w, r, nil, http.StatusNotFound, "There is no such file.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(f.body)
}
