package otlogin

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestWrongCodeHTMLShowsCodePage: a wrong code in the HTML flow shows the code form again.
func TestWrongCodeHTMLShowsCodePage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.emu.CreateUser("ada@example.com", "")
	c := h.newClient()
	h.postForm(c, "/auth/otp/send", url.Values{"channel": {"email"}, "identifier": {"ada@example.com"}, "next": {"/dashboard"}})
	code := h.lastCode("ada@example.com")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for _, p := range []string{wrong, ""} {
		r := h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {p}})
		assert.Equal(t, http.StatusBadRequest, r.StatusCode)
		assert.Contains(t, r.body, `name="passcode"`)
		assert.Contains(t, r.body, `role="alert"`)
	}
	r := h.postForm(c, "/auth/otp/authenticate", url.Values{"passcode": {code}})
	assert.Equal(t, http.StatusSeeOther, r.StatusCode)
	assert.Equal(t, "/dashboard", r.Header.Get("Location"))
}
