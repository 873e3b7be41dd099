package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Identity headers set on every proxied request (CONTRACT §8). Any header a client sent whose
// name starts with HeaderPrefix is removed first.
const (
	HeaderPrefix    = "X-Lanyard-"
	HeaderPrincipal = "X-Lanyard-Principal"
	HeaderKeyID     = "X-Lanyard-Key-Id"
	HeaderResource  = "X-Lanyard-Resource"
	HeaderRole      = "X-Lanyard-Role"
)

// Forward is what the proxy adds to and strips from one allowed request.
type Forward struct {
	Principal, KeyID, Resource, Role string
	// Strip are the credential headers to remove (the route does not forward them).
	Strip []string
}

type forwardKey struct{}

// Apply makes h the headers an allowed request goes on with: every X-Lanyard-* header the client
// sent is removed, then (f not nil) f's credential headers, and f's identity headers are set.
func (f *Forward) Apply(h http.Header) {
	for name := range h {
		if len(name) >= len(HeaderPrefix) && strings.EqualFold(name[:len(HeaderPrefix)], HeaderPrefix) {
			delete(h, name)
		}
	}
	if f == nil {
		return
	}
	for _, name := range f.Strip {
		h.Del(name)
	}
	setIf(h, HeaderPrincipal, f.Principal)
	setIf(h, HeaderKeyID, f.KeyID)
	setIf(h, HeaderResource, f.Resource)
	setIf(h, HeaderRole, f.Role)
}

// WithForward attaches f to ctx for the proxy's Rewrite.
func WithForward(ctx context.Context, f *Forward) context.Context {
	return context.WithValue(ctx, forwardKey{}, f)
}

// Proxy forwards allowed requests to the upstream: net/http/httputil.ReverseProxy with Rewrite
// (which drops inbound hop-by-hop and X-Forwarded-* headers before lanyard sets its own),
// pooled keep-alive connections, a BufferPool, and the §3 error body for an upstream that
// fails (502) or does not answer in time (504).
type Proxy struct {
	rp *httputil.ReverseProxy
}

// UpstreamError is how the proxy reports an upstream failure to its error writer.
type UpstreamError struct {
	Timeout bool
	Err     error
}

func (e *UpstreamError) Error() string { return "upstream: " + e.Err.Error() }
func (e *UpstreamError) Unwrap() error { return e.Err }

// NewProxy returns a proxy to upstream. onError writes the answer to a failed upstream request
// (lanyard's one error writer); timeout bounds the wait for the upstream's response headers;
// observe, when not nil, is told how long each round trip waited for the headers, or how it
// failed.
func NewProxy(upstream *url.URL, timeout time.Duration, onError func(http.ResponseWriter, *http.Request, error),
	observe func(d time.Duration, err error, timeout bool)) *Proxy {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tr := &http.Transport{
		Proxy:                 nil, // never through an environment proxy: the upstream is configured
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			// Forward the decoded path the decision was made on, in Go's one encoding of it
			// (package doc: path safety).
			pr.Out.URL.RawPath = ""
			pr.SetXForwarded()
			f, _ := pr.In.Context().Value(forwardKey{}).(*Forward)
			f.Apply(pr.Out.Header)
		},
		Transport:  timed{rt: tr, observe: observe},
		BufferPool: bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			onError(w, r, &UpstreamError{Timeout: isTimeout(err), Err: err})
		},
	}
	return &Proxy{rp: rp}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// timed measures each round trip to the upstream, up to its response headers.
type timed struct {
	rt      http.RoundTripper
	observe func(time.Duration, error, bool)
}

func (t timed) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.observe == nil {
		return t.rt.RoundTrip(r)
	}
	start := time.Now()
	resp, err := t.rt.RoundTrip(r)
	t.observe(time.Since(start), err, err != nil && isTimeout(err))
	return resp, err
}

func setIf(h http.Header, name, v string) {
	if v != "" {
		h[name] = []string{v}
	}
}

// ServeHTTP proxies r, which the pipeline allowed, with f's identity headers.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request, f *Forward) {
	p.rp.ServeHTTP(w, r.WithContext(WithForward(r.Context(), f)))
}

// bufferPool lends the proxy its copy buffers, so streaming a body allocates none per request.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
