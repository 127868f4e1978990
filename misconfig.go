package otlogin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/otlogin/otlogin/transmit"
)

// misconfiguration returns what to fix when err says that Mosaic refused the app's own
// configuration rather than the user's input: the client credentials were refused (401, or
// any refusal from the token endpoint), or a path does not exist (404, BaseURL or TokenURL
// wrong) or is forbidden to this client (403). It returns "" for every other error,
// including the 403 and 404 answers that are about a user (not found, not active).
// callback is the magic link's redirect URI (PublicURL + Prefix + "/link/email/callback"),
// named when Mosaic refused it.
func misconfiguration(err error, callback string) string {
	var ae *transmit.APIError
	if !errors.As(err, &ae) {
		return ""
	}
	aboutUser := errors.Is(err, transmit.ErrUserNotFound) || errors.Is(err, transmit.ErrUserNotActive)
	switch {
	case errors.Is(err, transmit.ErrRedirectURINotAllowed):
		return "Mosaic refused the magic link's redirect URI: register " + callback +
			" as a Redirect URI of the application in the Admin Portal (it is Config.PublicURL + Prefix + " +
			"/link/email/callback; check PublicURL if that is not the address users open)"
	case ae.Status == http.StatusNotFound && !aboutUser:
		return "Mosaic has no such path: check transmit.Config.BaseURL (TRANSMIT_BASE_URL; it ends in /cis, " +
			"e.g. https://api.transmitsecurity.io/cis) and TokenURL"
	case errors.Is(err, transmit.ErrUnauthorized):
		return "Mosaic refused the client credentials: check transmit.Config.ClientID and ClientSecret " +
			"(TRANSMIT_CLIENT_ID, TRANSMIT_CLIENT_SECRET) and that BaseURL is the region of that app"
	case ae.Status == http.StatusForbidden && !aboutUser:
		return "Mosaic refused this client (403): check that the app's client may call the One-Time Login API " +
			"and the redirect URI (PublicURL + Prefix + /link/email/callback) is allowed in the Mosaic portal"
	}
	return ""
}

// logMisconfiguration logs, at Error level, an upstream answer that only a change of
// configuration can fix: its cause (the status and Mosaic's error code; Mosaic's message only
// for a refused redirect URI, as other messages could echo what was sent) and the fix.
func (a *Auth) logMisconfiguration(ctx context.Context, err error) {
	fix := misconfiguration(err, a.callbackURL)
	if fix == "" {
		return
	}
	var ae *transmit.APIError
	errors.As(err, &ae)
	cause := checkStatus(ae)
	if errors.Is(err, transmit.ErrRedirectURINotAllowed) {
		cause += ": " + ae.Message // names our own redirect URI, nothing the user sent
	}
	a.logConfigEvent(ctx, cause, fix)
}

// logConfigEvent logs an Error-level config event: what is wrong and how to fix it.
func (a *Auth) logConfigEvent(ctx context.Context, cause, fix string) {
	a.logger().LogAttrs(ctx, slog.LevelError, "otlogin: Mosaic configuration error",
		slog.String("event", "config"), slog.String("cause", cause), slog.String("fix", fix))
}

// idTokenMisconfigured is called when an ID token from Mosaic's authenticate answer was
// refused. It reports (and logs at Error, as a config event) whether the refusal is the
// app's configuration: the token's signature verifies with the tenant's keys, yet its iss,
// aud or tid is not what the configuration expects (Config.Issuer, the client id,
// Config.TenantID). Such a token is Mosaic's, so a wrong code it is not, and every sign-in
// fails alike. The event names the claim, the token's value and the configured one: issuer
// URLs, client and tenant ids, no other token content.
func (a *Auth) idTokenMisconfigured(ctx context.Context, rawIDToken string) bool {
	payload, err := a.verifier.Payload(ctx, rawIDToken)
	if err != nil {
		return false
	}
	var c struct {
		Issuer   string          `json:"iss"`
		Audience json.RawMessage `json:"aud"`
		TenantID string          `json:"tid"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return false
	}
	var aud []string
	if json.Unmarshal(c.Audience, &aud) != nil {
		var one string
		if json.Unmarshal(c.Audience, &one) != nil {
			return false
		}
		aud = []string{one}
	}
	vc := a.verifier.Config()
	expIssuer, issuerFrom := vc.Issuer, "Config.Issuer"
	if expIssuer == "" {
		if d, err := a.client.Discover(ctx); err == nil {
			expIssuer, issuerFrom = d.Issuer, "the issuer of Mosaic's discovery document"
		}
	}
	var cause, fix string
	switch {
	case expIssuer != "" && c.Issuer != expIssuer:
		cause = "Mosaic's ID tokens have iss " + quote(c.Issuer) + " but " + issuerFrom + " is " + quote(expIssuer)
		fix = "set Config.Issuer to the issuer of the tokens (the region's https://userid.security, https://eu.userid.security, ..., " +
			"or the application's own domain with Config.JWKSURL), or leave it empty to use the discovery document's"
	case !slices.Contains(aud, vc.ClientID):
		cause = "Mosaic's ID tokens have aud " + quote(strings.Join(aud, ",")) + " but the client id is " + quote(vc.ClientID)
		fix = "check transmit.Config.ClientID (TRANSMIT_CLIENT_ID): it must be the client id of the application whose users sign in"
	case vc.TenantID != "" && c.TenantID != vc.TenantID:
		cause = "Mosaic's ID tokens have tid " + quote(c.TenantID) + " but Config.TenantID is " + quote(vc.TenantID)
		fix = "set Config.TenantID to the tenant id shown in the Admin Portal, or leave it empty"
	default:
		return false
	}
	a.logConfigEvent(ctx, cause, fix)
	return true
}

// quote renders s in double quotes for a log message.
func quote(s string) string { return strconv.Quote(s) }
