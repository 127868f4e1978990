package otlogin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// TestPhoneNumbersRefused: numbers SMS pumping uses, and numbers that cannot receive a text,
// are refused with a 400 a person understands, and Mosaic is never asked.
func TestPhoneNumbersRefused(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in string }{
		{"not a number", "+1 415 CALL NOW"},
		{"too short", "+1234"},
		{"unassigned calling code", "+99912345678"},
		{"unassigned calling code 2", "+80912345678"},
		{"international networks +882", "+8821612345678"},
		{"international networks +883", "+88351001234"},
		{"Inmarsat +870", "+870773111111"},
		{"invalid length for the country", "+4479111234"},
		{"unassigned US area code", "+15551234567"},
		{"US premium rate", "+19005550123"},
		{"UK premium rate", "+449098790123"},
		{"French premium rate", "+33899123456"},
		{"UK landline", "+442071234567"},
		{"French landline", "+33140000000"},
		{"German landline", "+4930123456"},
		{"US toll free", "+18005550123"},
		{"vanity letters", "+1 800 FLOWERS"},
		{"extension", "+1 415 555 0123 ext 5"},
		{"zero-width space", "+1415\u200b5550123"},
		{"text around it", "call +14155550123"},
	}
	h := newHarness(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, e := normalizePhone(tc.in)
			require.NotNil(t, e, "%q accepted", tc.in)
			assert.Equal(t, http.StatusBadRequest, e.Status)
			assert.Equal(t, "invalid_phone", e.Code)
			assert.NotContains(t, e.Message, tc.in, "the message does not echo the number")

			r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "sms", "identifier": tc.in})
			assert.Equal(t, http.StatusBadRequest, r.StatusCode)
			assert.Contains(t, r.body, "invalid_phone")
		})
	}
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointSendOTP), "no refused number reached Mosaic")
}

// TestPhoneNumbersAccepted: mobile numbers (and US/Canadian numbers, where the numbering plan
// does not tell mobile from landline) in any common formatting come out in one E.164 form,
// with their country (countries of one calling code told apart: Jamaica is +1 like the US).
func TestPhoneNumbersAccepted(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want, country string }{
		{"+14155550123", "+14155550123", "US"},
		{"+1 (415) 555-0123", "+14155550123", "US"},
		{"+1.415.555.0123", "+14155550123", "US"},
		{"001 415 555 0123", "+14155550123", "US"},
		{"+447911123456", "+447911123456", "GG"}, // +44 7911: Guernsey in the metadata,
		{"+44 7911 123456", "+447911123456", "GG"},
		{"+44 (0)7911 123456", "+447911123456", "GG"},
		{"0044 7911.123.456", "+447911123456", "GG"},
		{"+33 6 12 34 56 78", "+33612345678", "FR"},
		{"+49 151 12345678", "+4915112345678", "DE"},
		{"+1 876 555 0123", "+18765550123", "JM"},
	}
	for _, tc := range cases {
		got, country, e := normalizePhone(tc.in)
		if assert.Nil(t, e, "%q refused", tc.in) {
			assert.Equal(t, tc.want, got, tc.in)
			assert.Equal(t, tc.country, country, tc.in)
		}
	}
}

// TestEmailUnicodeTricks: addresses that look like another one, or hide characters, are refused
// with a 400 that says what is wrong, and Mosaic is never asked.
func TestEmailUnicodeTricks(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, msg string }{
		{"zero-width space", "ad\u200ba@example.com", "invisible"},
		{"zero-width joiner", "ada\u200d@example.com", "invisible"},
		{"zero-width non-joiner", "ada@exa\u200cmple.com", "invisible"},
		{"word joiner", "ada@example\u2060.com", "invisible"},
		{"byte order mark", "\ufeffada@example.com", "invisible"},
		{"soft hyphen", "ada@exam\u00adple.com", "invisible"},
		{"Hangul filler", "ada\u3164@example.com", "invisible"},
		{"tag character", "ada\U000E0041@example.com", "invisible"},
		{"right-to-left override", "ada@\u202eelpmaxe.com", "direction"},
		{"left-to-right isolate", "\u2066ada\u2069@example.com", "direction"},
		{"right-to-left mark", "ada\u200f@example.com", "direction"},
		{"combining acute (decomposed é)", "jose\u0301@example.com", "accent"},
		{"combining overlay", "ada@exa\u0338mple.com", "accent"},
		{"variation selector", "ada\ufe0f@example.com", "accent"},
		{"Cyrillic а in a Latin domain", "ada@ex\u0430mple.com", "alphabets"},
		{"Cyrillic о in a Latin local part", "r\u043ebert@example.com", "alphabets"},
		{"Greek ο in a Latin domain", "ada@g\u03bfogle.com", "alphabets"},
		{"mathematical bold letter", "ada@\U0001d41eample.com", ""},
		{"control character", "ada\u0007@example.com", ""},
		{"no-break space", "ada\u00a0@example.com", ""},
	}
	h := newHarness(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, e := normalizeEmail(tc.in)
			require.NotNil(t, e, "%q accepted", tc.in)
			assert.Equal(t, http.StatusBadRequest, e.Status)
			assert.Equal(t, "invalid_email", e.Code)
			if tc.msg != "" {
				assert.Contains(t, e.Message, tc.msg)
			}
			for _, path := range []string{"/auth/link/email/send", "/auth/otp/send"} {
				r := h.postJSON(h.newClient(), path, map[string]string{"email": tc.in, "channel": "email", "identifier": tc.in})
				assert.Equal(t, http.StatusBadRequest, r.StatusCode, path)
				assert.Contains(t, r.body, "invalid_email", path)
			}
		})
	}
	assert.Equal(t, 0, h.emu.Calls(transmittest.EndpointSendMagicLink)+h.emu.Calls(transmittest.EndpointSendOTP))
}

