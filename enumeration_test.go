package otlogin

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otlogin/otlogin/transmit/transmittest"
)

// enumCase is one kind of address in the enumeration matrix.
type enumCase struct {
	name  string
	setup func(h *harness, id string) // makes id this kind of address
}

func enumCases(sms bool) []enumCase {
	create := func(h *harness, id string) string {
		if sms {
			return h.emu.CreateUser("", id)
		}
		return h.emu.CreateUser(id, "")
	}
	refuse := func(f transmittest.Fault) func(*harness, string) {
		return func(h *harness, _ string) {
			f.Times = 1
			h.emu.Force(transmittest.EndpointCreateUser, f)
		}
	}
	sendRefused := func(h *harness, _ string) {
		// The magic-link send's documented answer for an address the tenant does not know.
		f := transmittest.FaultStringCode(http.StatusForbidden, "Public signup is not allowed for this application")
		f.Times = 1
		h.emu.Force(transmittest.EndpointCreateUser, f)
		h.emu.Force(transmittest.EndpointSendMagicLink, f)
		h.emu.Force(transmittest.EndpointSendOTP, f)
	}
	return []enumCase{
		{"known", func(h *harness, id string) { create(h, id) }},
		{"creation and send refused 403", sendRefused},
		{"unknown", func(*harness, string) {}},
		{"disabled", func(h *harness, id string) { h.emu.SetUserStatus(create(h, id), transmittest.StatusDisabled) }},
		{"creation refused 403", refuse(transmittest.FaultNumericCode(http.StatusForbidden, "Public signup is not allowed for this application"))},
		{"creation refused 400", refuse(transmittest.FaultMessageArray(http.StatusBadRequest, "email must be an email"))},
		{"creation 409 race", refuse(transmittest.FaultNumericCode(http.StatusConflict, "Identifier is taken"))},
		{"creation 422", refuse(transmittest.FaultNumericCode(http.StatusUnprocessableEntity, "Unprocessable"))},
	}
}

