package main

// The command line of mewsref, modelled on the go command: a table of
// subcommands, each with a one-line summary, a synopsis, an example and its
// own flag set; `mewsref help`, `mewsref help <command>` and
// `mewsref <command> -h` (or --help) print usage and exit 0; a usage error
// exits 2, any other error 1. With no subcommand (or with flags only) the
// binary runs the server, as `mewsref serve` does.
//
// To add a subcommand, in a file of its own (cli_<name>.go):
//
//	var cmdFrobnicate = &command{
//		name:    "frobnicate",               // one or two words, as typed
//		summary: "frobnicate the threads",   // one line, for `mewsref help`
//		args:    "--thread ID [--hard]",     // the synopsis after the name
//		example: "mewsref frobnicate --thread 3fa8… --hard",
//		conn:    true, // it calls a server: --url, the tokens, --json
//		setup: func(c *cli, fs *flag.FlagSet) func(args []string) error {
//			hard := fs.Bool("hard", false, "frobnicate harder")
//			return func([]string) error { /* c.client(), adminDo(...), c.print(...) */ }
//		},
//	}
//
// and add cmdFrobnicate to the commands table below, where it should appear
// in the help. If it reads a MEWSREF_* variable that is not the variable of
// a flag, add it to otherEnv, so that it is listed and not warned about.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
)

// commands is the table of subcommands, in the order of `mewsref help`.
var commands = []*command{
	cmdServe,
	cmdThreadAdd,
	cmdMessagePost,
	cmdThreads,
	cmdThreadsSearch,
	cmdMessages,
	cmdReply,
	cmdResolve,
	cmdDeliveries,
	cmdRequests,
	cmdRequestsCount,
	cmdRequestsClear,
	cmdRedeliver,
	cmdListen,
	cmdImport,
	cmdExport,
	cmdIntegrations,
	cmdWebhooks,
	cmdWebhooksSet,
	cmdReset,
	cmdFaultsAdd,
	cmdFaultsGetAll,
	cmdFaultsClear,
	cmdClockGet,
	cmdClockSet,
	cmdClockAdvance,
	cmdClockRelease,
	cmdVersion,
	cmdHelp,
}

// otherEnv are the MEWSREF_* variables read other than as the default of a
// flag (those are derived from the flag sets), with what they do.
var otherEnv = map[string]string{
	"MEWSREF_TEST_POSTGRES":       "tests: a postgres:// URL; the PostgreSQL tests run on it instead of skipping",
	"MEWSREF_CHROMIUM":            "tests: a Chromium binary; the browser tests run with it instead of skipping",
	"MEWSREF_DOCS_SCREENSHOT":     "tests: a PNG file; the browser test of /docs saves a screenshot there",
	"MEWSREF_CONSOLE_SCREENSHOTS": "tests: a directory; the browser test of /console saves its screenshots there",
	"MEWSREF_BENCH_SMALL":         "benchmarks: set to run the store benchmarks on small data only",
	"MEWSREF_BENCH_THREADS":       "benchmarks: the threads of BenchmarkPages' large data (default 1000000)",
	"MEWSREF_BENCH_PAGES_DIR":     "benchmarks: a directory where BenchmarkPages loads its stores once (pages-N.db) and reads them from then on",
	"MEWSREF_BENCH_ADD_THREADS":   "benchmarks: the threads the add benchmarks of the SQLite store write to (default 100000)",
	"MEWSREF_BENCH_ADD_FILE":      "benchmarks: a SQLite file the add benchmarks load once and copy for each run",
	"MEWSREF_BENCH_FILE":          "benchmarks: set to run BenchmarkRequest on a SQLite file instead of in memory",
	"MEWSREF_BENCH_JOURNAL":       "benchmarks: set to run BenchmarkRequest with the request journal on",
	"MEWSREF_BENCH_JOURNAL_FILL":  "benchmarks: the entries BenchmarkJournal fills the journal with first (default its size)",
	"MEWSREF_BENCH_CONNS":         "benchmarks: the connections at once of bench's BenchmarkHTTP (default 1; make bench uses 32)",
}

