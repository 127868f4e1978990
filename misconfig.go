package otlogin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

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
// configuration can fix, with its cause (status, Mosaic's error code and message, never a
// credential) and the fix. It reports whether err was such an answer.
func (a *Auth) logMisconfiguration(ctx context.Context, err error) bool {
	fix := misconfiguration(err, a.callbackURL)
	if fix == "" {
		return false
	}
	l := a.logger()
	if l.Enabled(ctx, slog.LevelError) {
		var ae *transmit.APIError
		errors.As(err, &ae)
		l.LogAttrs(ctx, slog.LevelError, "otlogin: Mosaic configuration error",
			slog.String("event", "config"), slog.String("cause", ae.Error()), slog.String("fix", fix))
	}
	return true
}
