package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/examples/internal/conformance"
	"github.com/otlogin/otlogin/internal/apptest/safe"
	"github.com/otlogin/otlogin/internal/testservice"
)

// This file drives the example in a real browser (headless Chromium through chromedp):
// sign-in with a magic link clicked in the dev outbox, a link opened by another browser
// (a mail scanner) that must not sign in, and sign-in with an SMS code typed into the page.

const (
	// browserTestTimeout bounds the whole test, browser included, so a hung browser
	// cannot stall CI.
	browserTestTimeout = 60 * time.Second
	// browserStepTimeout bounds one step (a navigation, a click and the page it loads).
	browserStepTimeout = 15 * time.Second
	// browserDefaultPath is Debian's Chromium; env OTLOGIN_CHROMIUM overrides it.
	browserDefaultPath = "/usr/bin/chromium"
)

// browserLog is a goroutine-safe buffer for the app's and the browser's output, shown
// only when the test fails.
type browserLog struct{ safe.Buffer }

// String returns the output without Chromium's complaints about the missing D-Bus.
func (l *browserLog) String() string {
	var keep []string
	for line := range strings.Lines(l.Buffer.String()) {
		if !strings.Contains(line, "dbus") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

// browserExecPath returns the Chromium to run, or skips the test when there is none
// (fails instead when OTLOGIN_REQUIRE_SERVICES=1).
func browserExecPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("OTLOGIN_CHROMIUM")
	if p == "" {
		p = browserDefaultPath
	}
	found, err := exec.LookPath(p)
	if err == nil {
		return found
	}
	testservice.Unavailable(t, "Chromium not available at "+p+" (set OTLOGIN_CHROMIUM, or apt-get install chromium): "+err.Error())
	return ""
}

// browserServeApp runs the example with the embedded emulator and in-memory sessions on a
// loopback listener, and returns its origin (also its PUBLIC_URL).
func browserServeApp(t *testing.T, logs *browserLog) string {
	t.Helper()
	return conformance.ServeExample(t, example, logs)
}

// browserStart starts a headless Chromium with a fresh profile and returns its first tab.
// The browser lives until ctx ends or the test cleans up.
func browserStart(t *testing.T, ctx context.Context, execPath string, logs *browserLog) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 900),
		chromedp.CombinedOutput(logs),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(browserCtx) // closes the browser and waits for it
		cancelBrowser()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(browserCtx), "start Chromium at %s", execPath)
	return browserCtx
}

// browserTab opens a tab in a new, empty browser context (its own cookies) of the browser.
func browserTab(t *testing.T, browserCtx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(tab))
	return tab
}

// browserDo runs steps in tab within browserStepTimeout; on failure it reports where the
// page is and what it shows.
func browserDo(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, browserWhere(tab))
	}
}

// browserGet runs one action that returns a value, like browserDo.
func browserGet[T any](t *testing.T, tab context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, browserWhere(tab))
	}
	return v
}

// browserClick clicks sel and waits for the page that the click loads (after redirects).
func browserClick[S chromedp.Selectable](t *testing.T, tab context.Context, what string, sel S) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserStepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, browserWhere(tab))
	}
	require.Equal(t, int64(http.StatusOK), resp.Status, "%s: status of %s", what, resp.URL)
}

// browserWhere describes the tab's current page for a failure message.
func browserWhere(tab context.Context) string {
	ctx, cancel := context.WithTimeout(tab, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return "page " + loc + ":\n" + text
}

// browserPath returns the current page's path and query of tab.
func browserPath(t *testing.T, tab context.Context) (string, url.Values) {
	t.Helper()
	u, err := url.Parse(browserGet(t, tab, "location", chromedp.Location()))
	require.NoError(t, err)
	return u.Path, u.Query()
}

// browserText returns the visible text of the page in tab.
func browserText(t *testing.T, tab context.Context) string {
	t.Helper()
	return browserGet(t, tab, "page text", chromedp.Text(chromedp.CSS("body"), chromedp.NodeVisible))
}

// browserOutboxEntry reads the newest outbox message of kind to "to" from /dev/outbox.json,
// the way a developer's script would.
func browserOutboxEntry(t *testing.T, base, kind, to string) (link, code string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/dev/outbox.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var msgs []struct{ To, Kind, Link, Code string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&msgs))
	for _, m := range msgs { // newest first
		if m.Kind == kind && m.To == to {
			return m.Link, m.Code
		}
	}
	t.Fatalf("no %s message to %s in the outbox", kind, to)
	return "", ""
}

