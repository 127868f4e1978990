package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Exchange is one request and the response it received, as seen by the server.
type Exchange struct {
	// Request supplies the method, URL path and headers; its body is not read.
	Request *http.Request
	// RequestBody is the raw request body.
	RequestBody []byte
	// Status, Header and Body describe the response.
	Status int
	Header http.Header
	Body   []byte
	// ByDesign marks a response the server deliberately produced outside the documents (a
	// forced fault, the 401 invalid-token rule). If it fails validation it is counted in
	// [Stats.OutOfSpecByDesign] instead of [Stats.Violations].
	ByDesign bool
}

// Stats counts what a [Checker] has seen. Requests and Responses count only what was
// validated against a schema, so they differ whenever one side of an exchange could not be.
type Stats struct {
	Requests          int // requests validated (body schema, parameters, Authorization)
	Responses         int // responses validated (documented status, body schema)
	Unvalidated       int // request or response bodies the documents give no schema for (e.g. magic-link errors, discovery): counted, not validated
	Violations        int // requests or responses that broke the contract
	OutOfSpecByDesign int // responses outside the documents, marked ByDesign
	Unmatched         int // exchanges on a path and method no document describes (not validated)
}

// Checker validates exchanges against a [Spec] and keeps counters. It is safe for concurrent
// use.
//
// By default it is strict: beyond what kin-openapi checks, an object property that its schema
// does not declare is a violation unless the schema allows additionalProperties (an object
// schema that declares no properties at all, such as approval_data, is free-form), a query
// parameter the operation does not declare is a violation, and an operation whose security
// requires a bearer token must receive "Authorization: Bearer <token>".
type Checker struct {
	spec   *Spec
	strict bool

	mu         sync.Mutex
	stats      Stats
	violations []string
}

// Option configures a [Checker].
type Option func(*Checker)

// Lenient turns strict mode off: unknown properties and query parameters pass, as they do in
// kin-openapi. The Authorization check stays.
func Lenient() Option { return func(c *Checker) { c.strict = false } }

// NewChecker returns a strict Checker for spec.
func NewChecker(spec *Spec, opts ...Option) *Checker {
	c := &Checker{spec: spec, strict: true}
	for _, o := range opts {
		o(c)
	}
	return c
}

// maxErrLen caps the length of one recorded violation message.
const maxErrLen = 600

// Check validates one exchange, updates the counters and returns the violations it found
// (nil when the exchange conforms or was not validated).
func (c *Checker) Check(ctx context.Context, ex Exchange) []string {
	rt, params, ok := c.spec.Find(ex.Request.Method, ex.Request.URL.Path)
	if !ok {
		c.mu.Lock()
		c.stats.Unmatched++
		c.mu.Unlock()
		return nil
	}
	op := rt.Operation.OperationID
	reqValidated, reqErr := c.checkRequest(ctx, rt, params, ex)
	respValidated, respErr := c.checkResponse(ctx, rt, params, ex)

	var found []string
	if reqErr != nil {
		found = append(found, describe(ex, op, "request", reqErr))
	}
	byDesign := false
	if respErr != nil {
		if ex.ByDesign {
			byDesign = true
		} else {
			found = append(found, describe(ex, op, "response", respErr))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, validated := range []bool{reqValidated, respValidated} {
		if !validated {
			c.stats.Unvalidated++
		}
	}
	if reqValidated {
		c.stats.Requests++
	}
	if respValidated {
		c.stats.Responses++
	}
	if byDesign {
		c.stats.OutOfSpecByDesign++
	}
	c.stats.Violations += len(found)
	c.violations = append(c.violations, found...)
	return found
}

func describe(ex Exchange, op, what string, err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if len(msg) > maxErrLen {
		msg = msg[:maxErrLen] + "…"
	}
	return fmt.Sprintf("%s %s (%s) status %d: %s: %s", ex.Request.Method, ex.Request.URL.Path, op, ex.Status, what, msg)
}

// Stats returns a copy of the counters.
func (c *Checker) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Violations returns the recorded violation messages, oldest first.
func (c *Checker) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// ReportLine formats the counters as the line CI sums: "contract NAME requests=N
// responses=M unvalidated=X violations=V by_design=K unmatched=U".
func (c *Checker) ReportLine(name string) string {
	s := c.Stats()
	name = strings.Join(strings.Fields(name), "_")
	return fmt.Sprintf("contract %s requests=%d responses=%d unvalidated=%d violations=%d by_design=%d unmatched=%d",
		name, s.Requests, s.Responses, s.Unvalidated, s.Violations, s.OutOfSpecByDesign, s.Unmatched)
}

// AppendReport appends [Checker.ReportLine] and a newline to the file at path, creating it.
func (c *Checker) AppendReport(path, name string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("contract: open report: %w", err)
	}
	_, werr := f.WriteString(c.ReportLine(name) + "\n")
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("contract: write report: %w", err)
	}
	return nil
}

