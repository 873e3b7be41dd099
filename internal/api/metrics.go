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
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	refused   *prometheus.CounterVec
	decisions *prometheus.HistogramVec
	upstream  prometheus.Histogram
	upErrors  *prometheus.CounterVec
}

var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanyard_http_requests_total",
			Help: "Requests answered, by route pattern, status code and outcome (allowed, refused, error).",
		}, []string{"route", "code", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lanyard_http_request_duration_seconds",
			Help:    "Time to answer a request, by route pattern.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		decisions: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lanyard_decision_duration_seconds",
			Help:    "Time the request pipeline takes to decide (credential, network, scoped tokens, grant, plan), by entry point: verify, authz, gateway.",
			Buckets: latencyBuckets,
		}, []string{"entry"}),
		upstream: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lanyard_upstream_duration_seconds",
			Help:    "Time the upstream takes to answer a proxied request's headers.",
			Buckets: latencyBuckets,
		}),
		upErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanyard_upstream_errors_total",
			Help: "Proxied requests the upstream failed, by kind: timeout or error.",
		}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanyard_credentials_refused_total",
			Help: "Presented credentials refused, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.requests, m.duration, m.refused, m.decisions, m.upstream, m.upErrors)
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
	outcome := "allowed"
	switch {
	case status >= 500:
		outcome = "error"
	case status >= 400:
		outcome = "refused"
	}
	m.requests.WithLabelValues(route, statusLabel(status), outcome).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// statusLabels are the status codes as label values, made once.
var statusLabels = func() []string {
	out := make([]string, 600)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

func statusLabel(status int) string {
	if status >= 0 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}

// decided records how long the pipeline took to decide for an entry point.
func (m *metrics) decided(entry string, d time.Duration) {
	if m != nil {
		m.decisions.WithLabelValues(entry).Observe(d.Seconds())
	}
}

// upstreamDone records a proxied request's wait for the upstream's headers, or its failure.
func (m *metrics) upstreamDone(d time.Duration, err error, timeout bool) {
	if m == nil {
		return
	}
	switch {
	case err == nil:
		m.upstream.Observe(d.Seconds())
	case timeout:
		m.upErrors.WithLabelValues("timeout").Inc()
	default:
		m.upErrors.WithLabelValues("error").Inc()
	}
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
