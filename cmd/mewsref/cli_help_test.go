package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/mewsref/mewsref/openapi"
)

// invoke runs a command line in process with an empty environment and
// returns its standard output, standard error and exit status.
func invoke(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := dispatch(t.Context(), args, func(string) string { return "" }, &out, &errOut)
	code := exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

func TestEveryCommandHasHelpThatExitsZero(t *testing.T) {
	for _, cmd := range commands {
		t.Run(cmd.name, func(t *testing.T) {
			if cmd.summary == "" || cmd.example == "" {
				t.Errorf("%q needs a summary and an example", cmd.name)
			}
			words := strings.Fields(cmd.name)
			for _, args := range [][]string{
				append([]string{"help"}, words...),
				append(words[:len(words):len(words)], "-h"),
				append(words[:len(words):len(words)], "--help"),
			} {
				out, errOut, code := invoke(t, args...)
				if code != 0 || !strings.HasPrefix(out, "Usage: mewsref "+cmd.name) || !strings.Contains(out, "Example:") {
					t.Errorf("mewsref %s: exit %d, stderr %q, stdout:\n%s", strings.Join(args, " "), code, errOut, out)
				}
			}
		})
	}
}

// A command's help points to the two-word commands under its name.
func TestHelpListsTheCommandsUnderAName(t *testing.T) {
	out, _, code := invoke(t, "help", "webhooks")
	if code != 0 || !strings.Contains(out, "See also:\n  mewsref webhooks set") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// The examples of the help are command lines that parse: every flag they
// use exists and takes the value given.
func TestHelpExamplesParse(t *testing.T) {
	for _, cmd := range commands {
		for line := range strings.SplitSeq(cmd.example, "\n") {
			args := shellWords(t, line)
			if len(args) == 0 || args[0] != "mewsref" {
				t.Errorf("%s: example %q does not start with mewsref", cmd.name, line)
				continue
			}
			args = args[1:]
			got, rest := (&cli{commands: commands}).findCommand(args)
			if got == nil {
				got, rest = cmdServe, args // flags only: the server
			}
			if got != cmd {
				t.Errorf("%s: example %q runs %v", cmd.name, line, got)
				continue
			}
			fs, _ := (&cli{getenv: func(string) string { return "" }}).flagSet(cmd)
			if err := fs.Parse(rest); err != nil || (!cmd.positional && fs.NArg() > 0) {
				t.Errorf("%s: example %q does not parse: %v %v", cmd.name, line, err, fs.Args())
			}
		}
	}
}

// shellWords splits a command line at spaces, keeping "double quoted" words.
func shellWords(t *testing.T, s string) []string {
	var words []string
	for i, part := range strings.Split(s, `"`) {
		if i%2 == 1 {
			words = append(words, part)
		} else {
			words = append(words, strings.Fields(part)...)
		}
	}
	return words
}

func TestTopLevelHelpListsCommandsAndEnvironment(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		out, _, code := invoke(t, args...)
		if code != 0 {
			t.Errorf("mewsref %v: exit %d", args, code)
		}
		for _, cmd := range commands {
			if !strings.Contains(out, "  "+cmd.name+" ") {
				t.Errorf("mewsref %v does not list %q:\n%s", args, cmd.name, out)
			}
		}
		env := (&cli{commands: commands}).knownEnv()
		for _, name := range []string{"MEWSREF_DB", "MEWSREF_ADDR", "MEWSREF_URL", "MEWSREF_ADMIN_TOKEN", "MEWSREF_TEST_POSTGRES"} {
			if env[name] == nil {
				t.Errorf("%s is not a known variable", name)
			}
		}
		for name := range env {
			if !strings.Contains(out, "  "+name+" ") {
				t.Errorf("mewsref %v does not list %s", args, name)
			}
		}
		if !strings.Contains(out, "-body-limit") {
			t.Errorf("mewsref %v does not list the server's flags", args)
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"thread"}, "mewsref thread add"},
		{[]string{"threads", "--bogus"}, "mewsref threads: flag provided but not defined: -bogus"},
		{[]string{"threads", "extra"}, "unexpected arguments: extra"},
		{[]string{"threads", "--count", "many"}, "invalid value"},
		{[]string{"messages"}, "--thread is required"},
		{[]string{"messages", "--thread", "nope"}, `"nope" is not a UUID`},
		{[]string{"thread", "add", "--subject", "s"}, "needs --subject and --sender"},
		{[]string{"message", "post", "--thread", "3fa85f64-5717-4562-b3fc-2c963f66afa6"}, "--text is required"},
		{[]string{"reply", "--thread", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "--admin-token", "t"}, "--text is required"},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"-bogus"}, "flag provided but not defined"},
		{[]string{"serve", "stray"}, "unexpected arguments: stray"},
		{[]string{"-body-limit", "0"}, "-body-limit must be a positive number of bytes, got 0"},
		{[]string{"-body-limit", "-5"}, "got -5"},
		{[]string{"-request-timeout", "0s"}, "-request-timeout must be positive"},
		{[]string{"-log-level", "loud"}, `-log-level must be debug, info, warn or error, got "loud"`},
		{[]string{"-log-format", "xml"}, `-log-format must be text or json, got "xml"`},
	} {
		_, errOut, code := invoke(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "Run 'mewsref help") {
			t.Errorf("mewsref %v: exit %d, want 2 and %q, stderr:\n%s", tc.args, code, tc.want, errOut)
		}
	}
}