// TestEmailCanonical: the form otlogin sends to Mosaic. Case and full-width forms are folded,
// internationalised domains become their ASCII (punycode) form, and single-script addresses in
// any script are accepted.
func TestEmailCanonical(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"ada@example.com", "ada@example.com"},
		{"  Ada@Example.COM ", "ada@example.com"},
		{"Ada+Tag@Example.com", "ada+tag@example.com"},
		{"ａｄａ@ｅｘａｍｐｌｅ.com", "ada@example.com"},
		{"jürgen@bücher.de", "jürgen@xn--bcher-kva.de"},
		{"jürgen@XN--BCHER-KVA.de", "jürgen@xn--bcher-kva.de"},
		{"Jürgen+News@Bücher.DE", "jürgen+news@xn--bcher-kva.de"}, // the README's example
		{"JOSÉ@example.com", "josé@example.com"},
		{"иван@пример.рф", "иван@xn--e1afmkfd.xn--p1ai"},
		{"山田たろう@例え.jp", "山田たろう@xn--r8jz45g.jp"},
		{"ada@例え.jp", "ada@xn--r8jz45g.jp"},
	}
	for _, tc := range cases {
		got, e := normalizeEmail(tc.in)
		if assert.Nil(t, e, "%q refused", tc.in) {
			assert.Equal(t, tc.want, got, tc.in)
		}
	}
}

// TestIdentifierCountedOnce: case, plus-addressing and formatting variants of one mailbox or
// number share one per-identifier budget, and Mosaic gets the canonical form.
func TestIdentifierCountedOnce(t *testing.T) {
	t.Parallel()
	t.Run("email", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) {
			c.Limits.SendsPerIdentifier = Rate{N: 3}
			c.Limits.SendsPerIP = Rate{N: 100}
			c.CreateUsers = true // so every send reaches the outbox
		})
		variants := []string{"ada@example.com", "ADA@Example.com", "ada+1@example.com", "Ada+news@EXAMPLE.COM", "ａｄａ@example.com"}
		for i, v := range variants {
			r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "email", "identifier": v})
			if i < 3 {
				assert.Equal(t, http.StatusAccepted, r.StatusCode, v)
			} else {
				assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, "%s: one mailbox, budget of 3 spent", v)
			}
		}
		r := h.postJSON(h.newClient(), "/auth/link/email/send", map[string]string{"email": "ADA+x@example.com"})
		assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, "links share the mailbox's budget")
		r = h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "email", "identifier": "bob@example.com"})
		assert.Equal(t, http.StatusAccepted, r.StatusCode, "another mailbox has its own budget")
		var sent []string
		for _, m := range h.emu.Outbox() {
			sent = append(sent, m.Identifier)
		}
		assert.Equal(t, []string{"ada@example.com", "ada@example.com", "ada+1@example.com", "bob@example.com"}, sent,
			"Mosaic gets the canonical form: lower case, the +tag kept")
	})
	t.Run("phone", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *Config) {
			c.Limits.SendsPerIdentifier = Rate{N: 3}
			c.Limits.SendsPerIP = Rate{N: 100}
			c.CreateUsers = true // so every send reaches the outbox
		})
		variants := []string{"+447911123456", "+44 7911 123456", "+44 (0)7911 123456", "0044 7911 123 456", "+44-7911-123-456"}
		for i, v := range variants {
			r := h.postJSON(h.newClient(), "/auth/otp/send", map[string]string{"channel": "sms", "identifier": v})
			if i < 3 {
				assert.Equal(t, http.StatusAccepted, r.StatusCode, v)
			} else {
				assert.Equal(t, http.StatusTooManyRequests, r.StatusCode, "%s: one number, budget of 3 spent", v)
			}
		}
		outbox := h.emu.Outbox()
		require.Len(t, outbox, 3)
		for _, m := range outbox {
			assert.Equal(t, "+447911123456", m.Identifier, "Mosaic gets E.164")
		}
	})
}