func (c *Checker) options() *openapi3filter.Options {
	o := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
	}
	// Reasons only: never echo the (possibly secret) value that failed.
	o.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string {
		return "/" + strings.Join(err.JSONPointer(), "/") + ": " + err.Reason
	})
	return o
}

func isTokenOp(rt *routers.Route) bool {
	id := rt.Operation.OperationID
	return id == "getAccessToken" || id == "oidcToken"
}

func (c *Checker) input(rt *routers.Route, params map[string]string, ex Exchange) *openapi3filter.RequestValidationInput {
	req := ex.Request.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(ex.RequestBody))
	req.ContentLength = int64(len(ex.RequestBody))
	return &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: rt, Options: c.options()}
}

// checkRequest validates the request and reports whether it could be validated (false: it
// carries a body the operation gives no schema for).
func (c *Checker) checkRequest(ctx context.Context, rt *routers.Route, params map[string]string, ex Exchange) (validated bool, _ error) {
	authErr := checkBearer(rt, ex.Request)
	var queryErr error
	if c.strict {
		queryErr = unknownQuery(rt, ex.Request)
	}
	if isTokenOp(rt) {
		schema, err := c.checkTokenRequest(ex)
		if err == nil && schema != nil && c.strict {
			form, _ := url.ParseQuery(string(ex.RequestBody))
			value := map[string]any{}
			for k := range form {
				value[k] = form.Get(k)
			}
			err = strictUnknown(value, []*openapi3.Schema{schema}, "")
		}
		return true, errors.Join(authErr, queryErr, err)
	}
	validated = true
	schema := requestSchema(rt)
	if len(bytes.TrimSpace(ex.RequestBody)) > 0 && schema == nil {
		validated = false
	}
	err := openapi3filter.ValidateRequest(ctx, c.input(rt, params, ex))
	if err == nil && schema != nil && c.strict {
		var body any
		if json.Unmarshal(ex.RequestBody, &body) == nil {
			err = strictUnknown(body, []*openapi3.Schema{schema}, "")
		}
	}
	if err == nil && rt.Operation.OperationID == "createUser" {
		var body map[string]any
		if jerr := json.Unmarshal(ex.RequestBody, &body); jerr != nil {
			err = fmt.Errorf("body is not a JSON object: %w", jerr)
		} else if !nonEmptyString(body["email"]) && !nonEmptyString(body["phone_number"]) {
			err = errors.New("createUser needs email or phone_number")
		}
	}
	return validated, errors.Join(authErr, queryErr, err)
}

// checkBearer enforces the operation's security: when every alternative it lists names a
// scheme (none is the empty, anonymous alternative), the request must carry
// "Authorization: Bearer <token>". Mosaic's documents use only bearer schemes here.
func checkBearer(rt *routers.Route, r *http.Request) error {
	sec := rt.Operation.Security
	if sec == nil {
		sec = &rt.Spec.Security
	}
	if sec == nil || len(*sec) == 0 {
		return nil
	}
	for _, req := range *sec {
		if len(req) == 0 {
			return nil // an anonymous alternative
		}
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("security: Authorization: Bearer <token> required and missing")
	}
	return nil
}