func TestOtherErrorsExitOne(t *testing.T) {
	var buf bytes.Buffer
	if code := exitCode(errors.New("connection refused"), &buf); code != 1 || buf.String() != "mewsref: connection refused\n" {
		t.Errorf("exit %d, %q", code, buf.String())
	}
	if code := exitCode(nil, &buf); code != 0 {
		t.Errorf("nil error: exit %d", code)
	}
}

func TestUnknownEnvironmentVariablesAreNamed(t *testing.T) {
	c := &cli{commands: commands}
	got := c.unknownEnv([]string{"MEWSREF_DB=x", "MEWSREF_RATELIMIT=5/1s", "HOME=/root", "MEWSREF_NOPE=1", "MEWSREF_TEST_POSTGRES=postgres://"})
	want := []string{
		"unknown environment variable MEWSREF_NOPE is ignored",
		"unknown environment variable MEWSREF_RATELIMIT is ignored (did you mean MEWSREF_RATE_LIMIT?)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
	var errOut bytes.Buffer
	c = &cli{environ: []string{"MEWSREF_RATELIMIT=1"}, getenv: func(string) string { return "" }, out: &bytes.Buffer{}, errOut: &errOut}
	if err := c.dispatch([]string{"version"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "warning: unknown environment variable MEWSREF_RATELIMIT") {
		t.Errorf("no warning on stderr: %q", errOut.String())
	}
}

func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/mewsref/mewsref", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "2602e76d"}, {Key: "vcs.time", Value: "2026-12-01T19:45:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := versionLine(bi, true), "mewsref v1.2.3 revision 2602e76d (2026-12-01T19:45:00Z) with local modifications, go1.26.8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	bi.Settings = nil
	if got := versionLine(bi, true); !strings.Contains(got, "no VCS revision") {
		t.Errorf("without VCS: %q", got)
	}
	out, _, code := invoke(t, "version")
	if code != 0 || !strings.HasPrefix(out, "mewsref ") {
		t.Errorf("mewsref version: exit %d, %q", code, out)
	}
}

// The real binary: help exits 0, a usage error 2 (what a shell script sees).
func TestBinaryExitStatuses(t *testing.T) {
	bin := binary(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"threads", "-h"}, 0},
		{[]string{"thread", "--help"}, 0},
		{[]string{"--help"}, 0},
		{[]string{"version"}, 0},
		{[]string{"threads", "--bogus"}, 2},
		{[]string{"-body-limit", "0"}, 2},
	} {
		err := exec.Command(bin, tc.args...).Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("mewsref %v: exit %d, want %d", tc.args, code, tc.code)
		}
	}
}