// browserMe fetches /api/me from the page, with the browser's cookies; it returns the
// status and the decoded body (nil unless 200).
func browserMe(t *testing.T, tab context.Context) (int, map[string]string) {
	t.Helper()
	var res struct {
		Status int               `json:"status"`
		Body   map[string]string `json:"body"`
	}
	raw := browserGet(t, tab, "fetch /api/me", chromedp.Evaluate[[]byte](
		`fetch("/api/me", {headers: {Accept: "application/json"}}).then(async r => ({status: r.status, body: r.ok ? await r.json() : null}))`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, json.Unmarshal(raw, &res))
	return res.Status, res.Body
}

// browserToLogin opens /dashboard signed out and checks that the browser lands on the
// sign-in page with next=/dashboard.
func browserToLogin(t *testing.T, tab context.Context, base string) {
	t.Helper()
	browserDo(t, tab, "open /dashboard", chromedp.Navigate(base+"/dashboard"))
	path, q := browserPath(t, tab)
	require.Equal(t, "/auth/login", path, browserWhere(tab))
	assert.Equal(t, "/dashboard", q.Get("next"))
	browserDo(t, tab, "sign-in page", chromedp.WaitVisible(chromedp.ID("link-email")))
}

// browserRequestLink fills and sends the magic-link form of the sign-in page.
func browserRequestLink(t *testing.T, tab context.Context, email string) {
	t.Helper()
	browserDo(t, tab, "type email", chromedp.SendKeys(chromedp.ID("link-email"), email))
	browserClick(t, tab, "send link", chromedp.CSS(`form[action$="/link/email/send"] button[type=submit]`))
	path, _ := browserPath(t, tab)
	assert.Equal(t, "/auth/link/email/send", path)
	text := browserText(t, tab)
	assert.Contains(t, text, "Check your email")
	assert.Contains(t, text, email)
}

// browserSignOut clicks the page's sign-out button and checks the session is gone.
func browserSignOut(t *testing.T, tab context.Context, base string) {
	t.Helper()
	browserClick(t, tab, "sign out", chromedp.CSS(`form[action="/auth/logout"] button[type=submit]`))
	path, _ := browserPath(t, tab)
	assert.Equal(t, "/", path)
	status, _ := browserMe(t, tab)
	assert.Equal(t, http.StatusUnauthorized, status)
	browserToLogin(t, tab, base)
}

// TestBrowserSignIn signs in to the example in headless Chromium: with a magic link from
// the dev outbox, with a link that another browser opened first, and with an SMS code.
func TestBrowserSignIn(t *testing.T) {
	t.Parallel() // its own app and browsers; the subtests share the browser and run in order
	execPath := browserExecPath(t)
	logs := &browserLog{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app and browser output:\n%s", logs.String())
		}
	})
	base := browserServeApp(t, logs)
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	t.Cleanup(cancel)
	browser := browserStart(t, ctx, execPath, logs)

	t.Run("magic link", func(t *testing.T) {
		const email = "ada@example.com"
		tab := browserTab(t, browser)
		browserToLogin(t, tab, base)

		shot := browserGet(t, tab, "screenshot", chromedp.FullScreenshot(100))
		file := filepath.Join(t.TempDir(), "login.png")
		require.NoError(t, os.WriteFile(file, shot, 0o600))
		cfg, err := png.DecodeConfig(bytes.NewReader(shot))
		require.NoError(t, err, "the screenshot is a PNG")
		assert.Positive(t, cfg.Width)
		assert.Positive(t, cfg.Height)

		// As a keyboard user: the first field has the focus, every field has a label, and Tab
		// walks the three forms top to bottom.
		focused := `document.activeElement.id || document.activeElement.textContent`
		assert.Equal(t, "link-email", browserGet(t, tab, "focus", chromedp.Evaluate[string](focused)))
		assert.True(t, browserGet(t, tab, "labels", chromedp.Evaluate[bool](
			`[...document.querySelectorAll("input:not([type=hidden])")].every(i => i.labels.length > 0)`)))
		var order []string
		for range 5 {
			browserDo(t, tab, "press Tab", chromedp.KeyEvent("\t"))
			order = append(order, browserGet(t, tab, "focus", chromedp.Evaluate[string](focused)))
		}
		assert.Equal(t, []string{"Send link", "otp-email", "Send code by email", "otp-phone", "Send code by text message"}, order)

		browserRequestLink(t, tab, email)

		browserDo(t, tab, "open the outbox", chromedp.Navigate(base+"/dev/outbox"))
		// The outbox lists the newest message first; a row is time, channel, to, link.
		anchor := `[...document.querySelectorAll("tbody tr")].find(r => r.cells[2].textContent === ` +
			jsString(email) + `)?.querySelector("a")`
		link := browserGet(t, tab, "link in the outbox", chromedp.Evaluate[string](anchor+`.href`))
		require.True(t, strings.HasPrefix(link, base+"/auth/link/email/callback?"), link)
		browserClick(t, tab, "click the link", chromedp.JSPath(anchor))

		path, q := browserPath(t, tab)
		assert.Equal(t, "/dashboard", path)
		assert.Empty(t, q, "no code or state left in the address bar")
		text := browserText(t, tab)
		assert.Contains(t, text, "Dashboard")
		assert.Contains(t, text, email)
		ref := browserGet(t, tab, "referrer", chromedp.Evaluate[string](`document.referrer`))
		assert.NotContains(t, ref, "code=")
		status, me := browserMe(t, tab)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, email, me["email"])
		assert.Equal(t, "magic_link", me["method"])
		assert.NotEmpty(t, me["subject"])

		browserSignOut(t, tab, base)
	})

	t.Run("link opened in another browser first", func(t *testing.T) {
		const email = "grace@example.com"
		tab := browserTab(t, browser)
		browserToLogin(t, tab, base)
		browserRequestLink(t, tab, email)
		link, _ := browserOutboxEntry(t, base, "link", email)
		require.True(t, strings.HasPrefix(link, base+"/auth/link/email/callback?"), link)

		// A mail scanner: another browser, its own profile, no cookies. It opens the link
		// twice and runs the page's scripts, but must neither sign in nor spend the code.
		scanner := browserStart(t, ctx, execPath, logs)
		for range 2 {
			browserDo(t, scanner, "scanner opens the link", chromedp.Navigate(link))
			text := browserText(t, scanner)
			assert.Contains(t, text, "Open the link in the browser where you asked for it")
			assert.NotContains(t, text, "Dashboard")
		}
		// The auth pages' CSP forbids fetch; ask from the home page.
		browserDo(t, scanner, "scanner opens the home page", chromedp.Navigate(base+"/"))
		assert.NotContains(t, browserText(t, scanner), "Signed in as")
		status, _ := browserMe(t, scanner)
		assert.Equal(t, http.StatusUnauthorized, status, "the scanner is not signed in")
		browserToLogin(t, scanner, base)

		// The browser that asked can still use the link.
		browserDo(t, tab, "open the link", chromedp.Navigate(link))
		path, _ := browserPath(t, tab)
		assert.Equal(t, "/dashboard", path)
		assert.Contains(t, browserText(t, tab), email)
		status, me := browserMe(t, tab)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, email, me["email"])
	})

	t.Run("sms code", func(t *testing.T) {
		const phone = "+14155550142"
		tab := browserTab(t, browser)
		browserToLogin(t, tab, base)

		browserDo(t, tab, "type phone number", chromedp.SendKeys(chromedp.ID("otp-phone"), phone))
		browserClick(t, tab, "send code", chromedp.CSS(`form:has(#otp-phone) button[type=submit]`))
		text := browserText(t, tab)
		assert.Contains(t, text, "Enter the code")
		assert.Contains(t, text, phone)

		_, code := browserOutboxEntry(t, base, "otp", phone)
		require.NotEmpty(t, code)
		browserDo(t, tab, "type the code", chromedp.SendKeys(chromedp.ID("passcode"), code))
		browserClick(t, tab, "sign in with the code", chromedp.CSS(`form:has(#passcode) button[type=submit]`))

		path, _ := browserPath(t, tab)
		assert.Equal(t, "/dashboard", path)
		assert.Contains(t, browserText(t, tab), phone)
		status, me := browserMe(t, tab)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, phone, me["phone_number"])
		assert.Equal(t, "sms_otp", me["method"])

		browserSignOut(t, tab, base)
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
