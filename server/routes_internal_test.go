package server

import (
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/spec"
)

// Every route the server registers is an operation of its documents or one
// of the pages that apitest knows (apitest.Page), so that the response
// validator checks each answer as what it is: a page added here and not
// there would have its answers taken for the error body of an unknown
// address.
func TestEveryRouteIsAnOperationOrAPage(t *testing.T) {
	h, closeFn, err := New(Config{AdminToken: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	ops := map[string]bool{}
	for _, load := range []func(bool) (*openapi3.T, error){spec.Load, spec.LoadAdmin} {
		doc, err := load(false)
		if err != nil {
			t.Fatal(err)
		}
		for path := range spec.OperationRoutes(doc) {
			ops[path] = true
		}
	}
	routes := h.(*echo.Echo).Routes()
	if len(routes) < len(ops) {
		t.Fatalf("%d routes for %d operations", len(routes), len(ops))
	}
	for _, r := range routes {
		path := strings.TrimSuffix(r.Path, "/*")
		if ops[path] {
			continue
		}
		if page, _ := apitest.Page(path); !page {
			t.Errorf("%s %s is neither an operation of the documents nor a page that apitest.Page knows", r.Method, r.Path)
		}
	}
}
