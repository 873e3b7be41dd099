package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient calls a running lanyard's native API for the CLI subcommands.
type apiClient struct {
	base   string // e.g. http://127.0.0.1:8080/v1
	token  string
	http   *http.Client
	stdout io.Writer
}

func newClient(e env) (*apiClient, error) {
	addr := e.getenv("LANYARD_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("LANYARD_ADDR %q is neither HOST:PORT nor a URL", addr)
	}
	base := strings.TrimRight(u.String(), "/")
	if u.Path == "" || u.Path == "/" {
		base += "/v1"
	}
	tok := e.getenv("LANYARD_TOKEN")
	if tok == "" {
		return nil, errors.New("set LANYARD_TOKEN to a lanyard token (the bootstrap token, an admin token or a key)")
	}
	return &apiClient{base: base, token: tok, http: &http.Client{Timeout: 30 * time.Second}, stdout: e.stdout}, nil
}

// do calls the API and prints a JSON answer on stdout. A non-2xx answer becomes an error
// carrying the contract's error message.
func (c *apiClient) do(ctx context.Context, method, path string, query url.Values, body any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling lanyard: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading lanyard's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s (%d %s)", e.Error.Message, resp.StatusCode, e.Error.Code)
		}
		return fmt.Errorf("lanyard answered %s", resp.Status)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		out.Reset()
		out.Write(data)
	}
	if !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteByte('\n')
	}
	_, err = c.stdout.Write(out.Bytes())
	return err
}
