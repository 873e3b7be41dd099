package console

import (
	"reflect"
	"testing"
	"time"
)

// TestUsageChart: the chart has a bar for each hour with any request, as high as its share of
// the busiest hour (at least 1 for any count), its refused part apart, and a title and a summary
// that say the same in words; days are marked where they start.
func TestUsageChart(t *testing.T) {
	start := time.Date(2030, 6, 1, 22, 0, 0, 0, time.UTC)
	usage := func(counts ...[2]int64) usageJSON {
		u := usageJSON{KeyID: "k"}
		for i, c := range counts {
			u.Hours = append(u.Hours, struct {
				Hour     time.Time `json:"hour"`
				Requests int64     `json:"requests"`
				Refusals int64     `json:"refusals"`
			}{start.Add(time.Duration(i) * time.Hour), c[0], c[1]})
		}
		return u
	}
	type bar struct {
		label      string
		x, y, h    int
		refY, refH int
	}
	tests := []struct {
		name    string
		u       usageJSON
		bars    []bar
		days    []string
		max     int64
		summary string
	}{
		{name: "nothing", u: usage([2]int64{}, [2]int64{}, [2]int64{}), days: []string{"Jun 2"},
			summary: "No requests in the last 3 hours."},
		{name: "bars by share of the busiest hour",
			u: usage([2]int64{10, 0}, [2]int64{}, [2]int64{5, 5}, [2]int64{1, 0}),
			bars: []bar{
				{"Jun 1, 22:00–23:00 UTC: 10 requests, 0 refused", 0, axisY - plotH, plotH, axisY, 0},
				{"Jun 2, 00:00–01:00 UTC: 5 requests, 5 refused", 2*slotW + 0, axisY - plotH/2, plotH / 2, axisY - plotH/2, plotH / 2},
				{"Jun 2, 01:00–02:00 UTC: 1 request, 0 refused", 3*slotW + 0, axisY - plotH/10, plotH / 10, axisY, 0},
			},
			days: []string{"Jun 2"}, max: 10,
			summary: "16 requests in the last 4 hours (since Jun 1, 22:00 UTC), 5 of them refused (31%). The busiest hour, Jun 1, 22:00 UTC, had 10 requests."},
		{name: "a count far below the busiest hour still shows",
			u: usage([2]int64{1000, 1}, [2]int64{1, 0}),
			bars: []bar{
				{"Jun 1, 22:00–23:00 UTC: 1000 requests, 1 refused", 0, axisY - plotH, plotH, axisY - 1, 1},
				{"Jun 1, 23:00–00:00 UTC: 1 request, 0 refused", slotW, axisY - 1, 1, axisY, 0},
			},
			max: 1000, summary: "1001 requests in the last 2 hours (since Jun 1, 22:00 UTC), 1 of them refused (0%). The busiest hour, Jun 1, 22:00 UTC, had 1000 requests."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newUsageChart(tt.u)
			var bars []bar
			for _, b := range c.Bars {
				bars = append(bars, bar{b.Label, b.X, b.Y, b.H, b.RefY, b.RefH})
			}
			if !reflect.DeepEqual(bars, tt.bars) {
				t.Errorf("bars\n%+v\nwant\n%+v", bars, tt.bars)
			}
			var days []string
			for _, d := range c.Days {
				days = append(days, d.Label)
			}
			if !reflect.DeepEqual(days, tt.days) {
				t.Errorf("days %q, want %q", days, tt.days)
			}
			if c.Max != tt.max || c.Summary != tt.summary {
				t.Errorf("max %d, summary %q; want %d, %q", c.Max, c.Summary, tt.max, tt.summary)
			}
			if c.Width != len(tt.u.Hours)*slotW {
				t.Errorf("width %d for %d hours", c.Width, len(tt.u.Hours))
			}
			for i, b := range c.Counted {
				if b != c.Bars[len(c.Bars)-1-i] {
					t.Errorf("the table's hours are not the bars' newest first")
				}
			}
		})
	}
	if got := newUsageChart(usage(make([][2]int64, 168)...)).Title; got != "Requests per hour over the last 7 days, in UTC" {
		t.Errorf("a week's title: %q", got)
	}
}
