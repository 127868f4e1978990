package otlogin

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestForwardedClientIP: behind a trusted proxy, forwarded entries that carry a port or a
// bracketed IPv6 address name the client. Read wrongly, every client looks like the proxy
// and the whole site shares one per-IP budget.
func TestForwardedClientIP(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	xff := &Auth{cfg: Config{TrustedProxies: proxies}}
	fwd := &Auth{cfg: Config{TrustedProxies: proxies, ClientIPHeader: "Forwarded"}}
	cases := []struct {
		name   string
		a      *Auth
		remote string
		header []string // name, value pairs
		want   string
	}{
		{"XFF IPv4 with port", xff, "10.0.0.2:1234", []string{"X-Forwarded-For", "198.51.100.1:4711"}, "198.51.100.1"},
		{"XFF bracketed IPv6 with port", xff, "10.0.0.2:1234", []string{"X-Forwarded-For", "[2001:db8::7]:4711"}, "2001:db8::7"},
		{"XFF bracketed IPv6", xff, "10.0.0.2:1234", []string{"X-Forwarded-For", "[2001:db8::7]"}, "2001:db8::7"},
		{"XFF bare IPv6", xff, "[fd00::1]:443", []string{"X-Forwarded-For", "2001:db8::7"}, "2001:db8::7"},
		{"XFF mapped IPv4", xff, "10.0.0.2:1234", []string{"X-Forwarded-For", "[::ffff:198.51.100.1]:80"}, "198.51.100.1"},
		{"XFF chain with ports", xff, "10.0.0.2:1234", []string{"X-Forwarded-For", "6.6.6.6, 198.51.100.1:4711, 10.0.0.3:80"}, "198.51.100.1"},
		{"XFF several headers", xff, "10.0.0.2:1234", []string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "198.51.100.1:1"}, "198.51.100.1"},
		{"XFF garbage stops at the last proxy", xff, "10.0.0.2:1234", []string{"X-Forwarded-For", "198.51.100.1, junk:x"}, "10.0.0.2"},
		{"XFF ignored when Forwarded is the header", fwd, "10.0.0.2:1234", []string{"X-Forwarded-For", "6.6.6.6"}, "10.0.0.2"},
		{"Forwarded IPv4", fwd, "10.0.0.2:1234", []string{"Forwarded", "for=198.51.100.1;proto=https;by=10.0.0.2"}, "198.51.100.1"},
		{"Forwarded quoted IPv6 with port", fwd, "10.0.0.2:1234", []string{"Forwarded", `for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"Forwarded quoted IPv4 with port", fwd, "10.0.0.2:1234", []string{"Forwarded", `For="198.51.100.1:4711"`}, "198.51.100.1"},
		{"Forwarded chain", fwd, "10.0.0.2:1234", []string{"Forwarded", `for=6.6.6.6, for=198.51.100.1;proto=http, for="10.0.0.3:80"`}, "198.51.100.1"},
		{"Forwarded several headers", fwd, "10.0.0.2:1234", []string{"Forwarded", "for=6.6.6.6", "Forwarded", "for=198.51.100.1"}, "198.51.100.1"},
		{"Forwarded comma inside quotes", fwd, "10.0.0.2:1234", []string{"Forwarded", `for=198.51.100.1;ext="a,b"`}, "198.51.100.1"},
		{"Forwarded unknown stops", fwd, "10.0.0.2:1234", []string{"Forwarded", "for=198.51.100.1, for=unknown"}, "10.0.0.2"},
		{"Forwarded obfuscated stops", fwd, "10.0.0.2:1234", []string{"Forwarded", "for=_hidden"}, "10.0.0.2"},
		{"Forwarded untrusted peer", fwd, "203.0.113.9:1", []string{"Forwarded", "for=198.51.100.1"}, "203.0.113.9"},
		{"XFF ignored from an untrusted peer", xff, "203.0.113.9:1", []string{"X-Forwarded-For", "198.51.100.1:1"}, "203.0.113.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tc.remote
			for i := 0; i+1 < len(tc.header); i += 2 {
				r.Header.Add(tc.header[i], tc.header[i+1])
			}
			assert.Equal(t, tc.want, tc.a.clientIP(r))
		})
	}
}

// TestClientIPHeaderValidated: New accepts only the two forwarding headers it can parse.
func TestClientIPHeaderValidated(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"", "X-Forwarded-For", "x-forwarded-for", "Forwarded"} {
		_, err := New(Config{Client: testClient(t), PublicURL: "https://a.example", ClientIPHeader: h})
		require.NoError(t, err, h)
	}
	_, err := New(Config{Client: testClient(t), PublicURL: "https://a.example", ClientIPHeader: "X-Real-IP"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ClientIPHeader")
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	a := &Auth{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	cases := []struct {
		name, remote, xff, want string
	}{
		{"direct", "203.0.113.7:1234", "", "203.0.113.7"},
		{"untrusted peer ignores XFF", "203.0.113.7:1234", "198.51.100.1", "203.0.113.7"},
		{"trusted proxy", "10.0.0.2:1234", "198.51.100.1", "198.51.100.1"},
		{"spoofed left entry", "10.0.0.2:1234", "6.6.6.6, 198.51.100.1", "198.51.100.1"},
		{"proxy chain", "10.0.0.2:1234", "198.51.100.1, 10.0.0.3", "198.51.100.1"},
		{"garbage", "10.0.0.2:1234", "not-an-ip", "10.0.0.2"},
		{"ipv6", "[2001:db8::1]:443", "", "2001:db8::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			assert.Equal(t, tc.want, a.clientIP(r))
		})
	}
}

// TestClientNet: per-IP limits key IPv4 clients by address and IPv6 clients by their /64.
func TestClientNet(t *testing.T) {
	t.Parallel()
	a := &Auth{}
	cases := []struct{ remote, want string }{
		{"203.0.113.7:1234", "203.0.113.7"},
		{"[::ffff:203.0.113.7]:1234", "203.0.113.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:443", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:443", "fe80::/64"},
	}
	for _, tc := range cases {
		t.Run(tc.remote, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tc.remote
			assert.Equal(t, tc.want, a.clientNet(r))
		})
	}
}
