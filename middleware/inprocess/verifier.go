package inprocess

import (
	"bytes"
	"io"
	"net/http"

	"github.com/lanyardhq/lanyard/middleware"
)

// Verifier is lanyard's POST /v1/verify answered in this process, for middleware.New: a service
// that keeps its own routing names the resource and permission of each route, as with
// middleware.Remote, and no question leaves the process. Answers are not cached outside
// lanyard: lanyard's own cache (cache.staleness) is the only one, and a revocation is seen at
// once. With api.verify_requires_credential set, token is the service's lanyard credential.
func (l *Lanyard) Verifier(token string) middleware.Verifier {
	return middleware.Remote("http://lanyard.in-process", middleware.RemoteOptions{
		Client:      &http.Client{Transport: handlerTransport{h: l.e.Handler()}},
		Path:        l.prefix + "/verify",
		Token:       token,
		CacheTTL:    -1,
		NegativeTTL: -1,
	})
}

// handlerTransport answers a client's requests by calling a handler in process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := &response{header: http.Header{}}
	t.h.ServeHTTP(w, r)
	if r.Body != nil {
		r.Body.Close()
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status:        http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Request:       r,
	}, nil
}

// response is the http.ResponseWriter handlerTransport gives the handler.
type response struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *response) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
