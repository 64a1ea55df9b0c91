// Package openapitest checks HTTP responses against Coffer's OpenAPI
// document (internal/openapi) with kin-openapi's validator. Only tests
// import it: validators echo the values they reject in their messages,
// which is fine in a test failure and never acceptable in a server.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/coffer-dev/coffer/internal/openapi"
)

// Validator checks responses against the document.
type Validator struct {
	doc   *openapi3.T
	paths []path
}

// path is one documented path template split into segments; a parameter
// segment is "" in segs.
type path struct {
	template string
	segs     []string
	names    []string
	param    []bool // segment i is a parameter ("/" has one empty literal segment)
	item     *openapi3.PathItem
}

// Load parses and validates the embedded document.
func Load() (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.YAML())
	if err != nil {
		return nil, fmt.Errorf("loading openapi.yaml: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, errors.New("openapi.yaml is not an OpenAPI 3.1 document")
	}
	// The name patterns are the reference's, with look-around that Go's
	// regexp lacks; they are display text for clients (docs/api.md §3),
	// so the document check does not compile them.
	if err := doc.Validate(context.Background(), openapi3.DisableSchemaPatternValidation(),
		openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid document: %w", err)
	}
	v := &Validator{doc: doc}
	for template, item := range doc.Paths.Map() {
		p := path{template: template, item: item}
		for _, s := range strings.Split(strings.TrimPrefix(template, "/"), "/") {
			isParam := strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}")
			if isParam {
				p.names = append(p.names, s[1:len(s)-1])
				s = ""
			}
			p.segs = append(p.segs, s)
			p.param = append(p.param, isParam)
		}
		v.paths = append(v.paths, p)
	}
	return v, nil
}

var shared = sync.OnceValues(Load)

// Default returns the validator of the embedded document, loaded once.
func Default() (*Validator, error) { return shared() }

// find returns the documented path that serves escapedPath and its decoded
// parameters; like Coffer's router, a parameter is one non-empty segment,
// and a literal segment beats a parameter.
func (v *Validator) find(escapedPath string) (*path, map[string]string) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	var best *path
	var bestParams map[string]string
	bestLiterals := -1
	for i := range v.paths {
		p := &v.paths[i]
		if len(p.segs) != len(segs) {
			continue
		}
		params, literals, ok := map[string]string{}, 0, true
		for j, lit := range p.segs {
			if !p.param[j] {
				if lit != segs[j] {
					ok = false
					break
				}
				literals++
				continue
			}
			val, err := url.PathUnescape(segs[j])
			if err != nil || val == "" {
				ok = false
				break
			}
			params[p.names[len(params)]] = val
		}
		if ok && literals > bestLiterals {
			best, bestParams, bestLiterals = p, params, literals
		}
	}
	return best, bestParams
}

// Check validates one response to req. It returns nil when the response
// conforms: its status is documented for the operation, and the headers
// and body match that response. A path no route serves must answer 404
// (or an identity error), a documented path with another method 405 with
// an Allow header; both with the error shape.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	p, params := v.find(req.URL.EscapedPath())
	method := req.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	var op *openapi3.Operation
	if p != nil {
		op = p.item.GetOperation(method)
	}
	if op == nil {
		return v.checkUnrouted(p != nil, req, status, header, body)
	}
	if op.Responses.Status(status) == nil {
		return fmt.Errorf("status %d is not documented for %s %s", status, method, p.template)
	}
	if req.Method == http.MethodHead && len(body) > 0 {
		return errors.New("a HEAD response has a body")
	}
	route := &routers.Route{Spec: v.doc, Path: p.template, PathItem: p.item, Method: method, Operation: op}
	getReq := req
	if req.Method == http.MethodHead {
		// kin-openapi skips HEAD entirely; check the headers as for GET.
		getReq = req.Clone(req.Context())
		getReq.Method = http.MethodGet
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: getReq, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			ExcludeResponseBody: req.Method == http.MethodHead},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	if status == http.StatusNotModified && len(body) > 0 {
		return errors.New("a 304 response has a body")
	}
	return nil
}