// command is one subcommand.
type command struct {
	name    string // one or two words, as typed: "threads", "thread add"
	summary string // one line for the list of `mewsref help`
	args    string // the synopsis after the name, e.g. "--thread ID [--count N]"
	example string // command lines shown by `mewsref help <name>`, one per line
	details string // optional paragraphs after the flags
	// conn gives the command the flags that reach a server: --url,
	// --client-token, --access-token, --admin-token (with MEWSREF_*
	// defaults) and --json.
	conn bool
	// env: every flag of this command takes its default from MEWSREF_ plus
	// its name in upper case with '-' as '_' (the server's flags).
	env bool
	// positional: the command takes arguments after its flags; otherwise
	// they are a usage error.
	positional bool
	// setup defines the command's own flags on fs and returns the function
	// that runs the command once they are parsed, with the positional
	// arguments.
	setup func(c *cli, fs *flag.FlagSet) func(args []string) error
}

// cli is one invocation: where it reads its environment and writes.
type cli struct {
	ctx     context.Context
	getenv  func(string) string
	environ []string // for the warning about unknown MEWSREF_* variables; nil: no check
	out     io.Writer
	errOut  io.Writer
	// commands is the table above (a field, so that help can read the
	// table that lists help).
	commands []*command

	// The connection flags of commands with conn.
	url, clientToken, accessToken, adminToken string
	json                                      bool
}

// usageError is a mistake in the command line: exit status 2 and a pointer
// to the command's help.
type usageError struct {
	cmd string // the command's name; empty for mewsref itself
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd, format string, a ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, a...)}
}

// checkCount refuses a --count outside the 1..1000 of the admin API's
// Count (Limitation, webhookDeliveries/getAll) before anything is asked
// of the server: the int32 it is sent as would wrap a larger one (2^32+5
// asked for 5).
func checkCount(cmd string, n int) error {
	if n < 1 || n > 1000 {
		return usagef(cmd, "--count must be between 1 and 1000, got %d", n)
	}
	return nil
}

// exitCode is the process's exit status for the error of dispatch; it writes
// the error to w.
func exitCode(err error, w io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		name := "mewsref"
		if ue.cmd != "" {
			name += " " + ue.cmd
		}
		fmt.Fprintf(w, "%s: %v\nRun '%s' for usage.\n", name, ue.err, strings.TrimSpace("mewsref help "+ue.cmd))
		return 2
	}
	fmt.Fprintln(w, "mewsref:", err)
	return 1
}

// dispatch runs the command line args (without the program name).
func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return (&cli{ctx: ctx, getenv: getenv, out: stdout, errOut: stderr}).dispatch(args)
}

func (c *cli) dispatch(args []string) error {
	c.commands = commands
	c.warnUnknownEnv()
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && isHelpFlag(args[0]) {
			return c.topHelp()
		}
		return c.runCommand(cmdServe, args)
	}
	cmd, rest := c.findCommand(args)
	if cmd == nil {
		if group := c.commandsUnder(args[0]); len(group) > 0 {
			if len(args) == 2 && isHelpFlag(args[1]) {
				return c.groupHelp(args[0], group)
			}
			return usagef("", "%q needs one of: %s", args[0], strings.Join(group, ", "))
		}
		return usagef("", "unknown command %q", args[0])
	}
	return c.runCommand(cmd, rest)
}

func isHelpFlag(s string) bool {
	return s == "-h" || s == "--help" || s == "-help" || s == "--h"
}

// findCommand returns the command that args start with (two words before
// one) and the arguments after its name.
func (c *cli) findCommand(args []string) (*command, []string) {
	if len(args) >= 2 {
		if cmd := c.lookup(args[0] + " " + args[1]); cmd != nil {
			return cmd, args[2:]
		}
	}
	if cmd := c.lookup(args[0]); cmd != nil {
		return cmd, args[1:]
	}
	return nil, nil
}

