// Package otlogin adds passwordless one-time login (email magic links, email one-time
// passcodes and SMS one-time passcodes) to a net/http application, with Transmit Security's
// Mosaic as the identity provider.
//
// Quick start:
//
//	client, err := transmit.New(transmit.Config{
//		BaseURL:      transmit.SandboxBaseURL,
//		ClientID:     os.Getenv("TRANSMIT_CLIENT_ID"),
//		ClientSecret: os.Getenv("TRANSMIT_CLIENT_SECRET"),
//	})
//	if err != nil { log.Fatal(err) }
//	auth, err := otlogin.New(otlogin.Config{
//		Client:      client,
//		PublicURL:   "https://app.example.com", // the origin people open: no path
//		CreateUsers: true,                      // create users Mosaic does not know yet
//	})
//	if err != nil { log.Fatal(err) }
//	mux := http.NewServeMux()
//	mux.Handle("/auth/", auth.Handler())
//	mux.Handle("GET /dashboard", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		user, _ := otlogin.UserFromContext(r.Context())
//		fmt.Fprintf(w, "Hello %s", user.Email)
//	})))
//	log.Fatal(http.ListenAndServe(":8080", auth.Middleware(mux)))
//
// Without CreateUsers only users that already exist in the Mosaic app can sign in (others
// get the same answer as everyone, and nothing is sent). RequireAuth sends browser
// navigations to the sign-in page and answers fetch(), curl and other clients 401 JSON.
// A nil Config.Logger logs to slog.Default(); a Mosaic refusal of the configuration (client
// credentials, BaseURL) is logged at Error level with the fix.
//
// # gin, echo and the emulator
//
// Package github.com/otlogin/otlogin/adapters/gin (ginotl) and
// github.com/otlogin/otlogin/adapters/echo (echootl) wrap the same core for those routers:
// Middleware, Mount, RequireAuth and User. Package
// github.com/otlogin/otlogin/transmit/transmittest is an in-process Mosaic (tokens, links,
// codes and an outbox instead of email and SMS) for tests and for running without a Transmit
// account: go run ./examples/nethttp starts it when TRANSMIT_CLIENT_ID is unset, and
// go run ./cmd/mosaic-emulator serves it to other processes.
//
// # Routes
//
// [Auth.Handler] serves, under Config.Prefix (default "/auth"):
//
//	GET  /login                    sign-in page (email link, email code, SMS code); ?next=
//	POST /link/email/send          email, next          → "check your email" page | 202 {"status":"sent"}
//	GET  /link/email/callback      code, state (Mosaic) → 303 to next, or a page (see below)
//	POST /link/email/authenticate  code, state          → 303 to next | 200 user
//	POST /otp/send                 channel (email|sms), identifier, next → "enter the code" page | 202
//	POST /otp/authenticate         passcode (+ channel, identifier in JSON) → 303 to next | 200 user
//	POST /logout                   → 303 to / | 204
//	GET  /me                       → 200 user | 401
//
// Requests are forms or JSON; a JSON request, or one with Accept: application/json, gets
// JSON answers. Errors are {"error": "<code>", "message": "<text for a person>"} or the error
// page. The user JSON is {"subject","email","phone_number","method","amr","auth_time",
// "expires_at"}.
//
// # Security model
//
//   - Magic links are bound to the browser that asked for them: sending a link stores a
//     pending flow with a random state in that browser's session. The callback redeems the
//     code only when the flow's state matches; anyone else (another browser, a mail scanner,
//     a HEAD request) gets a page and spends nothing. With Config.AllowCrossDevice another
//     browser gets a confirm page, naming the address the link was sent to, whose button
//     POSTs the code instead.
//   - A code signs in only the address or number it was sent for: after Mosaic accepts it,
//     the ID token's email (or phone_number) must be the flow's identifier. Otherwise (an
//     intercepted code presented inside another flow) the new Mosaic session is ended, the
//     answer is the generic invalid-code one and the log says identity_mismatch.
//   - The passcode route uses the channel and identifier of this browser's pending flow; a
//     JSON body that names different ones is refused. Without a flow both authenticate routes
//     answer 400 without calling Mosaic. A new send replaces the flow; success or expiry ends it.
//     At most one authenticate per flow is with Mosaic at a time, on every instance.
//   - State-changing routes are POST-only and wrapped in [http.CrossOriginProtection], with
//     PublicURL's origin trusted. The magic-link redirect_uri is built from PublicURL only,
//     never from the Host header.
//   - next must be a same-origin path; anything else becomes "/". It is kept in the flow.
//   - Sessions use scs (in memory unless Config.SessionStore or Config.Sessions say
//     otherwise). The token is renewed at sign-in; sign-out destroys the session first, sends
//     Clear-Site-Data: "cookies", then revokes the Mosaic session in the background (bounded
//     by Config.Timeout; [Auth.Shutdown] waits for it). The cookie is HttpOnly,
//     SameSite=Lax, Path=/, and __Host- with Secure whenever PublicURL is https. Mosaic's
//     tokens never leave the server. otlogin enforces an idle timeout (30m) and an absolute
//     lifetime (12h) itself; activity is recorded at most once a minute, so most signed-in
//     requests write nothing to the store. A request that loaded a session before a logout
//     does not save it back: saves of loaded sessions are atomic "update only if it still
//     exists" writes ([UpdateStore]; a store without that ability is checked, then written,
//     and New logs that the window remains).
//   - ID tokens are verified once, at sign-in (issuer from discovery or Config.Issuer, an
//     asymmetric algorithm the discovery document lists, audience = client ID). Every Config.RevalidateEvery (15m) a session's tokens are
//     refreshed once with Mosaic, and the session ends when Mosaic refuses (user disabled or
//     deleted); Mosaic down signs nobody out. Otherwise requests use the session only: they keep working when
//     Mosaic is down, and [Auth.AccessToken] refreshes the access token when an API call
//     needs one (Mosaic's refresh tokens are single-use: concurrent refreshes of a session
//     share one call, and an instance that loses the race picks up the rotated tokens from
//     the store).
//   - Several instances can share one session store (package store): flows, sessions and
//     rate-limit counts live there. A save of a session never brings back a session that a
//     logout deleted, nor tokens that a refresh replaced.
//   - Rate limits run before Mosaic is called and answer 429 with Retry-After: sends per
//     identifier (5/15m) and per client IP (30/15m), passcode attempts per identifier (5/15m),
//     a global SMS budget (500/h) and an optional SMS country allow-list. The client IP is the
//     connection's unless Config.TrustedProxies lists the peer (then the forwarding header
//     named by Config.ClientIPHeader, with ports and bracketed IPv6 entries read as addresses).
//     A session store shared by several instances must bring a shared limiter (package
//     store's do), or Config.Limiter, or New refuses it unless Config.AllowLocalLimits is set.
//   - Sends answer the same for known and unknown users (the log keeps the difference); with
//     Config.CreateUsers every send asks Mosaic to create the user first, so known and unknown
//     users make the same calls, and a refused creation is answered like a send. Mosaic's
//     Retry-After reaches the user's answer. Every authenticate failure gives the
//     same message. Sends and authenticates are never retried, except once after a 401
//     (Mosaic rejected the client token before acting; see package transmit); when Mosaic
//     fails the answer is 503.
//   - If the session store fails, requests continue anonymous: RequireAuth answers 503 and
//     logins refuse before calling Mosaic, while public routes keep working.
//   - Auth answers carry a strict Content-Security-Policy (frame-ancestors 'none'),
//     X-Frame-Options, Referrer-Policy: no-referrer, Cache-Control: no-store and nosniff.
//   - Config.Logger gets one event per attempt with the method, the outcome and an HMAC of
//     the identifier; never a code, token, session ID, cookie, email address or phone number.
//     The HMAC key is Config.HashKey, which also keys the names of identifiers and client IPs
//     in rate-limit keys (so a shared store's keys cannot be reversed with a dictionary of
//     addresses, and every instance's logs agree); without it, limit keys are an unkeyed
//     SHA-256 and log hashes use a random key per process.
//
// Email and SMS login prove control of a mailbox or phone number, nothing more: they are a
// single factor (ASVS level 2 at most; NIST does not accept email as an out-of-band
// authenticator). Prefer email over SMS where SMS pumping or SIM swaps are a concern.
//
// The default session store keeps sessions in process memory and drops expired ones during
// writes (New starts no goroutine). Use package store for Redis or PostgreSQL, which several
// instances of an app can share.
package otlogin