// unknownQuery reports query parameters the operation (or its path) does not declare.
func unknownQuery(rt *routers.Route, r *http.Request) error {
	declared := map[string]bool{}
	for _, list := range []openapi3.Parameters{rt.PathItem.Parameters, rt.Operation.Parameters} {
		for _, p := range list {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
				declared[p.Value.Name] = true
			}
		}
	}
	var unknown []string
	for k := range r.URL.Query() {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("undocumented query parameter(s): %s", strings.Join(unknown, ", "))
}

// requestSchema is the operation's JSON request body schema, or nil.
func requestSchema(rt *routers.Route) *openapi3.Schema {
	rb := rt.Operation.RequestBody
	if rb == nil || rb.Value == nil {
		return nil
	}
	mt := rb.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	return mt.Schema.Value
}

// responseSchema is the JSON schema documented for status, and whether the status is
// documented at all.
func responseSchema(rt *routers.Route, status int, contentType string) (*openapi3.Schema, bool) {
	if rt.Operation.Responses == nil {
		return nil, false
	}
	ref := rt.Operation.Responses.Status(status)
	if ref == nil {
		ref = rt.Operation.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return nil, false
	}
	mt := ref.Value.Content.Get(contentType)
	if mt == nil || mt.Schema == nil {
		return nil, true
	}
	return mt.Schema.Value, true
}

