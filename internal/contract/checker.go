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

// Stats counts what a [Checker] has seen.
type Stats struct {
	Requests          int // requests validated
	Responses         int // responses validated
	Violations        int // requests or responses that broke the contract
	OutOfSpecByDesign int // responses outside the documents, marked ByDesign
	Unmatched         int // exchanges on paths no document describes (not validated)
}

// Checker validates exchanges against a [Spec] and keeps counters. It is safe for concurrent
// use.
type Checker struct {
	spec *Spec

	mu         sync.Mutex
	stats      Stats
	violations []string
}

// NewChecker returns a Checker for spec.
func NewChecker(spec *Spec) *Checker { return &Checker{spec: spec} }

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
	reqErr := c.checkRequest(ctx, rt, params, ex)
	respErr := c.checkResponse(ctx, rt, params, ex)

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
	c.stats.Requests++
	c.stats.Responses++
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

// ReportLine formats the counters as the line CI sums:
// "contract NAME requests=N responses=M violations=V by_design=K unmatched=U".
func (c *Checker) ReportLine(name string) string {
	s := c.Stats()
	name = strings.Join(strings.Fields(name), "_")
	return fmt.Sprintf("contract %s requests=%d responses=%d violations=%d by_design=%d unmatched=%d",
		name, s.Requests, s.Responses, s.Violations, s.OutOfSpecByDesign, s.Unmatched)
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

func (c *Checker) checkRequest(ctx context.Context, rt *routers.Route, params map[string]string, ex Exchange) error {
	if isTokenOp(rt) {
		return c.checkTokenRequest(ex)
	}
	if err := openapi3filter.ValidateRequest(ctx, c.input(rt, params, ex)); err != nil {
		return err
	}
	if rt.Operation.OperationID == "createUser" {
		var body map[string]any
		if err := json.Unmarshal(ex.RequestBody, &body); err != nil {
			return fmt.Errorf("body is not a JSON object: %w", err)
		}
		if !nonEmptyString(body["email"]) && !nonEmptyString(body["phone_number"]) {
			return errors.New("createUser needs email or phone_number")
		}
	}
	return nil
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

func (c *Checker) checkTokenRequest(ex Exchange) error {
	mt, _, err := mime.ParseMediaType(ex.Request.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return fmt.Errorf("content type %q is not application/x-www-form-urlencoded", ex.Request.Header.Get("Content-Type"))
	}
	form, err := url.ParseQuery(string(ex.RequestBody))
	if err != nil {
		return fmt.Errorf("form body: %w", err)
	}
	name, _, ok := grantSchemas(form.Get("grant_type"))
	if !ok {
		return fmt.Errorf("grant_type %q is not client_credentials or refresh_token", form.Get("grant_type"))
	}
	schema := c.spec.schema("oidc.openapi.json", name)
	if schema == nil {
		return fmt.Errorf("schema %s missing from oidc.openapi.json", name)
	}
	value := map[string]any{}
	for k, vs := range form {
		if len(vs) != 1 {
			return fmt.Errorf("form field %q repeated", k)
		}
		value[k] = vs[0]
	}
	return schema.VisitJSON(value, openapi3.VisitAsRequest(), openapi3.DisableSchemaErrorDetails())
}

func (c *Checker) checkResponse(ctx context.Context, rt *routers.Route, params map[string]string, ex Exchange) error {
	if isTokenOp(rt) && ex.Status == http.StatusOK {
		form, _ := url.ParseQuery(string(ex.RequestBody))
		_, name, ok := grantSchemas(form.Get("grant_type"))
		if !ok {
			return errors.New("200 answer to an unsupported grant_type")
		}
		return c.visitJSONBody(ex, c.spec.schema("oidc.openapi.json", name))
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: c.input(rt, params, ex),
		Status:                 ex.Status,
		Header:                 ex.Header,
		Options:                c.options(),
	}
	in.SetBodyBytes(ex.Body)
	return openapi3filter.ValidateResponse(ctx, in)
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