func (c *cli) lookup(name string) *command {
	for _, cmd := range c.commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

// commandsUnder lists the two-word commands whose first word is word.
func (c *cli) commandsUnder(word string) []string {
	var names []string
	for _, cmd := range c.commands {
		if first, _, ok := strings.Cut(cmd.name, " "); ok && first == word {
			names = append(names, "mewsref "+cmd.name)
		}
	}
	return names
}

// flagSet builds cmd's flag set, without parsing, and returns the function
// that runs it.
func (c *cli) flagSet(cmd *command) (*flag.FlagSet, func([]string) error) {
	fs := flag.NewFlagSet("mewsref "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.conn {
		c.connFlags(fs)
	}
	return fs, cmd.setup(c, fs)
}

// runCommand parses cmd's flags (defaults from the environment first) and
// runs it.
func (c *cli) runCommand(cmd *command, args []string) error {
	fs, run := c.flagSet(cmd)
	if err := applyEnv(fs, c.getenv, func(name string) bool { return cmd.env || connFlags[name] }); err != nil {
		return &usageError{cmd: cmd.name, err: err}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c.commandHelp(cmd, c.out)
		}
		return &usageError{cmd: cmd.name, err: err}
	}
	if !cmd.positional && fs.NArg() > 0 {
		return usagef(cmd.name, "unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return run(fs.Args())
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "MEWSREF_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets the flags selected by envBacked from their variables, so
// that a flag given on the command line (parsed after) wins. A bad value is
// named by its variable.
func applyEnv(fs *flag.FlagSet, getenv func(string) string, envBacked func(string) bool) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || !envBacked(f.Name) {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("environment variable %s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

// connFlags are the flags of commands with conn that take their default
// from the environment.
var connFlags = map[string]bool{"url": true, "client-token": true, "access-token": true, "admin-token": true}

func (c *cli) connFlags(fs *flag.FlagSet) {
	demo := demoCredentials()
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the server's `URL`")
	fs.StringVar(&c.clientToken, "client-token", demo.ClientToken, "the integration's ClientToken (the default is the first demo integration's)")
	fs.StringVar(&c.accessToken, "access-token", demo.AccessToken, "the AccessToken of an enterprise (the default is the demo integration's gross-pricing enterprise)")
	fs.StringVar(&c.adminToken, "admin-token", "", "the admin token the server was started with (-admin-token), for the admin commands")
	fs.BoolVar(&c.json, "json", false, "print JSON, for scripts, instead of a table")
}

// knownEnv maps every MEWSREF_* variable to what reads it.
func (c *cli) knownEnv() map[string][]string {
	env := map[string][]string{}
	for _, cmd := range c.commands {
		fs, _ := (&cli{getenv: func(string) string { return "" }}).flagSet(cmd)
		fs.VisitAll(func(f *flag.Flag) {
			if cmd.env || (cmd.conn && connFlags[f.Name]) {
				who := "the client commands' --" + f.Name
				if cmd.env {
					who = "mewsref " + cmd.name + " -" + f.Name
				}
				if n := envName(f.Name); !slices.Contains(env[n], who) {
					env[n] = append(env[n], who)
				}
			}
		})
	}
	for name, what := range otherEnv {
		env[name] = append(env[name], what)
	}
	return env
}

// unknownEnv returns a warning for each MEWSREF_* variable of environ that
// nothing reads (a typo is otherwise ignored silently).
func (c *cli) unknownEnv(environ []string) []string {
	known := c.knownEnv()
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "MEWSREF_") || known[name] != nil {
			continue
		}
		w := fmt.Sprintf("unknown environment variable %s is ignored", name)
		squash := func(s string) string { return strings.ReplaceAll(s, "_", "") }
		for k := range known {
			if squash(k) == squash(name) {
				w += fmt.Sprintf(" (did you mean %s?)", k)
				break
			}
		}
		warnings = append(warnings, w)
	}
	sort.Strings(warnings)
	return warnings
}

func (c *cli) warnUnknownEnv() {
	for _, w := range c.unknownEnv(c.environ) {
		fmt.Fprintln(c.errOut, "mewsref: warning:", w)
	}
}

// topHelp is `mewsref help`: the commands, the server's flags and every
// environment variable.
func (c *cli) topHelp() error {
	w := c.out
	fmt.Fprint(w, `mewsref is a local reference server for the Mews Connector API messaging
operations, and a command line that calls it.

Usage:
  mewsref [serve] [flags]       run the server
  mewsref <command> [flags]     call a running server

Commands:
`)
	width := 0
	for _, cmd := range c.commands {
		width = max(width, len(cmd.name))
	}
	for _, cmd := range c.commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, cmd.name, cmd.summary)
	}
	fmt.Fprint(w, "\nServer flags (mewsref [serve] ...):\n")
	fs, _ := c.flagSet(cmdServe)
	printFlags(w, fs, "-", func(string) bool { return true })
	fmt.Fprint(w, "\nEnvironment variables (a flag given on the command line wins):\n")
	env := c.knownEnv()
	names := make([]string, 0, len(env))
	width = 0
	for n := range env {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, strings.Join(env[n], "; "))
	}
	_, err := fmt.Fprint(w, "\nRun 'mewsref help <command>' for a command's flags and an example.\n")
	return err
}

// commandHelp is `mewsref help <command>` and `mewsref <command> -h`.
func (c *cli) commandHelp(cmd *command, w io.Writer) error {
	fmt.Fprintf(w, "Usage: mewsref %s %s\n\n%s.\n", cmd.name, cmd.args, upperFirst(cmd.summary))
	fs, _ := c.flagSet(cmd)
	dash := "--"
	if cmd.env {
		dash = "-"
	}
	own := func(name string) bool { return !cmd.conn || !connFlags[name] && name != "json" }
	if hasFlags(fs, own) {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, fs, dash, own)
	}
	if cmd.conn {
		fmt.Fprint(w, "\nConnection and output flags:\n")
		printFlags(w, fs, dash, func(name string) bool { return !own(name) })
	}
	if cmd.details != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(cmd.details))
	}
	if group := c.commandsUnder(cmd.name); len(group) > 0 {
		fmt.Fprintf(w, "\nSee also:\n  %s\n", strings.Join(group, "\n  "))
	}
	if cmd.example != "" {
		fmt.Fprint(w, "\nExample:\n")
		for line := range strings.SplitSeq(strings.TrimSpace(cmd.example), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	return nil
}

// groupHelp is the help of the first word of two-word commands
// (`mewsref help thread`).
func (c *cli) groupHelp(word string, group []string) error {
	_, err := fmt.Fprintf(c.out, "Commands under %q:\n  %s\n\nRun 'mewsref help %s <command>' for a command's flags and an example.\n",
		word, strings.Join(group, "\n  "), word)
	return err
}

func hasFlags(fs *flag.FlagSet, which func(string) bool) bool {
	found := false
	fs.VisitAll(func(f *flag.Flag) { found = found || which(f.Name) })
	return found
}

// printFlags writes the flags selected by which, with their environment
// variable when they have one.
func printFlags(w io.Writer, fs *flag.FlagSet, dash string, which func(string) bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if !which(f.Name) {
			return
		}
		arg, usage := flag.UnquoteUsage(f)
		head := dash + f.Name
		if arg != "" {
			head += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  %s\n    \t%s\n", head, usage)
	})
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var cmdHelp = &command{
	name:       "help",
	summary:    "print the help of mewsref or of one command",
	args:       "[command]",
	example:    "mewsref help threads",
	positional: true,
	setup: func(c *cli, _ *flag.FlagSet) func([]string) error {
		return func(args []string) error {
			if len(args) == 0 {
				return c.topHelp()
			}
			cmd, rest := c.findCommand(args)
			if cmd == nil || len(rest) > 0 {
				if group := c.commandsUnder(args[0]); len(group) > 0 && len(args) == 1 {
					return c.groupHelp(args[0], group)
				}
				return usagef("help", "unknown command %q", strings.Join(args, " "))
			}
			return c.commandHelp(cmd, c.out)
		}
	},
}

var cmdVersion = &command{
	name:    "version",
	summary: "print the module version and VCS revision this binary was built from",
	args:    "",
	example: "mewsref version",
	setup: func(c *cli, _ *flag.FlagSet) func([]string) error {
		return func([]string) error {
			_, err := fmt.Fprintln(c.out, versionLine(debug.ReadBuildInfo()))
			return err
		}
	},
}

// versionLine describes a build: the module version (v1.2.3 for go install
// ...@v1.2.3, a pseudo-version of the commit for a build in a checkout,
// "(devel)" when no revision was recorded), the VCS revision, its
// time and whether the tree was modified, and the Go version.
func versionLine(bi *debug.BuildInfo, ok bool) string {
	if !ok {
		return "mewsref: no build information in this binary"
	}
	s := "mewsref " + bi.Main.Version
	settings := map[string]string{}
	for _, kv := range bi.Settings {
		settings[kv.Key] = kv.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		s += " revision " + rev
		if t := settings["vcs.time"]; t != "" {
			s += " (" + t + ")"
		}
		if settings["vcs.modified"] == "true" {
			s += " with local modifications"
		}
	} else {
		s += " (no VCS revision recorded)"
	}
	return s + ", " + bi.GoVersion
}
