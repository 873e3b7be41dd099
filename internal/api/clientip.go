package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address a request came from: the peer, or — only when the peer is a
// configured trusted proxy — the right-most address in X-Forwarded-For that is not itself a
// trusted proxy. X-Forwarded-For from anyone else is ignored.
func (h *Handler) clientIP(r *http.Request) string {
	a := h.clientAddr(r)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func (h *Handler) clientAddr(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if !peer.IsValid() || !h.isTrusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer // a garbled chain: trust only what we saw
			}
			a = a.Unmap()
			if !h.isTrusted(a) {
				return a
			}
		}
	}
	return peer
}

func (h *Handler) isTrusted(a netip.Addr) bool {
	for _, p := range h.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ClientAddr is the client's address as the API decides it (the peer's, or the forwarded one
// from a trusted proxy), for the console's audit trail and log.
func (h *Handler) ClientAddr(r *http.Request) netip.Addr { return h.clientAddr(r) }

// TrustedPeer reports whether the request's peer is one of server.trusted_proxies (whose
// X-Forwarded-* headers count).
func (h *Handler) TrustedPeer(r *http.Request) bool {
	peer := peerAddr(r)
	return peer.IsValid() && h.isTrusted(peer)
}