// maskedAnswer is an answer with what must differ between two browsers (the session
// cookie's value, Date, Expires, Max-Age to the nearest 10 seconds) and the address the
// request named replaced by placeholders.
func maskedAnswer(r response, id string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", r.StatusCode)
	var names []string
	for k := range r.Header {
		if k != "Date" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			if k == "Set-Cookie" {
				if name, rest, ok := strings.Cut(v, "="); ok {
					_, attrs, _ := strings.Cut(rest, ";")
					var kept []string
					for a := range strings.SplitSeq(attrs, ";") {
						t := strings.TrimSpace(a)
						if n, ok := strings.CutPrefix(t, "Max-Age="); ok {
							// Max-Age counts whole seconds from the save to the session's
							// deadline, so two saves a moment apart can differ by one.
							if secs, err := strconv.Atoi(n); err == nil {
								a = fmt.Sprintf(" Max-Age=~%d", (secs+5)/10*10)
							}
						}
						if !strings.HasPrefix(t, "Expires=") {
							kept = append(kept, a)
						}
					}
					v = name + "=<token>;" + strings.Join(kept, ";")
				}
			}
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	body := strings.ReplaceAll(r.body, "&#43;", "+") // html/template writes + as &#43;
	b.WriteString(strings.ReplaceAll(body, id, "<address>"))
	return b.String()
}

// TestEnumerationMatrix: with CreateUsers on, a send to a known, unknown or disabled address,
// or one whose creation Mosaic refuses (403 "Public signup is not allowed", another 4xx, a
// 409 race) gets the same answer, byte for byte once the address and cookie value are masked
// (status, headers, body), for the link, email OTP and SMS, as HTML and as JSON; and each
// makes the same Mosaic calls. The log keeps the difference.
//
// With CreateUsers off (nothing is created) the same holds, and no creation is asked for.
func TestEnumerationMatrix(t *testing.T) {
	t.Parallel()
	for _, create := range []bool{true, false} {
		for _, channel := range []string{"link", "email", "sms"} {
			for _, format := range []string{"html", "json"} {
				t.Run(fmt.Sprintf("CreateUsers=%v/%s/%s", create, channel, format), func(t *testing.T) {
					t.Parallel()
					h := newHarness(t, func(c *Config) {
						c.CreateUsers = create
						c.Limits.SendsPerIP = Rate{N: -1}
					})
					var first string
					var firstCalls []int
					for i, ec := range enumCases(channel == "sms") {
						id := fmt.Sprintf("user%02d@example.com", i)
						if channel == "sms" {
							id = fmt.Sprintf("+141555501%02d", i)
						}
						ec.setup(h, id)
						before := enumCalls(h)
						c := h.newClient()
						var r response
						switch {
						case channel == "link" && format == "json":
							r = h.postJSON(c, "/auth/link/email/send", map[string]string{"email": id})
						case channel == "link":
							r = h.postForm(c, "/auth/link/email/send", url.Values{"email": {id}, "next": {"/dashboard"}})
						case format == "json":
							r = h.postJSON(c, "/auth/otp/send", map[string]string{"channel": channel, "identifier": id})
						default:
							r = h.postForm(c, "/auth/otp/send", url.Values{"channel": {channel}, "identifier": {id}, "next": {"/dashboard"}})
						}
						calls := enumCalls(h)
						for k := range calls {
							calls[k] -= before[k]
						}
						got := maskedAnswer(r, id)
						if i == 0 {
							first, firstCalls = got, calls
							assert.Less(t, r.StatusCode, 300, got)
							continue
						}
						assert.Equal(t, first, got, "%s answers like a known address", ec.name)
						assert.Equal(t, firstCalls, calls, "%s makes the same Mosaic calls (send, createUser) as a known address", ec.name)
					}
					logs := h.logs.String()
					outcomes := []string{"sent", "unknown_user", "user_not_active"}
					if create {
						outcomes = []string{"sent", "created_and_sent", "user_not_active", "create_refused", "create_conflict"}
					} else {
						assert.Zero(t, h.emu.Calls(transmittest.EndpointCreateUser))
					}
					for _, outcome := range outcomes {
						assert.Contains(t, logs, `"outcome":"`+outcome+`"`, "the log tells the cases apart")
					}
					assert.NotContains(t, logs, "@example.com")
					assert.NotContains(t, logs, "+14155")
				})
			}
		}
	}
}

func enumCalls(h *harness) []int {
	return []int{h.emu.Calls(transmittest.EndpointSendMagicLink), h.emu.Calls(transmittest.EndpointSendOTP),
		h.emu.Calls(transmittest.EndpointCreateUser)}
}

// TestEnumerationLatency measures the answer time of sends to known and to unknown addresses
// with CreateUsers on and a Mosaic that takes 20 ms per call, for the link, email OTP and
// SMS, and logs the distributions (run with -v to read them; OTLOGIN_ENUM_SAMPLES sets the
// number of sends of each kind, default 15). It asserts the mechanism, not the clock: both
// kinds make the same Mosaic calls, one after the other.
func TestEnumerationLatency(t *testing.T) {
	t.Parallel()
	n := 15
	if v, err := strconv.Atoi(os.Getenv("OTLOGIN_ENUM_SAMPLES")); err == nil && v > 0 {
		n = v
	}
	for _, channel := range []string{"link", "email", "sms"} {
		t.Run(channel, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *Config) {
				c.CreateUsers = true
				c.Limits.SendsPerIP = Rate{N: -1}
				c.Limits.SendsPerIdentifier = Rate{N: -1}
				c.Limits.SMSPerIPPerHour = -1 // every send here comes from one client
			})
			known := "known@example.com"
			if channel == "sms" {
				known = "+14155550100"
				h.emu.CreateUser("", known)
			} else {
				h.emu.CreateUser(known, "")
			}
			h.emu.SetLatency(20 * time.Millisecond)
			var knownD, unknownD []time.Duration
			for i := range 2 * n {
				id := known
				if i%2 == 1 {
					id = fmt.Sprintf("new%04d@example.com", i)
					if channel == "sms" {
						id = fmt.Sprintf("+1415556%04d", i)
					}
				}
				c := h.newClient()
				start := time.Now()
				var r response
				if channel == "link" {
					r = h.postJSON(c, "/auth/link/email/send", map[string]string{"email": id})
				} else {
					r = h.postJSON(c, "/auth/otp/send", map[string]string{"channel": channel, "identifier": id})
				}
				d := time.Since(start)
				require.Equal(t, http.StatusAccepted, r.StatusCode, r.body)
				if i%2 == 1 {
					unknownD = append(unknownD, d)
				} else {
					knownD = append(knownD, d)
				}
			}
			t.Logf("%s send latency with a 20 ms Mosaic, CreateUsers on (%d each): known p50=%v p90=%v; unknown p50=%v p90=%v",
				channel, n, pct(knownD, 50), pct(knownD, 90), pct(unknownD, 50), pct(unknownD, 90))
			sends := h.emu.Calls(transmittest.EndpointSendOTP) + h.emu.Calls(transmittest.EndpointSendMagicLink)
			assert.Equal(t, 2*n, sends, "one send per request")
			assert.Equal(t, 2*n, h.emu.Calls(transmittest.EndpointCreateUser), "one createUser per request, known or not")
		})
	}
}

// pct returns the p-th percentile of ds (nearest rank), rounded to 0.1 ms.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)].Round(100 * time.Microsecond)
}
