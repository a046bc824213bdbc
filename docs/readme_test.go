// Package docs_test keeps the Go code quoted in the README compiled: every
// ```go block of README.md must be a copy of Go source that go test
// compiles (and, for tests and examples, runs), so that a snippet cannot
// rot without a test failing.
//
// To quote Go code in the README (or change a quote):
//
//  1. Put the code in a file that the tests compile: a whole test file
//     (examples/embedding/embedding_test.go is quoted whole), or an Example
//     function or any code in a _test.go or .go file of the module.
//
//  2. Either quote the whole file, or mark the lines to quote:
//
//     // README:begin
//     func ExampleNew() { ... }
//     // README:end
//
//     (the marker lines themselves are not quoted; a file may have several
//     marked regions).
//
//  3. Paste the file, or the lines between the markers, as a ```go block.
//
// TestREADMEGoSnippetsAreCompiledCode then finds the source of each block
// by its content; it fails for a block that is nobody's copy, naming it by
// its line, and for Go code in a block not marked as go.
package docs_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// block is a fenced code block of a Markdown file.
type block struct {
	line int    // of the opening fence
	info string // the fence's info string: "go", "sh", ...
	text string // the content, with its final newline
}

func fencedBlocks(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []block
	var cur *block
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{line: n, info: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: the code block never ends", path, cur.line)
	}
	return blocks
}

// quotable returns what the README may quote: every Go file of the module
// that the go command builds (no build constraint), whole, and each of its
// README:begin/README:end regions, by the place they come from.
func quotable(t *testing.T, root string) map[string]string {
	t.Helper()
	sources := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "gen", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.HasPrefix(b, []byte("//go:build")) {
			return nil // maybe not compiled at all
		}
		rel, _ := filepath.Rel(root, path)
		sources[rel] = string(b)
		var region *strings.Builder
		start := 0
		for i, line := range strings.SplitAfter(string(b), "\n") {
			switch strings.TrimSpace(line) {
			case "// README:begin":
				region, start = &strings.Builder{}, i+2
			case "// README:end":
				if region != nil {
					sources[rel+":"+strconv.Itoa(start)] = dedent(region.String())
				}
				region = nil
			default:
				if region != nil {
					region.WriteString(line)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sources
}

// dedent removes the indentation that all non-blank lines of s share (a
// region inside a function body is quoted flush left).
func dedent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	prefix, first := "", true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ws := l[:len(l)-len(strings.TrimLeft(l, "\t "))]
		if first {
			prefix, first = ws, false
		}
		for !strings.HasPrefix(ws, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, prefix)
	}
	return strings.Join(lines, "")
}

// goLooking finds Go in a block that does not say it is Go.
var goLooking = regexp.MustCompile(`(?m)^(package \w+|func (\(\w+ \*?\w+\) )?\w+\(|import \()`)

func TestREADMEGoSnippetsAreCompiledCode(t *testing.T) {
	quotes, problems := checkGoSnippets(t, "../README.md", "..")
	for _, p := range problems {
		t.Error(p)
	}
	for _, q := range quotes {
		t.Log(q)
	}
	if len(quotes) == 0 {
		t.Error("README.md has no go block: is this the right file?")
	}
}

// checkGoSnippets checks the ```go blocks of the Markdown file path against
// the Go sources under root; it returns what each block quotes, and the
// problems.
func checkGoSnippets(t *testing.T, path, root string) (quotes, problems []string) {
	t.Helper()
	sources := quotable(t, root)
	for _, b := range fencedBlocks(t, path) {
		if b.info != "go" {
			if b.info != "text" && goLooking.MatchString(b.text) {
				problems = append(problems, fmt.Sprintf("%s:%d: a block of Go code marked %q: mark it go and quote compiled code", path, b.line, b.info))
			}
			continue
		}
		from := ""
		for name, src := range sources {
			if src == b.text {
				from = name
				break
			}
		}
		if from == "" {
			problems = append(problems, fmt.Sprintf("%s:%d: this go block is not a copy of compiled code: quote a whole Go file of the module, or the lines between // README:begin and // README:end of one, exactly (see docs/readme_test.go)", path, b.line))
			continue
		}
		quotes = append(quotes, fmt.Sprintf("%s:%d quotes %s", path, b.line, from))
	}
	return quotes, problems
}

// The check finds what it must: a quote of a whole file and of a marked
// region pass; an edited copy, and Go in a block marked sh, do not.
func TestGoSnippetCheckCanFail(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	whole := "package x\n\nfunc A() {}\n"
	write("a.go", whole)
	write("b_test.go", "package x\n\nfunc ExampleA() {\n\t// README:begin\n\tA()\n\tA()\n\t// README:end\n}\n")
	write("c.go", "//go:build ignore\n\npackage x\n")
	write("README.md", "# x\n\n```go\n"+whole+"```\n\n```go\nA()\nA()\n```\n\n"+
		"```go\npackage x\n\nfunc A() { _ = 1 }\n```\n\n```sh\nfunc B() {}\n```\n\n```go\n//go:build ignore\n\npackage x\n```\n")
	quotes, problems := checkGoSnippets(t, filepath.Join(dir, "README.md"), dir)
	if len(quotes) != 2 || !strings.HasSuffix(quotes[0], "quotes a.go") || !strings.HasSuffix(quotes[1], "quotes b_test.go:5") {
		t.Errorf("quotes: %q", quotes)
	}
	want := []string{":14: this go block is not a copy", `:20: a block of Go code marked "sh"`, ":24: this go block is not a copy"}
	if len(problems) != len(want) {
		t.Fatalf("problems: %q, want %d", problems, len(want))
	}
	for i, w := range want {
		if !strings.Contains(problems[i], w) {
			t.Errorf("problem %d: %q, want %q", i, problems[i], w)
		}
	}
}
