package mewsreftest_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mewsref/mewsref/mewsreftest"
)

// The README's "Embedding in your Go tests" quotes
// examples/embedding/embedding_test.go, which go test compiles and runs;
// this keeps the quote identical to the file.
func TestREADMEQuotesTheEmbeddingExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("../examples/embedding/embedding_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, append(append([]byte("```go\n"), code...), "```\n"...)) {
		t.Error("README.md does not quote examples/embedding/embedding_test.go as a ```go block; copy the file into the README again")
	}
}

// The README's "Embedding in your Go tests" names every method of Server
// and every option: what the package offers is what the manual says.
func TestREADMENamesEveryMethodAndOption(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "## Embedding in your Go tests")
	if start < 0 {
		t.Fatal(`README.md has no section "Embedding in your Go tests"`)
	}
	section = section[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var names []string
	st := reflect.TypeFor[*mewsreftest.Server]()
	for i := range st.NumMethod() {
		names = append(names, st.Method(i).Name)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "With") {
				names = append(names, fn.Name.Name)
			}
		}
	}
	for _, name := range names {
		if !strings.Contains(section, "`"+name+"(") && !strings.Contains(section, "`"+name+"`") {
			t.Errorf("the README's \"Embedding in your Go tests\" does not name %s", name)
		}
	}
}
