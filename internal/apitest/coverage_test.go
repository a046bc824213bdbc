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
// (and mewsreftest, a server for tests) for the ways a test serves a
// handler: httptest's servers, an http.Server literal, http.Serve,
// ServeTLS, ListenAndServe and ListenAndServeTLS, and ServeHTTP (without
// the network's client in between). A server of a handler written in
// place (a function, an http.HandlerFunc: a webhook receiver, a stub) is
// not the server; one of Handler's result is validated; any other, and
// any ServeHTTP but that of Handler's result, must be in unvalidated with
// its reason (TestServesFound shows what is found).
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
		for _, s := range serves(f) {
			where := rel + " " + s.fn
			found[where] = true
			if _, ok := unvalidated[where]; !ok {
				t.Errorf("%s: %s without the response validator: serve the server with apitest.Server or Validator.Handler, "+
					"or list the place in unvalidated with the reason", where, s.what)
			}
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

// serve is a place where a function serves a handler that may be the
// server's unvalidated: the function's name, and what serves it.
type serve struct{ fn, what string }

// serves are the places in f's functions that serve a handler that may be
// the server's unvalidated.
func serves(f *ast.File) []serve {
	var found []serve
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if what := unvalidatedServe(n); what != "" {
				found = append(found, serve{funcName(fn), what})
			}
			return true
		})
	}
	return found
}

// handlerArg is the index of the handler among the arguments of net/http's
// functions that serve one.
var handlerArg = map[string]int{"Serve": 1, "ServeTLS": 1, "ListenAndServe": 1, "ListenAndServeTLS": 3}

// unvalidatedServe says what n does if it serves a handler that may be
// the server's unvalidated, or "".
func unvalidatedServe(n ast.Node) string {
	if lit, ok := n.(*ast.CompositeLit); ok {
		if !isPkgName(lit.Type, "http", "Server") {
			return ""
		}
		for _, e := range lit.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Handler") {
				if writtenInPlace(kv.Value) || isValidatorHandler(kv.Value) {
					return ""
				}
			}
		}
		return "http.Server" // of a handler, or one set later
	}
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return ""
	}
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
	if i, ok := handlerArg[sel.Sel.Name]; ok && isPkgName(sel, "http", sel.Sel.Name) {
		if len(call.Args) > i && !writtenInPlace(call.Args[i]) && !isValidatorHandler(call.Args[i]) {
			return "http." + sel.Sel.Name
		}
		return ""
	}
	if sel.Sel.Name == "ServeHTTP" && len(call.Args) == 2 && !isValidatorHandler(sel.X) {
		return "ServeHTTP"
	}
	return ""
}

// isPkgName: e is pkg.name.
func isPkgName(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && isIdent(sel.X, pkg) && sel.Sel.Name == name
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
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
	if !isPkgName(conv.Fun, "http", "HandlerFunc") {
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

// The guard finds each way of serving a handler that may be the server's,
// and none of those that serve one written in place or validated: here in
// a snippet, as the module's tests serve none of some of them.
func TestServesFound(t *testing.T) {
	const src = `package x

func unvalidated() {
	httptest.NewServer(h)
	h.ServeHTTP(w, r)
	_ = &http.Server{Addr: "127.0.0.1:0", Handler: h}
	_ = http.Server{ReadTimeout: time.Second}
	_ = http.Serve(l, h)
	_ = http.ServeTLS(l, h, "cert", "key")
	_ = http.ListenAndServe("127.0.0.1:0", nil)
	_ = http.ListenAndServeTLS("127.0.0.1:0", "cert", "key", h)
}

func validated() {
	httptest.NewServer(v.Handler(h))
	v.Handler(h).ServeHTTP(w, r)
	_ = &http.Server{Handler: v.Handler(h)}
	_ = &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	_ = http.Serve(l, v.Handler(h))
	_ = http.Serve(l, http.HandlerFunc(receiver.serve))
	_ = other.Serve(l, h)
}
`
	f, err := parser.ParseFile(token.NewFileSet(), "x_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range serves(f) {
		got = append(got, s.fn+" "+s.what)
	}
	want := []string{"unvalidated httptest.NewServer", "unvalidated ServeHTTP", "unvalidated http.Server", "unvalidated http.Server",
		"unvalidated http.Serve", "unvalidated http.ServeTLS", "unvalidated http.ListenAndServe", "unvalidated http.ListenAndServeTLS"}
	if !slices.Equal(got, want) {
		t.Errorf("found\n%q\nwant\n%q", got, want)
	}
}
