package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// usageJSON is GET /keys/{id}/usage's answer: the key's hours, oldest first.
type usageJSON struct {
	KeyID string `json:"key_id"`
	Hours []struct {
		Hour     time.Time `json:"hour"`
		Requests int64     `json:"requests"`
		Refusals int64     `json:"refusals"`
	} `json:"hours"`
}

// The usage chart's geometry, in the SVG's own units: one slot per hour, the bars standing on
// the axis at the bottom of the plot, the days' labels under it.
const (
	slotW    = 5
	barW     = 4
	plotTop  = 12
	plotH    = 150
	axisY    = plotTop + plotH
	labelY   = axisY + 15
	chartH   = labelY + 5
	hourForm = "Jan 2, 15:04"
)

// usageChart is a key's usage drawn as bars, one per hour with any request: requests in one
// colour, the refused part of them in another. Everything in it is computed here; the
// template only places it.
type usageChart struct {
	Width, Height, AxisY, PlotTop, BarW int
	Bars                                []usageBar
	Days                                []usageDay
	// Max is the scale's top: the most requests (or refusals) of an hour.
	Max int64
	// Title and Summary say in words what the chart shows.
	Title, Summary string
	// Counted are the hours with any request, newest first, for the table under the chart.
	Counted []usageBar
}

// usageBar is one hour: its bar for requests, and for the refused ones (RefH 0: none).
type usageBar struct {
	Hour               time.Time
	Label              string
	Requests, Refusals int64
	X, Y, H            int
	RefY, RefH         int
}

// usageDay marks where a UTC day starts.
type usageDay struct {
	X, LabelX int
	Label     string
	// Labelled is false when the label would not fit before the chart's right edge.
	Labelled bool
}

// newUsageChart draws u's hours (oldest first, one per hour, as the API answers them).
func newUsageChart(u usageJSON) *usageChart {
	n := len(u.Hours)
	c := &usageChart{Width: n * slotW, Height: chartH, AxisY: axisY, PlotTop: plotTop, BarW: barW}
	var requests, refusals int64
	busiest := -1
	for i, h := range u.Hours {
		requests += h.Requests
		refusals += h.Refusals
		c.Max = max(c.Max, h.Requests, h.Refusals)
		if h.Requests > 0 && (busiest < 0 || h.Requests > u.Hours[busiest].Requests) {
			busiest = i
		}
		if t := h.Hour.UTC(); t.Hour() == 0 && i > 0 {
			d := usageDay{X: i * slotW, LabelX: i*slotW + 3, Label: t.Format("Jan 2")}
			d.Labelled = d.LabelX+40 <= c.Width
			c.Days = append(c.Days, d)
		}
	}
	for i, h := range u.Hours {
		if h.Requests == 0 && h.Refusals == 0 {
			continue
		}
		b := usageBar{Hour: h.Hour.UTC(), Requests: h.Requests, Refusals: h.Refusals, X: i*slotW + (slotW-barW)/2}
		b.H = barHeight(h.Requests, c.Max)
		b.Y = axisY - b.H
		b.RefH = barHeight(h.Refusals, c.Max)
		b.RefY = axisY - b.RefH
		b.Label = fmt.Sprintf("%s–%s UTC: %s, %d refused", b.Hour.Format(hourForm), b.Hour.Add(time.Hour).Format("15:04"), plural(h.Requests, "request"), h.Refusals)
		c.Bars = append(c.Bars, b)
	}
	for i := len(c.Bars) - 1; i >= 0; i-- {
		c.Counted = append(c.Counted, c.Bars[i])
	}
	days := (n + 23) / 24
	span := plural(int64(days), "day")
	if n%24 != 0 {
		span = plural(int64(n), "hour")
	}
	c.Title = "Requests per hour over the last " + span + ", in UTC"
	if n == 0 || requests == 0 && refusals == 0 {
		c.Summary = "No requests in the last " + span + "."
		return c
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s in the last %s (since %s UTC), %d of them refused", plural(requests, "request"), span, u.Hours[0].Hour.UTC().Format(hourForm), refusals)
	if requests > 0 {
		fmt.Fprintf(&b, " (%d%%)", refusals*100/requests)
	}
	b.WriteString(".")
	if busiest >= 0 {
		h := u.Hours[busiest]
		fmt.Fprintf(&b, " The busiest hour, %s UTC, had %s.", h.Hour.UTC().Format(hourForm), plural(h.Requests, "request"))
	}
	c.Summary = b.String()
	return c
}

// barHeight is the height of a bar of n when the scale's top is top: at least 1 for any n.
func barHeight(n, top int64) int {
	if n <= 0 || top <= 0 {
		return 0
	}
	return max(1, int(n*plotH/top))
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

type keyView struct {
	Key keyJSON
	// Back is the page the key is listed on: the account's, or its resource's.
	Back, BackLabel string
	Usage           *usageChart
	// UsageNote says why there is no chart (the API's message).
	UsageNote string
	// Flush is how often the nodes write what they counted (cache.last_used_flush).
	Flush time.Duration
}

// keyPage is /console/keys/{id}: the key, as GET /keys/{id} shows it to this person, and its
// use over the last week (GET /keys/{id}/usage) as a chart drawn here, in the page: no script
// draws it, so it shows with JavaScript off.
func (c *Console) keyPage(w http.ResponseWriter, r *http.Request, s *session) {
	path := "/keys/" + url.PathEscape(r.PathValue("id"))
	a := c.call(r, s, http.MethodGet, path, nil)
	if !a.ok() {
		c.apiError(w, r, s, a)
		return
	}
	v := keyView{Back: Path, BackLabel: "My account", Flush: c.flush}
	if err := a.decode(&v.Key); err != nil {
		c.log.Error("reading a key", "error", err)
		c.renderError(w, r, s, http.StatusInternalServerError, "Something went wrong on our side.")
		return
	}
	if v.Key.Owner == nil && v.Key.Resource != nil {
		if typ, id, ok := strings.Cut(*v.Key.Resource, "/"); ok {
			v.Back, v.BackLabel = resourcePage(typ, id)+"#keys", *v.Key.Resource
		}
	}
	if a := c.call(r, s, http.MethodGet, path+"/usage", nil); a.ok() {
		var u usageJSON
		if err := a.decode(&u); err != nil {
			c.log.Error("reading a key's usage", "error", err)
			v.UsageNote = "The usage could not be read."
		} else {
			v.Usage = newUsageChart(u)
		}
	} else {
		v.UsageNote = a.message
	}
	c.render(w, r, s, http.StatusOK, "key", "API key “"+v.Key.Name+"”", "", v)
}