// strictUnknown walks v and reports, by JSON pointer, every object property that none of the
// schemas (with their allOf/anyOf/oneOf branches) declares, unless one of them allows
// additionalProperties or declares no properties at all (a free-form object).
func strictUnknown(v any, schemas []*openapi3.Schema, at string) error {
	flat := flatten(schemas)
	if len(flat) == 0 {
		return nil
	}
	switch val := v.(type) {
	case map[string]any:
		free := true
		for _, s := range flat {
			if len(s.Properties) > 0 {
				free = false
			}
		}
		var errs []error
		keys := make([]string, 0, len(val))
		for k := range val {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var sub []*openapi3.Schema
			open := free
			for _, s := range flat {
				if p := s.Properties[k]; p != nil && p.Value != nil {
					sub = append(sub, p.Value)
				}
				ap := s.AdditionalProperties
				if (ap.Has != nil && *ap.Has) || ap.Schema != nil {
					open = true
					if ap.Schema != nil && ap.Schema.Value != nil {
						sub = append(sub, ap.Schema.Value)
					}
				}
			}
			if len(sub) == 0 && !open {
				errs = append(errs, fmt.Errorf("%s/%s: property not in the schema (strict mode)", at, k))
				continue
			}
			if err := strictUnknown(val[k], sub, at+"/"+k); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	case []any:
		var items []*openapi3.Schema
		for _, s := range flat {
			if s.Items != nil && s.Items.Value != nil {
				items = append(items, s.Items.Value)
			}
		}
		var errs []error
		for i, item := range val {
			if err := strictUnknown(item, items, fmt.Sprintf("%s/%d", at, i)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return nil
}

// flatten lists schemas and, recursively, their allOf/anyOf/oneOf branches.
func flatten(schemas []*openapi3.Schema) []*openapi3.Schema {
	var out []*openapi3.Schema
	var walk func(s *openapi3.Schema, depth int)
	walk = func(s *openapi3.Schema, depth int) {
		if s == nil || depth > 16 {
			return
		}
		out = append(out, s)
		for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, r := range group {
				if r != nil {
					walk(r.Value, depth+1)
				}
			}
		}
	}
	for _, s := range schemas {
		walk(s, 0)
	}
	return out
}

func nonEmptyString(v any) bool {
	s, ok := v.(string)
	return ok && s != ""
}

// grantSchemas names the oidc.openapi.json request and 200-response schemas per grant type.
func grantSchemas(grant string) (req, resp string, ok bool) {
	switch grant {
	case "client_credentials":
		return "ClientCredsRequest", "ClientCredsResponse", true
	case "refresh_token":
		return "RefreshTokenRequest", "TokenResponse", true
	}
	return "", "", false
}

// checkTokenRequest validates the form against the grant's schema, which it returns.
func (c *Checker) checkTokenRequest(ex Exchange) (*openapi3.Schema, error) {
	mt, _, err := mime.ParseMediaType(ex.Request.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("content type %q is not application/x-www-form-urlencoded", ex.Request.Header.Get("Content-Type"))
	}
	form, err := url.ParseQuery(string(ex.RequestBody))
	if err != nil {
		return nil, fmt.Errorf("form body: %w", err)
	}
	name, _, ok := grantSchemas(form.Get("grant_type"))
	if !ok {
		return nil, fmt.Errorf("grant_type %q is not client_credentials or refresh_token", form.Get("grant_type"))
	}
	schema := c.spec.schema("oidc.openapi.json", name)
	if schema == nil {
		return nil, fmt.Errorf("schema %s missing from oidc.openapi.json", name)
	}
	value := map[string]any{}
	for k, vs := range form {
		if len(vs) != 1 {
			return nil, fmt.Errorf("form field %q repeated", k)
		}
		value[k] = vs[0]
	}
	return schema, schema.VisitJSON(value, openapi3.VisitAsRequest(), openapi3.DisableSchemaErrorDetails())
}

// undeclaredExtras lists response properties Mosaic sends that the operation's schema does not
// declare, per operation and status: strict mode accepts these at the top level of the body and
// nothing else.
var undeclaredExtras = map[string]map[int][]string{
	// Mosaic answers {"message", "error_code", "ts_error_code"} for a taken identifier;
	// IdentifierIsTakenHttpError declares only the first two.
	"createUser": {http.StatusConflict: {"ts_error_code"}},
}

// withoutExtras returns body without the undeclared extras of op and status.
func withoutExtras(op string, status int, body any) any {
	extras := undeclaredExtras[op][status]
	m, ok := body.(map[string]any)
	if !ok || len(extras) == 0 {
		return body
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range extras {
		delete(out, k)
	}
	return out
}

// checkResponse validates the response and reports whether it could be validated (false: a
// documented status whose body has no schema).
func (c *Checker) checkResponse(ctx context.Context, rt *routers.Route, params map[string]string, ex Exchange) (validated bool, _ error) {
	if isTokenOp(rt) && ex.Status == http.StatusOK {
		form, _ := url.ParseQuery(string(ex.RequestBody))
		_, name, ok := grantSchemas(form.Get("grant_type"))
		if !ok {
			return true, errors.New("200 answer to an unsupported grant_type")
		}
		schema := c.spec.schema("oidc.openapi.json", name)
		err := c.visitJSONBody(ex, schema)
		if err == nil && c.strict {
			var v any
			_ = json.Unmarshal(ex.Body, &v)
			err = strictUnknown(v, []*openapi3.Schema{schema}, "")
		}
		return true, err
	}
	ct, _, _ := mime.ParseMediaType(ex.Header.Get("Content-Type"))
	schema, documented := responseSchema(rt, ex.Status, ct)
	validated = true
	if documented && schema == nil && len(bytes.TrimSpace(ex.Body)) > 0 {
		validated = false
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: c.input(rt, params, ex),
		Status:                 ex.Status,
		Header:                 ex.Header,
		Options:                c.options(),
	}
	in.SetBodyBytes(ex.Body)
	err := openapi3filter.ValidateResponse(ctx, in)
	if err == nil && schema != nil && c.strict {
		var v any
		if json.Unmarshal(ex.Body, &v) == nil {
			err = strictUnknown(withoutExtras(rt.Operation.OperationID, ex.Status, v), []*openapi3.Schema{schema}, "")
		}
	}
	return validated, err
}

func (c *Checker) visitJSONBody(ex Exchange, schema *openapi3.Schema) error {
	if schema == nil {
		return errors.New("response schema missing")
	}
	mt, _, err := mime.ParseMediaType(ex.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fmt.Errorf("response content type %q is not application/json", ex.Header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal(ex.Body, &v); err != nil {
		return fmt.Errorf("response body is not JSON: %w", err)
	}
	return schema.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.DisableSchemaErrorDetails())
}
