package apitest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unvalidated are the places, by file and function, where a test serves a
// handler that may be the server's without Server, Handler or Transport
// validating what it answers, and why that is right. An entry that no
// longer matches anything fails the test too, so that the list stays
// what it says.
var unvalidated = map[string]string{
	"server/fuzz_test.go (*fuzzServer).check":                                   "validated by Check, beside the fuzzer's own checks",
	"server/hardening_test.go TestJournalReadsDoNotWaitForARequestThatPanicked": "the aborting wrapper is itself served by Server",
	"client/faults_test.go newFaultyServer":                                     "the counting wrapper is itself served by Server",
	"server/request_bench_test.go serveOK":                                      "a benchmark: validating would measure kin-openapi",
	"server/admin_bench_test.go BenchmarkAdminBodies":                           "a benchmark: validating would weigh in the heap it measures",
	"bench/handler_test.go call":                                                "a benchmark: validating would measure kin-openapi",
	"client/contract_target_test.go startInProcess":                             "its seeding, before any test; the contract tests validate through Transport",
}

// TestEveryServerInTestsIsValidated reads every test file of the module
// (and mewsreftest, a server for tests) for the two ways a test reaches a
// handler without the network's client in between: httptest's servers
// and ServeHTTP. A server of a handler written in place (a function, an
// http.HandlerFunc: a webhook receiver, a stub) is not the server; one of
// Handler's result is validated; any other, and any ServeHTTP but that of
// Handler's result, must be in unvalidated with its reason.
//
// It does not see requests sent over the network to a server started
// elsewhere (the binary in cmd/mewsref): those tests validate with Check
// or Transport where they send.
func TestEveryServerInTestsIsValidated(t *testing.T) {
	root := moduleRoot(t)
	found := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "gen" || rel == "internal/apitest" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, "_test.go") && !(strings.HasPrefix(rel, "mewsreftest/") && strings.HasSuffix(rel, ".go")) {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			where := rel + " " + funcName(fn)
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if what := unvalidatedCall(call); what != "" {
					found[where] = true
					if _, ok := unvalidated[where]; !ok {
						t.Errorf("%s: %s without the response validator: serve the server with apitest.Server or Validator.Handler, "+
							"or list the place in unvalidated with the reason", where, what)
					}
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for where := range unvalidated {
		if !found[where] {
			stale = append(stale, where)
		}
	}
	slices.Sort(stale)
	for _, where := range stale {
		t.Errorf("unvalidated lists %s, which serves no handler unvalidated any more: remove it", where)
	}
}

// unvalidatedCall says what call does if it serves a handler that may be
// the server's unvalidated, or "".
func unvalidatedCall(call *ast.CallExpr) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "httptest" &&
		(sel.Sel.Name == "NewServer" || sel.Sel.Name == "NewTLSServer" || sel.Sel.Name == "NewUnstartedServer") {
		if len(call.Args) == 1 && !writtenInPlace(call.Args[0]) && !isValidatorHandler(call.Args[0]) {
			return "httptest." + sel.Sel.Name
		}
		return ""
	}
	if sel.Sel.Name == "ServeHTTP" && len(call.Args) == 2 && !isValidatorHandler(sel.X) {
		return "ServeHTTP"
	}
	return ""
}

// writtenInPlace: a function literal, or one converted to http.HandlerFunc
// (a method value too: mewsreftest's webhook receiver).
func writtenInPlace(e ast.Expr) bool {
	if _, ok := e.(*ast.FuncLit); ok {
		return true
	}
	conv, ok := e.(*ast.CallExpr)
	if !ok || len(conv.Args) != 1 {
		return false
	}
	sel, ok := conv.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "HandlerFunc" {
		return false
	}
	if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "http" {
		return false
	}
	if lit, ok := conv.Args[0].(*ast.FuncLit); ok {
		return !servesInside(lit)
	}
	_, method := conv.Args[0].(*ast.SelectorExpr)
	return method
}

// servesInside reports whether a handler written in place passes the
// request on to another handler (a wrapper of the server, not a stub);
// its ServeHTTP is then reported on its own.
func servesInside(lit *ast.FuncLit) bool {
	inside := false
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "ServeHTTP" {
				inside = true
			}
		}
		return !inside
	})
	return inside
}

// isValidatorHandler: a call of a method Handler, as Validator.Handler.
func isValidatorHandler(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Handler"
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	recv := fn.Recv.List[0].Type
	star := ""
	if s, ok := recv.(*ast.StarExpr); ok {
		recv, star = s.X, "*"
	}
	name := "?"
	if id, ok := recv.(*ast.Ident); ok {
		name = id.Name
	}
	return "(" + star + name + ")." + fn.Name.Name
}

// moduleRoot is the directory of go.mod, above the test's.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
