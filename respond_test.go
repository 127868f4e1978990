package otlogin

import (
	"bytes"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	pagesTestID       = regexp.MustCompile(`\sid="([^"]+)"`)
	pagesTestFor      = regexp.MustCompile(`\sfor="([^"]+)"`)
	pagesTestForm     = regexp.MustCompile(`<form\b[^>]*>`)
	pagesTestLabelled = regexp.MustCompile(`\saria-labelledby="([^"]+)"`)
)

// TestPagesAccessibleNames checks the embedded pages: ids are unique, every label points at
// an element, and on a page with several forms each form is named by an element of the page
// (the login page has two "Email address" fields; the form's name tells them apart). The ids
// that browser tests select on stay.
func TestPagesAccessibleNames(t *testing.T) {
	t.Parallel()
	tmpl, err := loadTemplates(nil)
	require.NoError(t, err)
	tests := []struct {
		page    string
		wantIDs []string
	}{
		{tmplLogin, []string{"link-email", "otp-email", "otp-phone", "h-link", "h-otp-email", "h-otp-sms"}},
		{tmplCode, []string{"passcode"}},
		{tmplSent, nil},
		{tmplWrongBrowser, []string{"email"}},
		{tmplConfirm, nil},
		{tmplError, nil},
	}
	for _, tt := range tests {
		t.Run(tt.page, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			require.NoError(t, tmpl.ExecuteTemplate(&buf, tt.page, PageData{
				Title: "T", Prefix: "/auth", Next: "/", Email: "a@example.com", Error: "E",
			}))
			html := buf.String()
			ids := map[string]int{}
			for _, m := range pagesTestID.FindAllStringSubmatch(html, -1) {
				ids[m[1]]++
			}
			for id, n := range ids {
				assert.Equal(t, 1, n, "id %q is unique", id)
			}
			for _, id := range tt.wantIDs {
				assert.Contains(t, ids, id, "id %q is present", id)
			}
			for _, m := range pagesTestFor.FindAllStringSubmatch(html, -1) {
				assert.Contains(t, ids, m[1], "label for=%q points at an element", m[1])
			}
			forms := pagesTestForm.FindAllString(html, -1)
			for _, f := range forms {
				m := pagesTestLabelled.FindStringSubmatch(f)
				if len(forms) > 1 {
					require.NotNil(t, m, "form %s on a page of several forms has aria-labelledby", f)
				}
				if m != nil {
					assert.Contains(t, ids, m[1], "form %s is named by an element of the page", f)
				}
			}
		})
	}
}

// TestErrorHandlerAndTemplates: Config.ErrorHandler receives an *Error; Config.Templates
// replaces the pages.
func TestErrorHandlerAndTemplates(t *testing.T) {
	t.Parallel()
	var got *Error
	tmpl := template.New("custom")
	for _, name := range TemplateNames() {
		template.Must(tmpl.New(name).Parse(`custom ` + name + ` {{.Next}}`))
	}
	h := newHarness(t, func(c *Config) {
		c.Templates = tmpl
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			require.True(t, errors.As(err, &got))
			w.WriteHeader(got.Status)
			_, _ = io.WriteString(w, "handled "+got.Code)
		}
	})
	c := h.newClient()
	r := h.get(c, "/auth/login?next=/x")
	assert.Equal(t, "custom login.html /x", r.body)
	r = h.postForm(c, "/auth/otp/send", url.Values{"channel": {"fax"}})
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Equal(t, "handled invalid_channel", r.body)
	require.NotNil(t, got)
	assert.Equal(t, "invalid_channel", got.Code)
}

// TestRetryAfter: a 429's Retry-After is the wait rounded up to whole seconds, at least 1;
// an unknown wait is a minute.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Client: testClient(t), PublicURL: "https://app.example.com"})
	require.NoError(t, err)
	cases := []struct {
		retry time.Duration
		want  string
	}{
		{time.Millisecond, "1"},
		{300 * time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{90 * time.Second, "90"},
		{0, "60"},
		{-time.Second, "60"},
	}
	for _, tc := range cases {
		t.Run(tc.retry.String(), func(t *testing.T) {
			t.Parallel()
			for _, accept := range []string{"application/json", "text/html"} {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodPost, "/auth/otp/send", nil)
				r.Header.Set("Accept", accept)
				if accept == "application/json" {
					a.fail(w, r, errRateLimited(tc.retry))
				} else {
					a.failForm(w, r, errRateLimited(tc.retry), "/")
				}
				assert.Equal(t, http.StatusTooManyRequests, w.Code)
				assert.Equal(t, tc.want, w.Header().Get("Retry-After"), accept)
			}
		})
	}
}
