package middleware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// RemoteOptions configure Remote. The zero value is a good start.
type RemoteOptions struct {
	// Client sends the questions (nil: a client of Remote's own, with keep-alive connections
	// and no proxy from the environment).
	Client *http.Client
	// Timeout bounds one question to lanyard, connecting included (default 2s); past it the
	// request is refused with 503.
	Timeout time.Duration
	// Path is lanyard's verify endpoint under the base URL (default "/v1/verify"; change it
	// when lanyard's api.prefix is not /v1).
	Path string
	// Token is the service's own lanyard credential, sent as a Bearer token, for a lanyard
	// whose config sets api.verify_requires_credential.
	Token string

	// CacheTTL is how long an allowed answer is reused for the same credential, client address,
	// resource and permission (default 1s). Keep it at most lanyard's staleness bound
	// (cache.staleness, 1s by default): a revoked key, a removed grant or a demoted owner then
	// stops working here within that time, as on every lanyard node. An answer for a credential
	// that falls under a plan is never reused, so that every request spends what it costs.
	// Negative: no cache.
	CacheTTL time.Duration
	// NegativeTTL is how long a refusal of the credential or the grant is reused (default
	// 250ms; negative: none). Rate-limit refusals are never reused.
	NegativeTTL time.Duration
	// CacheSize bounds the number of answers kept (default 10000).
	CacheSize int
	// Now is the clock the cache reads (nil: time.Now).
	Now func() time.Time
}

