package otlogin

import (
	"bytes"
	"regexp"
	"testing"

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