// Every MEWSREF_* variable that the repository's code reads is known to
// mewsref help (and so not warned about): a flag's, or one of otherEnv.
func TestEveryVariableInTheCodeIsKnown(t *testing.T) {
	known := (&cli{commands: commands}).knownEnv()
	name := regexp.MustCompile(`MEWSREF_[A-Z0-9_]*[A-Z0-9]`)
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "cli_help_test.go") {
			return nil // this file names unknown variables on purpose
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range name.FindAllString(string(b), -1) {
			if known[v] == nil {
				t.Errorf("%s reads %s, which mewsref help does not list: add it to otherEnv in cli.go", path, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readmeCommandLines returns the command lines of mewsref (or go run
// ./cmd/mewsref) in the shell blocks of the README, by line number, as
// words: without a trailing comment, a pipe, a redirection or a final &.
func readmeCommandLines(t *testing.T) map[int][]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[int][]string{}
	inShell := false
	for n, line := range strings.Split(string(b), "\n") {
		if fence, ok := strings.CutPrefix(line, "```"); ok {
			inShell = !inShell && fence == "sh"
			continue
		}
		if !inShell {
			continue
		}
		words := readmeWords(line)
		if len(words) >= 3 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/mewsref" {
			words = append([]string{"mewsref"}, words[3:]...)
		}
		if len(words) > 0 && words[0] == "mewsref" {
			lines[n+1] = words[1:]
		}
	}
	if len(lines) == 0 {
		t.Fatal("no mewsref command line in the README: is this the right file?")
	}
	return lines
}

// readmeWords splits a shell line into words, keeping 'single' and "double"
// quoted ones, up to a comment, a pipe, a redirection or a final &.
func readmeWords(line string) []string {
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
		case !inWord && (r == '#' || r == '|' || r == '>' || r == '&'):
			return words
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// Every mewsref command line that the README shows is one that the CLI
// takes: its command exists, and so does every flag it gives, with a value
// of the flag's type.
func TestREADMECommandLinesParse(t *testing.T) {
	for n, args := range readmeCommandLines(t) {
		cmd, rest := cmdServe, args // no command: the server
		if len(args) > 0 {
			cmd, rest = (&cli{commands: commands}).findCommand(args)
		}
		if cmd == nil {
			if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
				t.Errorf("README.md:%d: mewsref %s: no command %q", n, strings.Join(args, " "), args[0])
				continue
			}
			cmd, rest = cmdServe, args
		}
		fs, _ := (&cli{getenv: func(string) string { return "" }}).flagSet(cmd)
		err := fs.Parse(rest)
		if err == nil && cmd.positional {
			_, err = positionals(cmd.name, fs, fs.Args())
		} else if err == nil && fs.NArg() > 0 {
			err = fmt.Errorf("unexpected arguments %q", fs.Args())
		}
		if err != nil {
			t.Errorf("README.md:%d: mewsref %s: %v", n, strings.Join(args, " "), err)
		}
	}
}

// Every command of the CLI appears in a command line of the README, and
// every flag of the server in its table of flags, and the other way round.
func TestREADMEShowsEveryCommandAndServerFlag(t *testing.T) {
	shown := map[*command]bool{}
	for _, args := range readmeCommandLines(t) {
		if len(args) == 0 {
			continue
		}
		if cmd, _ := (&cli{commands: commands}).findCommand(args); cmd != nil {
			shown[cmd] = true
		}
	}
	for _, cmd := range commands {
		if !shown[cmd] && cmd != cmdServe {
			t.Errorf("the README shows no command line of mewsref %s", cmd.name)
		}
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `-([a-z-]+)` \\| `(MEWSREF_[A-Z_]+)` \\|")
	inTable := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		inTable[m[1]] = true
		if envName(m[1]) != m[2] {
			t.Errorf("the README's flag table gives -%s the variable %s, want %s", m[1], m[2], envName(m[1]))
		}
	}
	fs, _ := (&cli{getenv: func(string) string { return "" }}).flagSet(cmdServe)
	fs.VisitAll(func(f *flag.Flag) {
		if !inTable[f.Name] {
			t.Errorf("the README's flag table has no row for -%s", f.Name)
		}
		delete(inTable, f.Name)
	})
	for name := range inTable {
		t.Errorf("the README's flag table has -%s, which mewsref serve does not take", name)
	}
}

// The README's table "Every capability, every surface" is true: every
// operation of openapi/admin.yaml has a row, and every operation, command,
// mewsreftest name, console page and server flag that it names exists.
func TestREADMEParityTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Every capability, every surface\n")
	if !ok {
		t.Fatal(`README.md has no section "Every capability, every surface"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")

	ops := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  /_admin/v1/(\S+):$`).FindAllStringSubmatch(openapi.AdminYAML, -1) {
		ops[m[1]] = false
	}
	helper := mewsreftestNames(t)
	serve, _ := (&cli{getenv: func(string) string { return "" }}).flagSet(cmdServe)
	pages := map[string]bool{"inbox": true, "conversation": true, "webhooks": true, "requests": true, "faults and clock": true}
	names := regexp.MustCompile("`([^`]+)`")
	rows := 0
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) != 6 || strings.HasPrefix(line, "| Capability") || strings.HasPrefix(line, "| ---") {
			continue
		}
		rows++
		row := strings.TrimSpace(cells[0])
		each := func(cell string, check func(string) bool, what string) {
			for _, m := range names.FindAllStringSubmatch(cell, -1) {
				if !check(m[1]) {
					t.Errorf("README parity table, %q: %s %q does not exist", row, what, m[1])
				}
			}
		}
		each(cells[1], func(op string) bool {
			_, ok := ops[op]
			ops[op] = true
			return ok
		}, "admin operation")
		each(cells[2], func(name string) bool { return (&cli{commands: commands}).lookup(name) != nil }, "command")
		each(cells[3], func(name string) bool { return helper[name] != "" }, "mewsreftest function or method")
		for page := range strings.SplitSeq(strings.TrimSpace(cells[4]), ", ") {
			if !pages[page] && page != "—" {
				t.Errorf("README parity table, %q: console page %q does not exist", row, page)
			}
		}
		each(cells[5], func(flag string) bool { return serve.Lookup(strings.TrimPrefix(flag, "-")) != nil }, "server flag")
	}
	if rows == 0 {
		t.Fatal("the README's parity table has no rows")
	}
	for op, listed := range ops {
		if !listed {
			t.Errorf("the README's parity table has no row for the admin operation %s", op)
		}
	}
}

// mewsreftestNames returns the exported functions and methods of Server of
// package mewsreftest, each name with "func" or "method".
func mewsreftestNames(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../../mewsreftest/*.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
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
			fn, ok := d.(*ast.FuncDecl)
			switch {
			case !ok || !fn.Name.IsExported():
			case fn.Recv == nil:
				names[fn.Name.Name] = "func"
			default:
				if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok && star.X.(*ast.Ident).Name == "Server" {
					names[fn.Name.Name] = "method"
				}
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no exported name in ../../mewsreftest: is this the right directory?")
	}
	return names
}

// The README's "Embedding in your Go tests" names every method of
// mewsreftest's Server and every option: what the package offers is what
// the manual says.
func TestREADMENamesEveryMewsreftestMethodAndOption(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Embedding in your Go tests\n")
	if !ok {
		t.Fatal(`README.md has no section "Embedding in your Go tests"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for name, kind := range mewsreftestNames(t) {
		if kind == "func" && !strings.HasPrefix(name, "With") {
			continue
		}
		if !strings.Contains(section, "`"+name+"(") && !strings.Contains(section, "`"+name+"`") {
			t.Errorf("the README's \"Embedding in your Go tests\" does not name mewsreftest's %s", name)
		}
	}
}
