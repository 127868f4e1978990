package otlogin

import (
	"net/http"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone numbers are parsed with libphonenumber's metadata (github.com/nyaruka/phonenumbers),
// not by shape: SMS pumping sends to numbers that look fine but are unassigned, premium-rate,
// landlines (some carriers bill text-to-voice) or in international networks (+881, +882,
// +883, +870, ...). Only mobile numbers of a country are accepted, and numbers of the North
// American plan and a few others where the metadata cannot tell mobile from landline.

// maxPhoneLen bounds the typed number (digits, spaces and punctuation).
const maxPhoneLen = 32

// normalizePhone validates a phone number typed in international form (+ or 00, then the
// country code) with spaces, dots, dashes, slashes or parentheses, and returns it in E.164
// with its country (ISO 3166 region, e.g. "US", "JM") for the per-country SMS budget:
// countries that share a calling code (+1: the US, Canada and the Caribbean) get a budget
// each. The number is parsed once, here.
func normalizePhone(s string) (e164, country string, _ *Error) {
	n, country, e := parsePhone(s)
	if e != nil {
		return "", "", e
	}
	return phonenumbers.Format(n, phonenumbers.E164), country, nil
}

// parsePhone is normalizePhone before formatting.
func parsePhone(s string) (_ *phonenumbers.PhoneNumber, country string, _ *Error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, "", newError(http.StatusBadRequest, "invalid_phone", "Enter your phone number.")
	}
	if len(s) > maxPhoneLen {
		return nil, "", errPhoneFormat()
	}
	// Only digits and separators: libphonenumber would otherwise read letters as a keypad
	// ("1-800-FLOWERS"), drop an extension, or pick a number out of surrounding text.
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9', c == ' ', c == '.', c == '-', c == '(', c == ')', c == '/', c == '\u00a0':
		case c == '+' && i == 0:
		default:
			return nil, "", errPhoneFormat()
		}
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if !strings.HasPrefix(s, "+") {
		return nil, "", errPhoneFormat()
	}
	n, err := phonenumbers.Parse(s, "ZZ")
	if err != nil {
		return nil, "", errPhoneFormat()
	}
	switch phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode())) {
	case "ZZ":
		return nil, "", newError(http.StatusBadRequest, "invalid_phone",
			"That country code does not exist. Enter the number with + and your country code, for example +44 for the UK.")
	case "001": // non-geographic: satellite and international networks, universal freephone
		return nil, "", newError(http.StatusBadRequest, "invalid_phone",
			"We can't send text messages to satellite or international network numbers. Enter a mobile number of a country, or use email.")
	}
	// IsValidNumber, keeping the region it looks up (every valid number has one).
	country = phonenumbers.GetRegionCodeForNumber(n)
	if !phonenumbers.IsValidNumberForRegion(n, country) {
		return nil, "", newError(http.StatusBadRequest, "invalid_phone",
			"That phone number does not exist. Check the country code and the number.")
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
		return n, country, nil
	case phonenumbers.PREMIUM_RATE:
		return nil, "", newError(http.StatusBadRequest, "invalid_phone",
			"We can't send text messages to premium-rate numbers. Enter your mobile number, or use email.")
	default:
		return nil, "", newError(http.StatusBadRequest, "invalid_phone",
			"We can only send text messages to mobile numbers, and that one is a landline or a special number. Enter your mobile number, or use email.")
	}
}

func errPhoneFormat() *Error {
	return newError(http.StatusBadRequest, "invalid_phone",
		"Enter the phone number in international format: + then the country code and number, for example +14155550123.")
}