// Remote returns a Verifier that asks the lanyard at baseURL (e.g. "http://127.0.0.1:8080")
// through POST /v1/verify (CONTRACT §5, §11.28). It sends only the credential headers, the
// client's address, and the resource and permission asked about, and never logs or keeps a
// credential: cached answers are found by a SHA-256 of the question.
//
// /v1/verify answers "forbidden" both for a resource the credential may read but not change
// and for one it may not even see; lanyard's gateway answers the first 403 and the second 404
// (CONTRACT §11.1). Remote tells them apart by asking again, as a dry run that spends nothing,
// whether the credential may read the resource, and answers not_found when it may not.
func Remote(baseURL string, opts RemoteOptions) Verifier {
	r := &remote{
		url:     strings.TrimSuffix(baseURL, "/") + opts.Path,
		client:  opts.Client,
		timeout: opts.Timeout,
		token:   opts.Token,
		ttl:     opts.CacheTTL,
		negTTL:  opts.NegativeTTL,
		now:     opts.Now,
		answers: &cache{max: opts.CacheSize, m: map[[32]byte]entry{}},
	}
	if opts.Path == "" {
		r.url += "/v1/verify"
	}
	if r.client == nil {
		tr := &http.Transport{
			Proxy:               nil, // the credential goes to lanyard itself, never through a proxy from the environment
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}
		r.client = &http.Client{
			Transport: tr,
			// A redirect would turn the POST into a GET elsewhere: take the answer as it is.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if r.timeout <= 0 {
		r.timeout = 2 * time.Second
	}
	if r.ttl == 0 {
		r.ttl = time.Second
	}
	if r.negTTL == 0 {
		r.negTTL = 250 * time.Millisecond
	}
	if r.answers.max <= 0 {
		r.answers.max = 10000
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

type remote struct {
	url     string
	client  *http.Client
	timeout time.Duration
	token   string
	ttl     time.Duration
	negTTL  time.Duration
	now     func() time.Time
	answers *cache
}

// verifyRequest is /v1/verify's request body.
type verifyRequest struct {
	Headers    map[string]string `json:"headers"`
	ClientIP   string            `json:"client_ip,omitempty"`
	Resource   string            `json:"resource,omitempty"`
	Permission string            `json:"permission,omitempty"`
	DryRun     bool              `json:"dry_run,omitempty"`
	Explain    bool              `json:"explain,omitempty"`
}

// verifyAnswer is /v1/verify's answer; success and data are there when lanyard wraps its
// answers in an envelope.
type verifyAnswer struct {
	Valid     bool            `json:"valid"`
	Code      *string         `json:"code"`
	Principal *string         `json:"principal"`
	KeyID     *string         `json:"key_id"`
	Resource  *string         `json:"resource"`
	Role      *string         `json:"role"`
	RateLimit json.RawMessage `json:"ratelimit"`
	Because   *struct {
		Layer *string `json:"layer"`
	} `json:"because"`

	Success *bool           `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *errorDetail    `json:"error"`
}

func (r *remote) Verify(ctx context.Context, q Request) (Result, error) {
	key := r.key(q)
	if res, ok := r.answers.get(key, r.now()); ok {
		return res, nil
	}
	ans, err := r.ask(ctx, q, false)
	if err != nil {
		return Result{}, err
	}
	res := ans.result()
	limited := len(ans.RateLimit) > 0 && string(ans.RateLimit) != "null"
	if !res.Valid && res.Code == "forbidden" && q.Resource != "" {
		// 403 or 404? May the credential read the resource at all?
		read := q
		read.Permission = "read"
		again, err := r.ask(ctx, read, true)
		if err != nil {
			return Result{}, err
		}
		if !again.Valid && again.Because != nil && again.Because.Layer != nil && *again.Because.Layer == "grant" {
			res.Code = "not_found"
		}
	}
	now := r.now()
	switch {
	case res.Valid && !limited && r.ttl > 0:
		r.answers.put(key, res, now.Add(r.ttl), now)
	case !res.Valid && r.negTTL > 0:
		switch res.Code {
		case "invalid_token", "expired", "revoked", "forbidden", "not_found":
			r.answers.put(key, res, now.Add(r.negTTL), now)
		}
	}
	return res, nil
}

func (a *verifyAnswer) result() Result {
	res := Result{Valid: a.Valid}
	if !a.Valid {
		res.Code = "forbidden"
		if a.Code != nil && *a.Code != "" {
			res.Code = *a.Code
		}
	}
	res.Principal, res.KeyID, res.Resource, res.Role = str(a.Principal), str(a.KeyID), str(a.Resource), str(a.Role)
	if res.Code == "invalid_request" && a.Error != nil {
		res.Message = a.Error.Message
	}
	if res.Code == "rate_limited" || res.Code == "credits_exhausted" {
		var w struct {
			Reset int64 `json:"reset"`
		}
		if json.Unmarshal(a.RateLimit, &w) == nil && w.Reset > 0 {
			res.RetryAfter = time.Duration(w.Reset) * time.Second
		}
	}
	return res
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// maxAnswer bounds what is read of one answer of lanyard's.
const maxAnswer = 64 << 10

// ask sends q to /v1/verify. An invalid_request is an answer; anything but a 200 or a 400 from
// lanyard, or no answer in time, is an error wrapping ErrUnavailable.
func (r *remote) ask(ctx context.Context, q Request, probe bool) (*verifyAnswer, error) {
	body := verifyRequest{
		Headers:    make(map[string]string, len(q.Header)),
		ClientIP:   q.ClientIP,
		Resource:   q.Resource,
		Permission: q.Permission,
		DryRun:     probe,
		Explain:    probe,
	}
	for name, vs := range q.Header {
		if len(vs) > 0 && vs[0] != "" {
			body.Headers[name] = vs[0]
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the answer: %v", ErrUnavailable, err)
	}
	var ans verifyAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, fmt.Errorf("%w: POST %s answered %d without JSON", ErrUnavailable, r.url, resp.StatusCode)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if ans.Success != nil && len(ans.Data) > 0 {
			var inner verifyAnswer
			if err := json.Unmarshal(ans.Data, &inner); err != nil {
				return nil, fmt.Errorf("%w: POST %s answered an envelope without a verify answer", ErrUnavailable, r.url)
			}
			ans = inner
		}
		return &ans, nil
	case http.StatusBadRequest:
		if probe {
			// The same question was well-formed a moment ago.
			return nil, fmt.Errorf("%w: POST %s answered 400 to a dry run", ErrUnavailable, r.url)
		}
		code := "invalid_request"
		return &verifyAnswer{Code: &code, Error: ans.Error}, nil
	}
	code := ""
	if ans.Error != nil {
		code = ans.Error.Code
	}
	return nil, fmt.Errorf("%w: POST %s answered %d %s", ErrUnavailable, r.url, resp.StatusCode, code)
}

// key is the cache key of q: a SHA-256 of every part of the question, so that the cache holds
// no credential.
func (r *remote) key(q Request) [32]byte {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	names := make([]string, 0, len(q.Header))
	for name := range q.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if vs := q.Header[name]; len(vs) > 0 && vs[0] != "" {
			field(name)
			field(vs[0])
		}
	}
	field("")
	field(q.ClientIP)
	field(q.Resource)
	field(q.Permission)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// cache holds answers until they expire, at most max of them.
type cache struct {
	mu  sync.Mutex
	max int
	m   map[[32]byte]entry
}

type entry struct {
	res   Result
	until time.Time
}

func (c *cache) get(k [32]byte, now time.Time) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return Result{}, false
	}
	if !now.Before(e.until) {
		delete(c.m, k)
		return Result{}, false
	}
	return e.res, true
}

func (c *cache) put(k [32]byte, res Result, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		// Still full: drop entries at random (map order) down to 90 %; each answer is at
		// most a second old, so losing some costs only a question to lanyard.
		for k := range c.m {
			if len(c.m) < c.max-c.max/10 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[k] = entry{res: res, until: until}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
