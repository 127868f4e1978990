package otlogin

import (
	"net/http"
	"net/netip"
	"strings"
)

// Forwarding headers that Config.ClientIPHeader may name.
const (
	headerXFF       = "X-Forwarded-For"
	headerForwarded = "Forwarded"
)

// clientIP is the connection's address or, when the connection comes from a trusted proxy,
// the right-most address of the forwarding header (Config.ClientIPHeader) that is not a
// trusted proxy. Entries may carry a port or a bracketed IPv6 address ("198.51.100.1:4711",
// "[2001:db8::1]:443", Forwarded's for="[2001:db8::1]"). An entry that is not an address
// ("unknown", an obfuscated name, garbage) ends the walk: the client is then the last
// trusted hop, never an address written further left, which the client could have chosen.
func (a *Auth) clientIP(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	var ip netip.Addr
	if err == nil {
		ip = ap.Addr().Unmap()
	} else if ip, err = netip.ParseAddr(r.RemoteAddr); err != nil {
		return r.RemoteAddr
	}
	if !a.trusted(ip) {
		return ip.String()
	}
	var hops []string
	if strings.EqualFold(a.cfg.ClientIPHeader, headerForwarded) {
		hops = forwardedFor(r.Header.Values(headerForwarded))
	} else {
		hops = strings.Split(strings.Join(r.Header.Values(headerXFF), ","), ",")
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h, ok := parseHop(hops[i])
		if !ok {
			break
		}
		if !a.trusted(h) {
			return h.String()
		}
		ip = h
	}
	return ip.String()
}

// parseHop reads one forwarded address: "192.0.2.1", "192.0.2.1:80", "2001:db8::1",
// "[2001:db8::1]" or "[2001:db8::1]:80", with surrounding spaces or double quotes. IPv4
// addresses written as IPv6 (::ffff:192.0.2.1) become IPv4.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if ip, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && ip.Is6() {
			return ip.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// forwardedFor returns the for= value of each element of Forwarded header lines (RFC 7239),
// in order; an element without for= gives "" (not an address). Commas and semicolons inside
// quoted strings do not split.
func forwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, elem := range splitQuoted(line, ',') {
			v := ""
			for _, pair := range splitQuoted(elem, ';') {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					v = val
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double-quoted strings (with \ escapes).
func splitQuoted(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// clientNet names the client for per-IP limits: an IPv4 address as itself, an IPv6 address
// by its /64 (one subscriber usually holds a whole /64, so per-address keys would give an
// attacker 2^64 budgets).
func (a *Auth) clientNet(r *http.Request) string {
	ip := a.clientIP(r)
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() {
		return ip
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

func (a *Auth) trusted(ip netip.Addr) bool {
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
