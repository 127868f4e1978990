// Package transmit is a client for Transmit Security's Mosaic backend One-Time Login API:
// email magic links, email and SMS one-time passcodes, backend session logout and token
// refresh, user creation, and the OIDC discovery document needed to verify the returned
// tokens. It knows nothing of the otlogin middleware built on it.
//
// # Client access token
//
// Every business call carries "Authorization: Bearer <client access token>". The token is
// obtained with the OAuth 2.0 client-credentials grant (golang.org/x/oauth2/clientcredentials)
// from /oidc/token at the root of BaseURL's host, where Mosaic serves it
// (https://api.transmitsecurity.io/oidc/token for [USBaseURL]; the business APIs live under
// /cis), with client_id and client_secret in the form body (oauth2.AuthStyleInParams,
// never HTTP Basic); set [Config].TokenURL to use another endpoint. Mosaic's OAuth errors
// ({"error": "invalid_client", "error_description": ...}) become an [*APIError] like any other.
//
// The token is cached until [Config].TokenExpiryDelta (60s) before its expires_in, measured
// on [Config].Now. However many calls wait for a token, exactly one request is made; each
// waiting call gives up when its own context ends without failing the others.
//
// # Deadlines and retries
//
// Each method runs under [Config].Timeout (10s) even when the caller's context has no
// deadline; the deadline covers the token fetch, the request and the single retry below.
//
// Sends and authenticates are not idempotent (a repeat can send a second email or SMS or burn
// a one-time code), so no business call is retried automatically, with one exception: a 401
// answer to a business call means Mosaic rejected the client token before acting, so the
// cached token is dropped, a new one fetched, and the call repeated once. A second 401 is
// returned as [ErrUnauthorized]. Timeouts, connection errors, 5xx and 429 answers to business
// calls are returned to the caller as they are.
//
// The client-token request is the one call retried, because it has no user-visible side
// effect: when it fails as unavailable (a 5xx answer, a connection error or a timeout) it is
// repeated at most twice, after 100ms and then 200ms (capped exponential back-off). The
// retries stay within [Config].Timeout: a back-off that would end after the fetch's deadline
// is not started, and the last error is returned. Each caller still stops waiting when its
// own context ends. Bad client credentials (400 or 401 from the token endpoint), 429 and
// unusable answers fail at once.
//
// # Errors
//
// Errors from Mosaic are [*APIError] values: HTTP status, error_code (Mosaic sends it as a
// number, a numeric string or a symbolic string; it is always kept as a string), message (a
// string, or an array joined with "; "; capped at 200 bytes), and Retry-After. Bodies that are
// empty or not JSON (an HTML page from a proxy) give an APIError with only the status. No error
// string ever contains the client secret, a token, a code, a passcode or a raw body.
//
// errors.Is maps answers to sentinels, first match wins. The status and error_code decide; the
// magic-link endpoints send only the status as error_code with an English message, so for them
// the words of the message (not the whole sentence) separate the answers that share a status,
// and a reworded message keeps its meaning:
//
//	429                                               ErrRateLimited (RetryAfter from seconds or an HTTP date)
//	5xx, 408                                          ErrUnavailable
//	token endpoint 400, 401, other 4xx                ErrUnauthorized (bad client credentials)
//	401                                               ErrUnauthorized (after the one retry)
//	409                                               ErrUserExists (createUser: identifier taken)
//	error_code auth_otp_passcode_expired              ErrExpired
//	error_code auth_locked (403)                      ErrLocked
//	error_code auth_invalid_credentials               ErrInvalidCode
//	error_code user_not_found, user_email_address_missing,
//	  user_phone_number_missing                       ErrUserNotFound
//	error_code user_not_active                        ErrUserNotActive
//	error_code system_invalid_input                   ErrInvalidRequest
//	magic-link send, error_code naming the redirect
//	  URI, or numeric error_code and 400/403 saying
//	  the redirect_uri is not allowed/registered      ErrRedirectURINotAllowed
//	magic-link send, numeric error_code:
//	  403 naming sign-up ("Public signup is not
//	  allowed for this application")                  ErrUserNotFound
//	  403 naming an inactive/disabled user            ErrUserNotActive
//	  any other 403                                   ErrUserNotFound
//	  404 naming the app, client or tenant            no sentinel (a configuration error)
//	  404 naming the user ("User not found")          ErrUserNotFound
//	  any other 404 ("Not found": no such path)       no sentinel (a configuration error)
//	magic-link authenticate, numeric error_code:
//	  400 naming the session ("Session not found")    ErrInvalidRequest
//	  400 naming the user ("User not found")          ErrUserNotFound
//	  any other 400 ("Invalid magic link code")       ErrInvalidCode
//	other calls: message "User is not active" (403)   ErrUserNotActive
//	  message "User not found" (404 or 400)           ErrUserNotFound
//	any other 400                                     ErrInvalidRequest
//	other answers (e.g. 403
//	  auth_login_preferences_missing)                 no sentinel; inspect the APIError
//
// Timeouts, connection failures and unreadable answers wrap [ErrUnavailable] together with
// the underlying net or context error. A success answer that lacks a required field
// (access_token, token_type, expires_in, and session_id for authenticate; user_id for
// createUser; issuer and an absolute https jwks_uri, http only on loopback, for discovery) or
// is not JSON wraps [ErrInvalidResponse] and [ErrUnavailable]: the client fails closed.
// Requests that Mosaic's API would refuse (a required field empty, channel not
// email/sms/direct, device_id over 80 characters, ...) are refused before any HTTP call with
// an error wrapping [ErrInvalidRequest].
//
// At most 1 MiB of any answer is read. Redirects are not followed.
package transmit