// checkUnrouted checks the answer to a path or method no operation
// documents: the router's 404/405, or an identity or overload error that
// precedes routing.
func (v *Validator) checkUnrouted(pathKnown bool, req *http.Request, status int, header http.Header, body []byte) error {
	name := "NotFoundRoute"
	want := http.StatusNotFound
	if pathKnown {
		name, want = "MethodNotAllowed", http.StatusMethodNotAllowed
	}
	switch status {
	case want:
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusServiceUnavailable, http.StatusInternalServerError:
		name = "ErrorDetail"
	default:
		return fmt.Errorf("no documented operation serves %s %s, and the status is %d, not %d",
			req.Method, req.URL.Path, status, want)
	}
	if name == "MethodNotAllowed" {
		allow := header.Get("Allow")
		if allow == "" {
			return errors.New("a 405 response has no Allow header")
		}
		p, _ := v.find(req.URL.EscapedPath())
		for _, m := range strings.Split(allow, ", ") {
			if m == http.MethodHead {
				m = http.MethodGet
			}
			if p.item.GetOperation(m) == nil {
				return fmt.Errorf("Allow names %s, which the document does not list for %s", m, p.template)
			}
		}
	}
	if id := header.Get("X-Request-Id"); !requestID.MatchString(id) {
		return fmt.Errorf("%d response: X-Request-Id %q is missing or malformed", status, id)
	}
	if req.Method == http.MethodHead {
		return nil
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("%d response: Content-Type %q, want application/json", status, ct)
	}
	schema := v.doc.Components.Schemas["ErrorDetail"]
	if status == http.StatusInternalServerError {
		schema = v.doc.Components.Schemas["InternalErrorDetail"]
	}
	val, err := decodeJSON(body)
	if err != nil {
		return err
	}
	if err := schema.Value.VisitJSON(val, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("%d response body does not match the error shape: %w", status, err)
	}
	return nil
}

// requestID is the shape of X-Request-Id (components/headers/XRequestId).
var requestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

func decodeJSON(body []byte) (any, error) {
	var val any
	if err := json.Unmarshal(body, &val); err != nil {
		return nil, fmt.Errorf("response body is not JSON: %w", err)
	}
	return val, nil
}

// Fail reports a validation failure of req's response on t.
func Fail(t testing.TB, req *http.Request, status int, err error) {
	t.Helper()
	t.Errorf("%s %s -> %d does not match internal/openapi/openapi.yaml: %v", req.Method, req.URL.RequestURI(), status, err)
}

// CheckT validates one response and fails t when it does not conform, or
// when the document itself does not load.
func CheckT(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	v, err := Default()
	if err != nil {
		t.Error(err) // not Fatal: callers may be on another goroutine
		return
	}
	if err := v.Check(req, status, header, body); err != nil {
		Fail(t, req, status, err)
	}
}

// Transport wraps base (nil: http.DefaultTransport) in a RoundTripper
// that validates every response and passes failures to report, for HTTP
// traffic that has no *testing.T at hand (a proxy, a helper without t).
func Transport(base http.RoundTripper, report func(error)) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper{base, report}
}

type roundTripper struct {
	base   http.RoundTripper
	report func(error)
}

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := rt.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return res, nil // the caller sees the truncated body and fails on it
	}
	v, verr := Default()
	if verr == nil {
		verr = v.Check(req, res.StatusCode, res.Header, body)
	}
	if verr != nil {
		rt.report(fmt.Errorf("%s %s -> %d does not match internal/openapi/openapi.yaml: %w",
			req.Method, req.URL.RequestURI(), res.StatusCode, verr))
	}
	return res, nil
}

// Collector gathers failures from a Transport, for a test to report.
type Collector struct {
	mu   sync.Mutex
	errs []error
}

// Add records err.
func (c *Collector) Add(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// Drain fails t with every recorded failure and forgets them.
func (c *Collector) Drain(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	errs := slices.Clone(c.errs)
	c.errs = nil
	c.mu.Unlock()
	for _, err := range errs {
		t.Error(err)
	}
}
