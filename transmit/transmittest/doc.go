// Package transmittest is an in-process emulator of Transmit Security's Mosaic backend API:
// the client-credentials token endpoint (/oidc/token and /cis/oidc/token, plus the
// refresh_token grant), discovery and JWKS under /cis/oidc/, the four One-Time Login endpoints
// (magic link and OTP, send and authenticate), POST /cis/v1/users, backend session logout and
// token refresh.
//
// It keeps real state: users (unknown identifiers get the documented 404 until created),
// single-use expiring magic-link codes, OTPs with expiry, resend-replaces and lockout after
// Options.MaxFailures wrong tries (the failing try that reaches the limit and every try during
// Options.LockoutDuration get 403 auth_locked), backend sessions, rotating refresh tokens, and
// RS256 keys with rotation. Every "sent" email or SMS lands in an outbox ([Emulator.Outbox],
// [Emulator.LastLink], [Emulator.LastCode], [Emulator.OutboxHandler]); a development app that
// serves the outbox keeps it to its own machine with [LoopbackAddr] and [LoopbackOnly]. Knobs:
// [Emulator.SetLatency], [Emulator.Force] with a [Fault] for each documented error shape,
// [Emulator.RotateKey], [Emulator.Advance]/[Emulator.SetNow], [Emulator.Calls].
//
// Real-tenant modes, by [Options]: SigningAlgorithm "PS256" (FAPI tenants) or "ES256" (also the
// only algorithm discovery lists); AppIssuer (an application with its own signing keys: ID
// tokens carry its issuer and verify only with [Server.AppJWKSURL]); TenantID (the tid claim);
// IDTokenEncryptionKey (ID tokens encrypted as JWE to the application's registered key).
//
// Business endpoints need "Authorization: Bearer <client token from this emulator>", else
// 401 {"message":"Invalid token","error_code":401}. Requests that break the OpenAPI contract
// (invalid JSON, wrong types at any depth, missing required fields, unknown channel, device_id
// over 80 characters) or a limit the documents state in prose (a custom SMS text over 140
// characters or without {otp} and {app}, a sender id over 11, approval_data with more than 10
// keys, nested values or other characters in its keys) get the endpoint's documented 400
// shape. A magic-link redirect_uri must be allowed: Options.AllowedRedirectURIs exactly, else
// under one of Options.PublicURLs, else (the default) on a loopback host; any other gets the
// documented 400 "redirect_uri is not one of the allowed redirect URIs configured for this app".
//
// [Options.Observer] sees every exchange, including requests to paths the emulator does not
// serve; otlogin's own test suite attaches a strict OpenAPI contract checker there. Answers the
// documents do not describe are produced only on purpose and are marked [Exchange].ByDesign:
// forced faults, the 401 token rule, 401 invalid_client for wrong client credentials, and the
// 400 answers of refresh and logout (whose documents list no error at all).
//
// Decisions where the documents are silent: the magic-link send for channel direct behaves like
// email (the link is only in the outbox); generate_request_id is accepted but not enforced;
// new_user is true on a user's first successful authentication; an OTP authenticate with an
// unknown session_id gets 400 system_invalid_input "Session not found"; logout of an unknown
// session is 204. The first signing key's material is generated once per process and shared
// (each emulator has its own kid); [Emulator.RotateKey] always creates fresh material.
package transmittest