// TestIdentifierRateKey: the per-identifier limit key of a canonical identifier.
func TestIdentifierRateKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ada@example.com":           "email:ada@example.com",
		"ada+tag@example.com":       "email:ada@example.com",
		"ada+a+b@example.com":       "email:ada@example.com",
		"+tag@example.com":          "email:+tag@example.com",
		"jürgen+x@xn--bcher-kva.de": "email:jürgen@xn--bcher-kva.de",
		"+447911123456":             "sms:+447911123456",
	} {
		assert.Equal(t, want, identifierRateKey(in), in)
	}
}

// FuzzIdentifiers: any input is either refused with a 400 or comes out canonical: normalising
// the result again gives the same string, and it holds no character the rules refuse.
func FuzzIdentifiers(f *testing.F) {
	for _, s := range []string{"ada@example.com", "Ada+x@Bücher.DE", "ad\u200ba@example.com", "иван@пример.рф",
		"+1 (415) 555-0123", "0044 7911 123456", "+8821612345678", "a@b.c", "@", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		phone := func(s string) (string, *Error) { p, _, e := normalizePhone(s); return p, e }
		for _, norm := range []func(string) (string, *Error){normalizeEmail, phone} {
			got, e := norm(s)
			if e != nil {
				if e.Status != http.StatusBadRequest || e.Message == "" {
					t.Fatalf("%q: refused with %d %q", s, e.Status, e.Message)
				}
				continue
			}
			again, e := norm(got)
			if e != nil || again != got {
				t.Fatalf("%q -> %q is not canonical: %q, %v", s, got, again, e)
			}
			if identifierRateKey(got) == "" {
				t.Fatalf("%q: empty rate key", s)
			}
		}
	})
}

// TestEmailRoutingAndAddressLiterals: mail-routing relics in the local part (% and ! source
// routes, RFC 2047 encoded words) and domains that are IP addresses or all-numeric are not a
// mailbox anyone signs in with; they are refused before Mosaic sees them, which would otherwise
// be sent each as typed (docs/SECURITY.md M6).
func TestEmailRoutingAndAddressLiterals(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"ada%bob@example.com", "ada!bob@example.com", "=?utf-8?q?ada?=@example.com",
		"ada@1.2.3.4", "ada@127.0.0.1", "ada@0x7f.1", "ada@example.123",
	} {
		_, e := normalizeEmail(in)
		if assert.NotNil(t, e, "%q accepted", in) {
			assert.Equal(t, http.StatusBadRequest, e.Status)
		}
	}
	for _, in := range []string{"ada@example.com", "ada+news@example.co.uk", "o'brien@example.ie", "ada@xn--bcher-kva.de", "ada@123.example.com"} {
		_, e := normalizeEmail(in)
		assert.Nil(t, e, "%q refused", in)
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"ada@example.com", "ada@example.com", true},
		{"  Ada@Example.COM ", "ada@example.com", true},
		{"a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk", true},
		{"", "", false},
		{"ada", "", false},
		{"ada@", "", false},
		{"@example.com", "", false},
		{"ada@example", "", false},
		{"ada@@example.com", "", false},
		{"Ada <ada@example.com>", "", false},
		{"ada@example.com\r\nBcc: x@y.z", "", false},
		{"ada example@x.com", "", false},
		{"ada@.example.com", "", false},
		{"ada@example..com", "", false},
		{strings.Repeat("a", 65) + "@example.com", "", false},
		{"a@" + strings.Repeat("b", 250) + ".com", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, e := normalizeEmail(tc.in)
			if !tc.ok {
				require.NotNil(t, e)
				assert.Equal(t, http.StatusBadRequest, e.Status)
				assert.NotEmpty(t, e.Message)
				return
			}
			require.Nil(t, e)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"+14155550123", "+14155550123", true},
		{"+1 (415) 555-0123", "+14155550123", true},
		{"+44 7911 123456", "+447911123456", true},
		{"0044 7911.123.456", "+447911123456", true},
		{"", "", false},
		{"4155550123", "", false},
		{"+0123456789", "", false},
		{"+1 415 CALL NOW", "", false},
		{"+1234", "", false},
		{"+1234567890123456", "", false},
		{"++14155550123", "", false},
		{"+1415555012３", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, _, e := normalizePhone(tc.in)
			if !tc.ok {
				require.NotNil(t, e)
				assert.Equal(t, "invalid_phone", e.Code)
				assert.NotEmpty(t, e.Message)
				return
			}
			require.Nil(t, e)
			assert.Equal(t, tc.want, got)
		})
	}
}
