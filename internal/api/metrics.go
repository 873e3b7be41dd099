package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the native API's Prometheus series, registered on the registry the server passes
// in (never a global one). Route labels are the route table's patterns, never raw paths, so the
// series stay bounded whatever clients send.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	refused  *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanyard_http_requests_total",
			Help: "Requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lanyard_http_request_duration_seconds",
			Help:    "Time to answer a request, by route pattern.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanyard_credentials_refused_total",
			Help: "Presented credentials refused, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.requests, m.duration, m.refused)
	return m
}

// observe records one answered request.
func (m *metrics) observe(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) refusedCredential(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

// serveMetrics answers /metrics in the Prometheus text format (admins only, by the route
// table).
func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if h.metrics == nil {
		return notFound("The path was")
	}
	promhttp.HandlerFor(h.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
