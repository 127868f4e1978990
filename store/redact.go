package store

import (
	"net/url"
	"strings"
)

// urlSecrets returns the strings that must never appear in an error about rawURL: the
// password, in its raw and decoded forms, and the whole user-info part.
func urlSecrets(rawURL string) []string {
	var out []string
	rest := rawURL
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo := rest[:at]
		out = append(out, userinfo)
		if c := strings.Index(userinfo, ":"); c >= 0 {
			pw := userinfo[c+1:]
			out = append(out, pw)
			if dec, err := url.PathUnescape(pw); err == nil {
				out = append(out, dec)
			}
		}
	}
	// Password given as a query parameter (pgx accepts ?password=...).
	if u, err := url.Parse(rawURL); err == nil {
		if pw := u.Query().Get("password"); pw != "" {
			out = append(out, pw)
		}
	}
	kept := out[:0]
	for _, s := range out {
		if s != "" {
			kept = append(kept, s)
		}
	}
	return kept
}

// redactedError carries a message from which secrets were removed. It deliberately does not
// unwrap to the original error, whose message still holds them.
type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

// redact returns err unchanged when its message holds none of secrets, otherwise an error with
// the same message where each secret is replaced by "xxxxx".
func redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg}
}
