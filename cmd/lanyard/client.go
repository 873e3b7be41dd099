package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// apiClient calls a running lanyard's native API for the CLI subcommands.
type apiClient struct {
	base   string // e.g. http://127.0.0.1:8080/v1
	token  string
	http   *http.Client
	stdout io.Writer
}

// insecureFlag names the flag that lets the client send a token over plain HTTP to a host that
// is not loopback.
const insecureFlag = "insecure"

// addClientFlags registers the flags every subcommand that talks to the API shares, on cmd and
// (persistent) its subcommands.
func addClientFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().Bool(insecureFlag, false,
		"send LANYARD_TOKEN over plain http:// even to a host that is not loopback (anyone on the way can read it)")
}

// newClient reads LANYARD_ADDR and LANYARD_TOKEN for cmd, a subcommand under addClientFlags.
func newClient(cmd *cobra.Command, e env) (*apiClient, error) {
	insecure, _ := cmd.Flags().GetBool(insecureFlag)
	base, err := apiBase(e.getenv("LANYARD_ADDR"), insecure)
	if err != nil {
		return nil, err
	}
	tok := e.getenv("LANYARD_TOKEN")
	if tok == "" {
		return nil, errors.New("set LANYARD_TOKEN to a lanyard token (the bootstrap token, an admin token or a key)")
	}
	hc := &http.Client{
		Timeout: 30 * time.Second,
		// A redirect is held to the same rule as LANYARD_ADDR: Go keeps the Authorization
		// header on a redirect to the same host, so an https:// server that redirects to its
		// own http:// would otherwise have the token sent in the clear.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return checkTransport(req.URL, insecure)
		},
	}
	return &apiClient{base: base, token: tok, http: hc, stdout: e.stdout}, nil
}

// apiBase turns LANYARD_ADDR (HOST:PORT or a URL; 127.0.0.1:8080 when empty) into the base URL
// of the native API, and refuses one that would carry the token over plain HTTP to a host that
// is not loopback, unless insecure.
func apiBase(addr string, insecure bool) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("LANYARD_ADDR %q is neither HOST:PORT nor a URL", addr)
	}
	if err := checkTransport(u, insecure); err != nil {
		return "", err
	}
	base := strings.TrimRight(u.String(), "/")
	if u.Path == "" || u.Path == "/" {
		base += "/v1"
	}
	return base, nil
}

// checkTransport refuses to send a token over plain HTTP to a host that is not loopback
// (127.0.0.0/8, ::1 or "localhost"), where anyone on the way could read it, unless insecure.
// https is always fine; a scheme that is neither is an error.
func checkTransport(u *url.URL, insecure bool) error {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
	default:
		return fmt.Errorf("LANYARD_ADDR must be an http:// or https:// URL, not %s://", u.Scheme)
	}
	if insecure || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("refusing to send LANYARD_TOKEN over plain http:// to %s, which is not a loopback address: "+
		"use an https:// LANYARD_ADDR, or pass --%s to send it unencrypted anyway", u.Host, insecureFlag)
}

// isLoopback reports whether host, as URL.Hostname gives it, names this machine without a
// lookup: "localhost" or a literal address in 127.0.0.0/8 or ::1 (an IPv4-mapped one too).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
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
