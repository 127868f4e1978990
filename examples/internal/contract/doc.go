// Package contract checks HTTP exchanges against Transmit's (Mosaic's) published OpenAPI
// documents, so that every test that talks to the emulator also proves the wire format.
//
// The documents are not part of this repository. They are read from the directory named by
// $OTLOGIN_SPEC_DIR; when that is unset, [SpecDir] looks for a shared/spec folder beside each
// folder holding a go.mod, walking up from the working directory (the layout .ci/run uses).
// [Attach] puts a checker on an emulator's Options.Observer for one test. [Load] parses a
// directory; [Shared] parses the
// directory [SpecDir] finds once per process and caches the result (the only package-level
// state, a sync.OnceValues, so parsing 180 KB of YAML/JSON is not repeated for every test
// server; the parsed documents are read-only afterwards).
//
// A [Checker] validates requests and responses and keeps counters. Operations are found by
// method and path without kin-openapi's server matching: the emulator's URL is a random
// 127.0.0.1 port, the documents' servers are Transmit hosts, and every document's server path
// ends in /cis (except the token document, served at /oidc/token). Three documented quirks get
// special handling:
//
//   - The token request bodies are a oneOf whose branches all match a plain client-credentials
//     request, and the 200 bodies are a oneOf whose branches overlap the same way. The checker
//     picks the branch named by grant_type and validates against it alone.
//   - createUser marks no field required, but its text requires email or phone_number; the
//     checker enforces that.
//   - createUser's 409 carries ts_error_code, which Mosaic sends but IdentifierIsTakenHttpError
//     does not declare; strict mode accepts that one property there.
//
// The checker is strict by default ([Lenient] turns it off): a property its schema does not
// declare is a violation unless the schema allows additionalProperties or declares no
// properties at all, an undeclared query parameter is a violation, and an operation whose
// security names a scheme must receive "Authorization: Bearer <token>". A body the documents
// give no schema for is counted in [Stats.Unvalidated], never as validated; a path and method
// no document describes is counted in [Stats.Unmatched].
//
// Responses whose status the documents do not list (401, 429, 5xx, and errors of operations
// that document none) are violations unless the caller marks them "out of spec by design";
// the emulator does so only for forced faults, the missing/invalid token rule, and the few
// error answers it must give on operations whose documents list no error at all.
package contract
