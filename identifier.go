package otlogin

import (
	"net/http"
	"net/mail"
	"strings"
	"unicode"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

// Email addresses are made canonical before anything else sees them: the flow, the rate
// limits and Mosaic all get the same form.
//
//   - Refused (400): invisible characters (zero-width, soft hyphen, byte order mark, fillers,
//     tags, any Unicode format character or default-ignorable code point), characters that
//     change the text direction (bidi controls), separate combining marks (a decomposed é,
//     overlays, variation selectors), and a local part or domain label that mixes scripts
//     other than the combinations Unicode's "highly restrictive" profile allows (Latin with
//     Han, Hiragana, Katakana, Bopomofo or Hangul), so "pаypal" with a Cyrillic а is refused.
//   - Canonical form: the local part through the PRECIS UsernameCaseMapped profile (RFC 8265:
//     full-width letters folded, lower-cased, NFC); the domain lower-cased and in its ASCII
//     (IDNA 2008, punycode) form, which is how mail is routed and cannot hide a look-alike.
//     The +tag is kept: it is the address the user typed, and mail to it reaches them.
//   - Rate limits count the mailbox (identifierRateKey): the canonical address without its
//     +tag, so "Ada+1@Example.com" and "ada@example.com" share one budget.

const (
	msgEmailInvisible = "An email address can't contain spaces or invisible characters. Type it again rather than pasting it."
	msgEmailDirection = "An email address can't contain characters that change the direction of the text. Type it again rather than pasting it."
	msgEmailAccent    = "An email address can't contain separate combining accents or marks. Type the accented letter itself (for example é)."
	msgEmailMixed     = "This email address mixes alphabets (for example a Cyrillic letter among Latin ones), so it could pass for another address. Check how it is written."
	msgEmailInvalid   = "Enter a valid email address, like name@example.com."
)

// emailDomain validates a domain name for registration-grade IDNA 2008 rules (no mapping: the
// input is already lower-case and NFC), and turns it into its ASCII form.
var emailDomain = idna.New(idna.ValidateForRegistration(), idna.CheckHyphens(true), idna.CheckJoiners(true))

// normalizeEmail validates an email address and returns its canonical form (see above).
func normalizeEmail(s string) (string, *Error) {
	s = strings.TrimSpace(s)
	bad := func(msg string) (string, *Error) {
		return "", newError(http.StatusBadRequest, "invalid_email", msg)
	}
	if s == "" {
		return bad("Enter your email address.")
	}
	if len(s) > 4*maxEmailLen {
		return bad(msgEmailInvalid)
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Bidi_Control, r):
			return bad(msgEmailDirection)
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc):
			return bad(msgEmailAccent)
		case unicode.In(r, unicode.Cf, unicode.Cc, unicode.Co, unicode.Cs, unicode.Z) ||
			unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
			unicode.Is(unicode.Noncharacter_Code_Point, r):
			return bad(msgEmailInvisible)
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, "<>\"(),;:\\[]") {
		return bad(msgEmailInvalid)
	}
	// PRECIS refuses what the checks above let through and identifiers should not hold
	// (symbols and punctuation outside ASCII, compatibility forms such as 𝐚, unassigned code
	// points) and maps width and case.
	local, err := precis.UsernameCaseMapped.String(s[:at])
	if err != nil {
		return bad(msgEmailInvalid)
	}
	domain, err := precis.UsernameCaseMapped.String(s[at+1:])
	if err != nil {
		return bad(msgEmailInvalid)
	}
	if !singleScript(local) {
		return bad(msgEmailMixed)
	}
	// A-labels typed by the user are checked in their Unicode form, like U-labels.
	uDomain, err := emailDomain.ToUnicode(domain)
	if err != nil {
		return bad(msgEmailInvalid)
	}
	for _, label := range strings.Split(uDomain, ".") {
		if !singleScript(label) {
			return bad(msgEmailMixed)
		}
	}
	aDomain, err := emailDomain.ToASCII(uDomain)
	if err != nil || !strings.Contains(aDomain, ".") || !nameTLD(aDomain) {
		return bad(msgEmailInvalid)
	}
	// Source routes (% and !) and RFC 2047 encoded words are relics of mail routing, not
	// parts of a mailbox someone signs in with.
	if strings.ContainsAny(local, "%!") || strings.Contains(local, "=?") {
		return bad(msgEmailInvalid)
	}
	addr := local + "@" + aDomain
	if len(addr) > maxEmailLen || len(local) > 64 {
		return bad(msgEmailInvalid)
	}
	parsed, err := mail.ParseAddress(addr)
	if err != nil || parsed.Address != addr || parsed.Name != "" {
		return bad(msgEmailInvalid)
	}
	return addr, nil
}

// singleScript reports whether the letters of s belong to one script, or to one of the
// combinations of Unicode TS 39's "highly restrictive" level (Latin + Han + Hiragana +
// Katakana, Latin + Han + Bopomofo, Latin + Han + Hangul). Digits and punctuation (scripts
// Common and Inherited) belong to every script.
func singleScript(s string) bool {
	seen := map[string]bool{}
	for _, r := range s {
		if sc := scriptOf(r); sc != "" {
			seen[sc] = true
		}
	}
	if len(seen) <= 1 {
		return true
	}
	for _, allowed := range [][]string{
		{"Latin", "Han", "Hiragana", "Katakana"},
		{"Latin", "Han", "Bopomofo"},
		{"Latin", "Han", "Hangul"},
	} {
		n := 0
		for _, sc := range allowed {
			if seen[sc] {
				n++
			}
		}
		if n == len(seen) {
			return true
		}
	}
	return false
}

// scriptOf names the Unicode script of r, or "" for Common and Inherited.
func scriptOf(r rune) string {
	if r < 0x80 {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	}
	for name, table := range unicode.Scripts {
		if name != "Common" && name != "Inherited" && unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// identifierRateKey names a canonical identifier in per-identifier rate limits: a phone number
// as itself (E.164), an email address as its mailbox (the +tag dropped), so variants of one
// mailbox share one budget.
func identifierRateKey(id string) string {
	at := strings.LastIndexByte(id, '@')
	if at < 0 {
		return "sms:" + id
	}
	local := id[:at]
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	return "email:" + local + id[at:]
}

// nameTLD reports whether the last label of an ASCII domain is a name (letters, or an
// A-label): a domain that is an IP address (1.2.3.4, 0x7f.1) or ends in digits is no
// mailbox's domain.
func nameTLD(domain string) bool {
	tld := domain[strings.LastIndexByte(domain, '.')+1:]
	if strings.HasPrefix(tld, "xn--") {
		return true
	}
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if c := tld[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
