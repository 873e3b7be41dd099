package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// maxUsageHours is how many hours GET /keys/{id}/usage shows at most, and by default: a week.
const maxUsageHours = 7 * 24

// usageHourJSON is one hour of a key's usage.
type usageHourJSON struct {
	Hour     time.Time `json:"hour"`
	Requests int64     `json:"requests"`
	Refusals int64     `json:"refusals"`
}

// keyUsageJSON is GET /keys/{id}/usage's answer.
type keyUsageJSON struct {
	KeyID string          `json:"key_id"`
	Hours []usageHourJSON `json:"hours"`
}

// keyUsage answers GET /keys/{id}/usage: the key's requests, and how many of them lanyard
// refused, in each UTC hour of the last ?hours= (1 to 168, default 168), oldest first, the
// current hour last, hours without any as zeros. Who may read the key may read its usage (the
// route's policy is GET /keys/{id}'s). The figures are the store's: each node adds its counts
// every cache.last_used_flush, so the latest lag by up to that much.
func (h *Handler) keyUsage(w http.ResponseWriter, r *http.Request) error {
	n := maxUsageHours
	if v := r.URL.Query().Get("hours"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > maxUsageHours {
			return badRequest("hours must be a whole number from 1 to %d.", maxUsageHours)
		}
	}
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := h.store.GetKey(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The key was")
		}
		return err
	}
	end := store.HourOf(h.now()).Add(time.Hour)
	start := end.Add(-time.Duration(n) * time.Hour)
	counted, err := h.store.UsageOf(ctx, id, start, end)
	if err != nil {
		return err
	}
	out := keyUsageJSON{KeyID: id, Hours: make([]usageHourJSON, n)}
	for i := range out.Hours {
		out.Hours[i].Hour = start.Add(time.Duration(i) * time.Hour)
	}
	for _, u := range counted {
		if i := int(u.Hour.Sub(start) / time.Hour); i >= 0 && i < n {
			out.Hours[i].Requests, out.Hours[i].Refusals = u.Requests, u.Refusals
		}
	}
	h.writeJSON(w, http.StatusOK, out, "")
	return nil
}
