package transmittest

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// Message kinds.
const (
	KindLink = "link" // a magic link
	KindOTP  = "otp"  // a one-time passcode
)

// Message is one email or SMS the emulator "sent" (or, for channel direct, handed out).
type Message struct {
	Channel    string    `json:"channel"`    // "email", "sms" or "direct"
	To         string    `json:"to"`         // destination address or number
	Identifier string    `json:"identifier"` // the identifier of the send request
	Kind       string    `json:"kind"`       // KindLink or KindOTP
	Link       string    `json:"link,omitempty"`
	Code       string    `json:"code"` // passcode, or the magic-link code
	Time       time.Time `json:"time"`
}

// recordLocked appends m to the outbox and logs it. The outbox keeps the newest
// Options.OutboxPerAddress messages of each destination and the newest Options.OutboxSize
// in all, so a long-running emulator (or a flood against it) does not grow without bound.
// e.mu must be held.
func (e *Emulator) recordLocked(m Message) {
	if e.outboxCount == nil {
		e.outboxCount = map[string]int{}
	}
	to := strings.ToLower(m.To)
	if e.outboxCount[to] >= e.opts.OutboxPerAddress {
		for i, old := range e.outbox {
			if strings.ToLower(old.To) == to {
				e.outbox = append(e.outbox[:i], e.outbox[i+1:]...)
				e.outboxCount[to]--
				break
			}
		}
	}
	for len(e.outbox) >= e.opts.OutboxSize {
		old := strings.ToLower(e.outbox[0].To)
		if e.outboxCount[old]--; e.outboxCount[old] <= 0 {
			delete(e.outboxCount, old)
		}
		// Copy rather than reslice, so the array does not keep the dropped messages.
		e.outbox = append(e.outbox[:0:0], e.outbox[1:]...)
	}
	e.outbox = append(e.outbox, m)
	e.outboxCount[to]++
	if e.opts.Logger != nil {
		if m.Kind == KindLink {
			e.opts.Logger.Info("transmittest: magic link sent", "channel", m.Channel, "to", m.To, "link", m.Link)
		} else {
			e.opts.Logger.Info("transmittest: passcode sent", "channel", m.Channel, "to", m.To, "code", m.Code)
		}
	}
}

// Outbox returns the messages sent so far, oldest first: the newest Options.OutboxSize, and
// of those the newest Options.OutboxPerAddress per destination.
func (e *Emulator) Outbox() []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Message(nil), e.outbox...)
}

// LastLink returns the newest magic link sent to email (case-insensitive).
func (e *Emulator) LastLink(email string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.outbox) - 1; i >= 0; i-- {
		m := e.outbox[i]
		if m.Kind == KindLink && (strings.EqualFold(m.To, email) || strings.EqualFold(m.Identifier, email)) {
			return m.Link, true
		}
	}
	return "", false
}

// LastCode returns the newest passcode sent to identifier (the address or number it went to,
// or the identifier of the send request).
func (e *Emulator) LastCode(identifier string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.outbox) - 1; i >= 0; i-- {
		m := e.outbox[i]
		if m.Kind == KindOTP && (strings.EqualFold(m.To, identifier) || strings.EqualFold(m.Identifier, identifier)) {
			return m.Code, true
		}
	}
	return "", false
}

const outboxHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mosaic emulator outbox</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}code{font-size:1.2em}</style>
</head><body><h1>Outbox</h1>
{{if .}}<table><thead><tr><th>Time</th><th>Channel</th><th>To</th><th>What</th></tr></thead><tbody>
{{range .}}<tr><td>{{.Time.Format "15:04:05"}}</td><td>{{.Channel}}</td><td>{{.To}}</td><td>{{if .Link}}<a href="{{.Link}}">sign-in link</a>{{else}}code <code>{{.Code}}</code>{{end}}</td></tr>
{{end}}</tbody></table>{{else}}<p>Nothing sent yet.</p>{{end}}
</body></html>
`

// OutboxHandler serves the outbox, newest first: an HTML page with clickable links and
// visible codes, or JSON when the path ends in ".json". It shows every code, so mount it at a
// development-only path behind [LoopbackOnly], as the example apps do at /dev/outbox and
// /dev/outbox.json (cmd/mosaic-emulator serves it at /outbox and /outbox.json behind the
// same loopback Host check).
func (e *Emulator) OutboxHandler() http.Handler {
	page := template.Must(template.New("outbox").Parse(outboxHTML)) // constant text: cannot fail
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msgs := e.Outbox()
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if strings.HasSuffix(r.URL.Path, ".json") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			if msgs == nil {
				msgs = []Message{}
			}
			_ = json.NewEncoder(w).Encode(msgs)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		_ = page.Execute(w, msgs)
	})
}
