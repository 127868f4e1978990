package transmit

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits of Mosaic's One-Time Login API, checked before sending.
const (
	maxDeviceIDLen     = 80
	maxBase64LogoLen   = 20000
	maxSMSMessageLen   = 140
	maxSMSSenderIDLen  = 11
	maxApprovalDataLen = 10
)

// invalid builds a client-side validation error. Messages name fields, never values: a value
// may be a passcode or a code.
func invalid(op, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRequest, op, fmt.Sprintf(format, args...))
}

// checks collects the first validation failure.
type checks struct {
	op  string
	err error
}

func (c *checks) fail(format string, args ...any) {
	if c.err == nil {
		c.err = invalid(c.op, format, args...)
	}
}

func (c *checks) required(field, v string) {
	if strings.TrimSpace(v) == "" {
		c.fail("%s is required", field)
	}
}

func (c *checks) maxLen(field, v string, n int) {
	if utf8.RuneCountInString(v) > n {
		c.fail("%s is longer than %d characters", field, n)
	}
}

func (c *checks) nonNegative(field string, v float64) {
	if v < 0 {
		c.fail("%s must not be negative", field)
	}
}

func (c *checks) absoluteURL(field, v string) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		c.fail("%s must be an absolute URL", field)
	}
}

func (c *checks) emailContent(ec *EmailContent) {
	if ec == nil {
		return
	}
	c.required("email_content.subject", ec.Subject)
	c.maxLen("email_content.base64logo", ec.Base64Logo, maxBase64LogoLen)
}
