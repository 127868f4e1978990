package otlogin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/otlogin/otlogin/internal/idtoken"
	"github.com/otlogin/otlogin/transmit"
)

// CheckError is the error of [Auth.Check]: the step that failed, what went wrong and what to
// change. Its text is "otlogin: <Cause>: <Fix>"; it holds no secret.
type CheckError struct {
	// Step is "client token", "discovery" or "signing keys".
	Step string
	// Cause says what went wrong, e.g. "Mosaic refused the client credentials (401
	// invalid_client)".
	Cause string
	// Fix says what to change, e.g. "check TRANSMIT_CLIENT_ID and TRANSMIT_CLIENT_SECRET".
	Fix string
	// Err is the underlying error (errors.Is and errors.As see it).
	Err error
}

// Error returns "otlogin: <Cause>: <Fix>".
func (e *CheckError) Error() string { return "otlogin: " + e.Cause + ": " + e.Fix }

// Unwrap returns Err.
func (e *CheckError) Unwrap() error { return e.Err }

// credentialChecker is implemented by *transmit.Client: Check uses it to request a client
// access token. A MosaicClient without it skips that step.
type credentialChecker interface {
	CheckCredentials(ctx context.Context) error
}

// Check tests the configuration against Mosaic with one call of each kind: a client access
// token (the client credentials), the discovery document (the BaseURL) and the JWKS (the
// ID-token signing keys, which are then cached for sign-ins). It returns nil, or a
// [*CheckError] naming the cause and the fix. Call it at start-up and print its error:
// without it a misconfiguration only shows as "temporarily unavailable" at the first
// sign-in. Check changes nothing at Mosaic and is safe to call again (say, from a readiness
// probe), though each call that finds no cached token or keys makes those requests.
func (a *Auth) Check(ctx context.Context) error {
	if cc, ok := a.client.(credentialChecker); ok {
		if err := cc.CheckCredentials(ctx); err != nil {
			return checkTokenError(err)
		}
	}
	d, err := a.client.Discover(ctx)
	if err != nil {
		return a.checkDiscoveryError(err)
	}
	if a.cfg.Issuer != "" && a.cfg.JWKSURL == "" && d.Issuer != a.cfg.Issuer {
		// Without JWKSURL the tokens come from the tenant's keys, whose issuer discovery
		// names: a different pinned Issuer refuses every sign-in.
		return &CheckError{Step: "discovery",
			Cause: fmt.Sprintf("Config.Issuer %q is not the issuer of Mosaic's discovery document %q, so every ID token would be refused", a.cfg.Issuer, d.Issuer),
			Fix:   "leave Config.Issuer empty (the discovery document's issuer is used), set it to the issuer of the region of BaseURL, or, for an application with its own signing keys, set Config.JWKSURL too"}
	}
	if _, err := idtoken.Algorithms(d.IDTokenSigningAlgs); err != nil {
		return &CheckError{Step: "discovery",
			Cause: fmt.Sprintf("Mosaic's discovery document lists no ID-token signing algorithm otlogin accepts (id_token_signing_alg_values_supported %q)", d.IDTokenSigningAlgs),
			Fix:   "otlogin accepts RS256, PS256 and ES256 (and their 384/512 variants), never HS* or none: choose one for the application in the Admin Portal",
			Err:   err}
	}
	if _, err := a.verifier.Ready(ctx); err != nil {
		return &CheckError{Step: "discovery", Cause: "Mosaic's discovery document cannot be used (" + err.Error() + ")",
			Fix: "check that BaseURL is Mosaic's API base, and Config.Issuer and Config.JWKSURL if set", Err: err}
	}
	url, err := a.verifier.RefreshKeys(ctx)
	if err != nil {
		fix := "the discovery document names this jwks_uri: check that this machine can reach it (DNS, proxy, firewall)"
		if a.cfg.JWKSURL != "" {
			fix = "check Config.JWKSURL (the JWKS of the application's own domain, from its settings in the Admin Portal) and that this machine can reach it"
		}
		return &CheckError{Step: "signing keys", Cause: "the ID-token signing keys could not be fetched from " + url + " (" + checkCause(err) + ")",
			Fix: fix, Err: err}
	}
	return nil
}

