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

// TestSecurityHeadersEverywhere: every answer of the auth routes carries the headers,
// successes and errors alike (docs/SECURITY.md B3, L7).
func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	var all []response
	add := func(r response) { all = append(all, r) }
	add(h.get(c, "/auth/login"))
	add(h.get(c, "/auth/me"))
	add(h.get(c, "/auth/nope"))
	add(h.get(c, "/auth/logout"))
	add(h.postForm(c, "/auth/link/email/send", url.Values{"email": {"bad"}}))
	add(h.postJSON(c, "/auth/otp/authenticate", map[string]string{"passcode": "123456"}))
	add(h.postForm(c, "/auth/link/email/send", url.Values{"email": {"ada@example.com"}}))
	link := h.lastLink("ada@example.com")
	add(h.get(h.newClient(), link))
	add(h.get(c, link))
	add(h.get(c, "/auth/me"))
	add(h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}}))
	add(h.postForm(c, "/auth/logout", nil, "Sec-Fetch-Site", "cross-site"))
	add(h.postForm(c, "/auth/logout", nil))
	for _, r := range all {
		name := r.Request.Method + " " + r.Request.URL.Path
		assert.Equal(t, contentSecurityPolicy, r.Header.Get("Content-Security-Policy"), name)
		assert.Contains(t, r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'", name)
		assert.Equal(t, "DENY", r.Header.Get("X-Frame-Options"), name)
		assert.Equal(t, "no-referrer", r.Header.Get("Referrer-Policy"), name)
		assert.Equal(t, []string{"no-store"}, r.Header.Values("Cache-Control"), name)
		assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), name)
		assert.NotContains(t, r.body, "goroutine", name)
	}
}

// TestPagesHaveNoExternalResources: the embedded pages label every input and load nothing
// from elsewhere.
func TestPagesHaveNoExternalResources(t *testing.T) {
	t.Parallel()
	a := &Auth{prefix: "/auth"}
	var err error
	a.tmpl, err = loadTemplates(nil)
	require.NoError(t, err)
	inputIDs := regexp.MustCompile(`<input id="([^"]+)"`)
	for _, name := range TemplateNames() {
		rec := httptest.NewRecorder()
		a.render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, name, pageData{Title: "T", Next: "/", Error: "E", Code: "c", State: "s", Email: "e@x.co"})
		body := rec.Body.String()
		require.Equal(t, http.StatusOK, rec.Code, name)
		assert.NotContains(t, body, "<script", name)
		assert.NotRegexp(t, `(src|href)="(https?:)?//`, body, name)
		assert.Contains(t, body, `<html lang="en">`, name)
		for _, m := range inputIDs.FindAllStringSubmatch(body, -1) {
			assert.Contains(t, body, `<label for="`+m[1]+`"`, "%s: input %s has a label", name, m[1])
		}
	}
}
