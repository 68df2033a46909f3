// Package connectortest holds test helpers shared by the connectors:
// vendor test doubles that check every request against the vendor's
// official OpenAPI description, so that a wrong field name fails a test
// rather than a production call.
package connectortest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Spec returns the path of a description in the repository's testdata/specs.
func Spec(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "specs", name)
}

// Contract is a test server that validates each request against an
// OpenAPI description before handing it to the double's handler. A
// request that does not validate is answered 400 and fails the test.
type Contract struct {
	*httptest.Server

	router  routers.Router
	next    http.Handler
	rewrite func(path string) string
	// unchecked serves without validating (Unchecked).
	unchecked bool

	mu         sync.Mutex
	violations []string
	requests   []string
}

// TB is what a double needs of its test: *testing.T and *testing.B are
// one; `incidenthub demo` runs the doubles outside any test with its own.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
}

// Option adjusts a Contract.
type Option func(*Contract)

// RewritePath maps a request's path before it is matched and validated,
// for a client that calls paths the description lacks but that behave
// the same (Jira: go-jira calls /rest/api/2, the description has only
// /rest/api/3). The handler still gets the request as sent.
func RewritePath(rewrite func(path string) string) Option {
	return func(c *Contract) { c.rewrite = rewrite }
}

// Unchecked serves without the description: for `incidenthub demo`,
// whose binary carries no testdata. Tests always check.
func Unchecked() Option { return func(c *Contract) { c.unchecked = true } }

// NewContract starts a contract server for the description at specPath.
// Its servers are cleared, so paths match on any host and port.
func NewContract(t TB, specPath string, next http.Handler, opts ...Option) *Contract {
	t.Helper()
	c := &Contract{next: next}
	for _, opt := range opts {
		opt(c)
	}
	if !c.unchecked {
		c.router = loadRouter(t, specPath)
	}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(func() {
		c.Close()
		for _, v := range c.Violations() {
			t.Errorf("request outside the vendor's description: %s", v)
		}
	})
	return c
}

func loadRouter(t TB, specPath string) routers.Router {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("load %s: %v", specPath, err)
	}
	// The vendors' descriptions fail validation only on their examples
	// (shared/NOTES-dependencies.md); everything else is checked.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("validate %s: %v", specPath, err)
	}
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router for %s: %v", specPath, err)
	}
	return router
}

func (c *Contract) serve(w http.ResponseWriter, r *http.Request) {
	call := r.Method + " " + r.URL.RequestURI()
	c.mu.Lock()
	c.requests = append(c.requests, call)
	c.mu.Unlock()
	if c.unchecked {
		c.next.ServeHTTP(w, r)
		return
	}
	checked, err := c.checked(r)
	if err != nil {
		c.violate(w, fmt.Sprintf("%s: read body: %v", call, err))
		return
	}
	route, params, err := c.router.FindRoute(checked)
	if err != nil {
		c.violate(w, fmt.Sprintf("%s: no such operation: %v", call, err))
		return
	}
	// ValidateRequest reads the body and puts it back for the handler.
	if err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request: checked, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}); err != nil {
		c.violate(w, fmt.Sprintf("%s: %v", call, err))
		return
	}
	c.next.ServeHTTP(w, r)
}

// checked returns the request to match and validate: r itself, or with
// RewritePath a clone with the mapped path. The clone gets its own copy of
// the body, since validating drains it and r goes on to the handler.
func (c *Contract) checked(r *http.Request) (*http.Request, error) {
	if c.rewrite == nil {
		return r, nil
	}
	path := c.rewrite(r.URL.Path)
	if path == r.URL.Path {
		return r, nil
	}
	clone := r.Clone(r.Context())
	clone.URL.Path, clone.URL.RawPath = path, ""
	if r.Body != nil && r.Body != http.NoBody {
		data, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		clone.Body, clone.GetBody = io.NopCloser(bytes.NewReader(data)), nil
	}
	return clone, nil
}

func (c *Contract) violate(w http.ResponseWriter, msg string) {
	c.mu.Lock()
	c.violations = append(c.violations, msg)
	c.mu.Unlock()
	http.Error(w, msg, http.StatusBadRequest)
}

// Violations returns the requests that did not validate.
func (c *Contract) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// Requests returns every request received, as "METHOD /path?query".
func (c *Contract) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.requests...)
}