// checkTokenError names the cause of a failed client-token request.
func checkTokenError(err error) error {
	e := &CheckError{Step: "client token", Err: err}
	var ae *transmit.APIError
	if !errors.As(err, &ae) {
		e.Cause = "Mosaic's token endpoint could not be reached (" + checkCause(err) + ")"
		e.Fix = "check the host of transmit.Config.BaseURL (and TokenURL if set) and that this machine can reach it (DNS, proxy, firewall)"
		return e
	}
	status := checkStatus(ae)
	switch {
	case ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnauthorized:
		e.Cause = "Mosaic refused the client credentials (" + status + ")"
		e.Fix = "check TRANSMIT_CLIENT_ID and TRANSMIT_CLIENT_SECRET (transmit.Config.ClientID and ClientSecret: the application's client credentials in the Admin Portal, of the region of BaseURL)"
	case ae.Status == http.StatusForbidden:
		e.Cause = "Mosaic refused the client (" + status + ")"
		e.Fix = "check that the application's client may use the client-credentials grant, and TRANSMIT_CLIENT_ID"
	case ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed:
		e.Cause = "Mosaic's token endpoint was not found (" + status + ")"
		e.Fix = "check transmit.Config.BaseURL, e.g. https://api.transmitsecurity.io/cis, and TokenURL if set"
	case ae.Status == http.StatusTooManyRequests:
		e.Cause = "Mosaic rate-limited the token request (" + status + ")"
		e.Fix = "try again later"
	default:
		e.Cause = "Mosaic's token endpoint failed (" + status + ")"
		e.Fix = "Mosaic or a proxy in between is failing: try again later, and check BaseURL if it persists"
	}
	return e
}

// checkDiscoveryError names the cause of a failed discovery request.
func (a *Auth) checkDiscoveryError(err error) error {
	where := "{BaseURL}/oidc/.well-known/openid-configuration"
	if b, ok := a.client.(interface{ BaseURL() string }); ok {
		where = b.BaseURL() + "/oidc/.well-known/openid-configuration"
	}
	e := &CheckError{Step: "discovery", Err: err}
	var ae *transmit.APIError
	switch {
	case errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed):
		e.Cause = "Mosaic's discovery document was not found at " + where + " (" + checkStatus(ae) + ")"
		e.Fix = "transmit.Config.BaseURL must be Mosaic's API base ending in /cis, e.g. https://api.transmitsecurity.io/cis (EU: https://api.eu.transmitsecurity.io/cis)"
	case errors.As(err, &ae):
		e.Cause = "Mosaic's discovery request failed at " + where + " (" + checkStatus(ae) + ")"
		e.Fix = "check transmit.Config.BaseURL, e.g. https://api.transmitsecurity.io/cis; try again later if Mosaic is failing"
	case errors.Is(err, transmit.ErrInvalidResponse):
		e.Cause = "the answer at " + where + " is not an OpenID configuration"
		e.Fix = "transmit.Config.BaseURL must be Mosaic's API base ending in /cis, not a web page or a proxy's"
	default:
		e.Cause = "Mosaic's discovery document could not be fetched from " + where + " (" + checkCause(err) + ")"
		e.Fix = "check the host of transmit.Config.BaseURL and that this machine can reach it (DNS, proxy, firewall)"
	}
	return e
}

// checkStatus renders "401 invalid_client" or "404 Not Found".
func checkStatus(ae *transmit.APIError) string {
	s := strconv.Itoa(ae.Status)
	if ae.Code != "" && ae.Code != s {
		return s + " " + ae.Code
	}
	return s + " " + http.StatusText(ae.Status)
}

// checkCause is the underlying error's text (it holds no secret: transmit redacts them).
func checkCause(err error) string { return fmt.Sprint(err) }
