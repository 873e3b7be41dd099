package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

const (
	defaultLimit = 50
	maxLimit     = 1000
)

// cursorBody is what an opaque cursor holds: the position after which the next page starts and
// a fingerprint of the filters it was made for, so that it cannot be replayed with others.
type cursorBody struct {
	Created int64  `json:"c"`
	ID      string `json:"i"`
	Filter  string `json:"f"`
}

// pageFrom reads ?limit= and ?cursor= for a list whose filters are filters (name → value, the
// values as the request gave them).
func pageFrom(q url.Values, filters ...string) (store.Page, string, error) {
	fp := filterFingerprint(filters)
	page := store.Page{Limit: defaultLimit}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxLimit || len(v) > 1 {
			return store.Page{}, "", badRequest("limit must be a whole number from 1 to %d.", maxLimit)
		}
		page.Limit = n
	}
	if v, ok := q["cursor"]; ok {
		c, err := decodeCursor(v[0])
		if err != nil || len(v) > 1 {
			return store.Page{}, "", badRequest("The cursor is not valid.")
		}
		if c.Filter != fp {
			return store.Page{}, "", badRequest("The cursor belongs to a list with other filters.")
		}
		page.AfterCreated = time.Unix(c.Created, 0).UTC()
		page.AfterID = c.ID
	}
	return page, fp, nil
}

func filterFingerprint(filters []string) string {
	h := sha256.New()
	for _, f := range filters {
		h.Write([]byte(strconv.Itoa(len(f))))
		h.Write([]byte{':'})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func encodeCursor(created time.Time, id, fp string) string {
	b, _ := json.Marshal(cursorBody{Created: created.Unix(), ID: id, Filter: fp})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursorBody, error) {
	var c cursorBody
	if len(s) > 1024 {
		return c, strconv.ErrRange
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, err
	}
	if c.ID == "" {
		return c, strconv.ErrSyntax
	}
	return c, nil
}

// nextCursor returns the cursor of the page after items when the page is full, else nil.
// Listing fetches one more than the limit to know whether another page exists.
func nextCursor[T any](items []T, limit int, fp string, pos func(T) (time.Time, string)) ([]T, *string) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	created, id := pos(items[len(items)-1])
	c := encodeCursor(created, id, fp)
	return items, &c
}

// writePage answers one page of a list as {"<name>": [...], "next_cursor": …}: it fetches one
// record more than the page's limit to learn whether another page exists.
func writePage[T, J any](h *Handler, w http.ResponseWriter, name string, page store.Page, fp string,
	fetch func(store.Page) ([]T, error), pos func(T) (time.Time, string), conv func(T) J) error {
	limit := page.Limit
	page.Limit++
	items, err := fetch(page)
	if err != nil {
		return err
	}
	items, next := nextCursor(items, limit, fp, pos)
	out := make([]J, len(items))
	for i, x := range items {
		out[i] = conv(x)
	}
	h.writeJSON(w, http.StatusOK, map[string]any{name: out, "next_cursor": next}, "")
	return nil
}
