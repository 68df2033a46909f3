// Package connectortest holds test helpers shared by the connectors:
// vendor test doubles that check every request against the vendor's
// official OpenAPI description, so that a wrong field name fails a test
// rather than a production call.
package connectortest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

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

	router routers.Router
	next   http.Handler

	mu         sync.Mutex
	violations []string
	requests   []string
}

// NewContract starts a contract server for the description at specPath.
// Its servers are cleared, so paths match on any host and port.
func NewContract(t testing.TB, specPath string, next http.Handler) *Contract {
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
	c := &Contract{router: router, next: next}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(func() {
		c.Close()
		for _, v := range c.Violations() {
			t.Errorf("request outside the vendor's description: %s", v)
		}
	})
	return c
}

func (c *Contract) serve(w http.ResponseWriter, r *http.Request) {
	call := r.Method + " " + r.URL.RequestURI()
	c.mu.Lock()
	c.requests = append(c.requests, call)
	c.mu.Unlock()
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		c.violate(w, fmt.Sprintf("%s: no such operation: %v", call, err))
		return
	}
	// ValidateRequest reads the body and puts it back for the handler.
	if err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}); err != nil {
		c.violate(w, fmt.Sprintf("%s: %v", call, err))
		return
	}
	c.next.ServeHTTP(w, r)
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
