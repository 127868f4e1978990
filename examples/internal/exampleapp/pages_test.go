package exampleapp

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/otlogin/otlogin"
)

func TestPages(t *testing.T) {
	t.Parallel()
	u := &otlogin.User{Subject: "sub-1", Email: "<ada>@example.com", PhoneNumber: "+14155550123", Method: otlogin.MethodSMSOTP,
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)}
	cases := []struct {
		name     string
		page     []byte
		contains []string
		absent   []string
	}{
		{"home anonymous", Home(nil), []string{`href="/auth/login?next=/dashboard"`}, []string{"Sign out"}},
		{"home signed in", Home(u), []string{"&lt;ada&gt;@example.com", `action="/auth/logout"`}, []string{"<ada>"}},
		{"dashboard", Dashboard(u), []string{"&lt;ada&gt;@example.com", "(sms_otp)", `action="/auth/logout"`}, []string{"<ada>"}},
		{"dashboard without email", Dashboard(&otlogin.User{PhoneNumber: "+14155550123", Method: otlogin.MethodSMSOTP}),
			[]string{"14155550123", "(sms_otp)"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := string(tc.page)
			assert.Contains(t, s, "<!doctype html>")
			for _, c := range tc.contains {
				assert.Contains(t, s, c)
			}
			for _, c := range tc.absent {
				assert.NotContains(t, s, c)
			}
		})
	}
	assert.Equal(t, MeJSON{Subject: "sub-1", Email: "<ada>@example.com", PhoneNumber: "+14155550123", Method: "sms_otp"}, Me(u))
}
